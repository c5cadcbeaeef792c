"""The paper beside the measurement: Peters et al. (2018)'s figures, and report sections that set a sweep's
configurations out as the paper's Tables 1, 2 and 3 with the paper's numbers beside them.

The figures are data (``elmo_lab/resources/paper/peters2018.json``: each value with its table, row, column, metric,
split and units), read by ``load_paper``.  Which row of the paper a run matches is the task's to say: it writes it
into ``results.json`` (``paper``, from ``Task.paper_row``; ``paper_task`` reads it), with the units of its metrics
(``metric_units``).  ``paper_section`` renders:

* "As in the paper's Table 2" when one task's configurations differ by the mix (last layer only, all layers with
  λ = 1 or 0.001) beside their ``none`` baseline, as ``experiment=table2`` runs them;
* "As in the paper's Table 3" when they differ by the placement (input, input+output, output), as
  ``experiment=table3`` (or a plain placement sweep) runs them;
* "The paper's Table 1 row" beside either, for the tasks that have one: the baseline and the best configuration
  with ELMo.

Measured values are shown in points (the paper's units): most metrics are fractions in ``results.json``, those of a task
that declares ``metric_units: points`` (SQuAD's EM/F1) are already points.  Light: no torch import.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Mapping, Sequence

from elmo_lab.report.format import markdown_table
from elmo_lab.report.model import COLUMN_NAMES, Report
from elmo_lab.report.runs import Config

PAPER_FILE = ("resources", "paper", "peters2018.json")  # inside the elmo_lab package
# Δ and its 95 % confidence interval in the metric's own units, or None (no baseline, no values)
DeltaCI = Callable[["Config"], "tuple[float, tuple[float, float] | None] | None"]


@dataclass(frozen=True)
class PaperValue:
    """One figure of the paper, e.g. Table 2, row SQuAD, column "all layers λ=0.001": F1 85.2 points on dev."""

    table: int
    row: str
    column: str
    metric: str
    split: str
    value: float
    units: str
    std: float | None = None  # over the paper's seeds, where it gives one
    dataset: str | None = None  # where it is not the row's task data (Table 6: PTB POS tags)
    note: str | None = None

    @property
    def decimals(self) -> int:
        return max(_decimals(self.value), _decimals(self.std) if self.std is not None else 0)

    def text(self) -> str:
        """As the paper prints it: ``85.2``, ``92.22 ± 0.10``."""
        d = self.decimals
        return f"{self.value:.{d}f}" + ("" if self.std is None else f" ± {self.std:.{d}f}")


def _decimals(x: float) -> int:
    text = repr(float(x))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0  # 85.0: 1, 90.15: 2


@dataclass(frozen=True)
class Paper:
    """Every figure of ``peters2018.json``, with the paper's identity (``source``) and what each table holds."""

    source: dict[str, str]
    tables: dict[str, str]
    values: tuple[PaperValue, ...]

    def get(self, table: int, row: str, column: str) -> PaperValue | None:
        return next((v for v in self.values if (v.table, v.row, v.column) == (table, row, column)), None)

    def row(self, table: int, row: str) -> dict[str, PaperValue]:
        """``{column: value}`` of one row of one table, in the file's order."""
        return {v.column: v for v in self.values if (v.table, v.row) == (table, row)}


@functools.lru_cache(maxsize=1)
def load_paper() -> Paper:
    """The paper's figures from the package data (read once)."""
    data = _paper_data()
    values = tuple(PaperValue(**entry) for entry in data["entries"])
    return Paper(data["source"], data["tables"], values)


@dataclass(frozen=True)
class PaperTask:
    """Where a task of this project is in the paper: the row name and its metric (and, for probes, the column)."""

    row: str  # "SQuAD", "SNLI", "CoNLL-2003 NER", "SST-5"; "biLM" for the Table 6 probe
    metric: str  # the paper's metric name, as this project names it ("f1", "acc")
    column: str | None = None  # Table 6: "layer 1" / "layer 2"


def _paper_data() -> dict:
    path = resources.files("elmo_lab")
    for part in PAPER_FILE:  # one name per joinpath: Python 3.10's Traversable takes no more
        path = path / part
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _rows_before_declared() -> tuple[dict, ...]:
    return tuple(_paper_data()["rows_before_tasks_declared_them"]["rows"])


def legacy_paper_task(task: str, settings: Mapping[str, Any] | None = None) -> tuple[PaperTask | None, str]:
    """``(paper row, metric units)`` of a run written before its task declared them: looked up by the task name in
    the package data (``rows_before_tasks_declared_them``)."""
    settings = settings or {}
    for entry in _rows_before_declared():
        if entry["task"] == task and all(settings.get(k, v) == v for k, v in entry.get("if", {}).items()):
            layer = settings.get(entry["column_from"]) if "column_from" in entry else None
            return (PaperTask(entry["row"], entry["metric"], None if layer is None else f"layer {layer}"),
                    entry.get("units", "fraction"))
    return None, "fraction"


def paper_task(config: Config) -> PaperTask | None:
    """The paper's row for a configuration: what its task declared in ``results.json`` (``paper``: row, metric,
    column; ``Task.paper_row``), or, for runs written before tasks declared it, ``legacy_paper_task``."""
    data = config.runs[0].data if config.runs else {}
    if "paper" not in data:
        return legacy_paper_task(config.task, config.settings)[0]
    declared = data["paper"]
    return None if declared is None else PaperTask(declared["row"], declared["metric"], declared.get("column"))


def metric_units(config: Config) -> str:
    """``points`` when the configuration's metrics are already 0-100 (``Task.metric_units``), else ``fraction``."""
    data = config.runs[0].data if config.runs else {}
    return data["metric_units"] if "metric_units" in data else legacy_paper_task(config.task, config.settings)[1]


def points(units: str, value: float) -> float:
    """A metric value in points (0-100): fractions are scaled, values already in points are kept."""
    return value if units == "points" else 100.0 * value


# ----------------------------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class TableSpec:
    """How a paper table's columns are recognised among configurations with ELMo."""

    number: int
    title: str  # what the table compares
    vary: tuple[str, ...]  # the settings that differ between its columns
    shown: tuple[str, ...]  # the fixed settings named in each row's label
    columns: tuple[tuple[str, Callable[[Mapping[str, Any]], bool]], ...]  # (paper column, test of the settings)


def _mix(s: Mapping[str, Any]) -> str:
    return str(s.get("elmo.mix", "all"))


def _lambda_is(s: Mapping[str, Any], value: float) -> bool:
    try:
        return math.isclose(float(s.get("elmo.l2_coef", 0.001)), value)
    except (TypeError, ValueError):
        return False


TABLE2 = TableSpec(2, "Which biLM layers ELMo mixes", ("elmo.mix", "elmo.l2_coef"), ("elmo.placement",), (
    ("last layer only", lambda s: _mix(s) == "top"),
    ("all layers λ=1", lambda s: _mix(s) == "all" and _lambda_is(s, 1.0)),
    ("all layers λ=0.001", lambda s: _mix(s) == "all" and _lambda_is(s, 0.001))))
TABLE3 = TableSpec(3, "Where the task model reads ELMo", ("elmo.placement",), ("elmo.mix", "elmo.l2_coef"), (
    ("input only", lambda s: s.get("elmo.placement") == "input"),
    ("input+output", lambda s: s.get("elmo.placement") == "both"),
    ("output only", lambda s: s.get("elmo.placement") == "output")))


@dataclass
class Layout:
    """One row of a paper table as measured: a task's baseline and the configurations in the paper's columns."""

    task: str
    baseline: Config
    columns: dict[str, Config]  # paper column → configuration (a column may be missing)
    fixed: dict[str, Any]  # the settings its columns share (all but the table's varying ones)

    def label(self, keys: Sequence[str]) -> str:
        parts = [f"{COLUMN_NAMES.get(k, k)}={_value(self.fixed.get(k))}" for k in keys if k in self.fixed]
        return self.task + (f" ({', '.join(parts)})" if parts else "")


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def find_layouts(report: Report, spec: TableSpec) -> list[Layout]:
    """The rows of ``spec``'s table in ``report``: configurations with ELMo and a baseline, grouped by everything
    but ``spec.vary``; a group counts when it fills two or more of the table's columns."""
    groups: dict[str, Layout] = {}
    for c in report.configs:
        if c.is_baseline or c.baseline is None:
            continue
        column = next((name for name, test in spec.columns if test(c.settings)), None)
        if column is None:
            continue
        fixed = {k: v for k, v in c.settings.items() if k not in spec.vary}
        key = json.dumps([c.task, id(c.baseline), sorted(fixed.items())], default=str)
        layout = groups.setdefault(key, Layout(c.task, c.baseline, {}, fixed))
        layout.columns.setdefault(column, c)  # the first in the report's order (the smaller λ for "top")
    return [g for g in groups.values() if len(g.columns) >= 2]


def _label_keys(layouts: list[Layout], spec: TableSpec) -> list[str]:
    """The settings named in row labels: the table's fixed ones, and any other that differs between the rows of
    one task (two biLMs, two learning rates)."""
    keys = sorted(set().union(*(g.fixed for g in layouts)) - set(spec.shown))

    def varies(key: str, task: str) -> bool:
        return len({json.dumps(g.fixed.get(key), default=str) for g in layouts if g.task == task}) > 1

    return list(spec.shown) + [k for k in keys if any(varies(k, g.task) for g in layouts)]


# ----------------------------------------------------------------------------------------------- rendering
def _split_name(metric: str) -> tuple[str, str]:
    split, _, name = metric.rpartition("/")
    return {"val": "dev"}.get(split, split), name


def _measured(config: Config | None, metric: str) -> str:
    if config is None:
        return "—"
    mean, std, _ = config.mean_std(metric)
    if mean is None:
        return "—"
    units = metric_units(config)
    return f"{points(units, mean):.1f} ± " + ("—" if std is None else f"{points(units, std):.1f}")


def _delta(config: Config | None, delta_ci: DeltaCI) -> str:
    found = delta_ci(config) if config is not None else None
    if found is None:
        return "—"
    delta, ci = found
    units = metric_units(config)
    interval = "—" if ci is None else f"{points(units, ci[0]):+.2f}, {points(units, ci[1]):+.2f}"
    return f"{points(units, delta):+.2f} [{interval}]"


def _paper_delta(value: PaperValue | None, base: PaperValue | None) -> str:
    if value is None or base is None:
        return "—"
    return f"{value.value - base.value:+.{max(_decimals(value.value), _decimals(base.value))}f}"


def _paper_value(paper: Paper, table: int, row: PaperTask | None, column: str, metric: str) -> PaperValue | None:
    """The paper's figure for this cell, if the task has a row there and the report's metric is the paper's."""
    if row is None or _split_name(metric)[1] != row.metric:
        return None
    return paper.get(table, row.row, column)


def table_section(report: Report, spec: TableSpec, delta_ci: DeltaCI) -> str | None:
    """"As in the paper's Table N" for ``spec``, or None when the report has no such layout."""
    layouts = find_layouts(report, spec)
    if not layouts:
        return None
    paper = load_paper()
    keys = _label_keys(layouts, spec)
    columns = [name for name, _ in spec.columns]
    rows = []
    for layout in layouts:
        metric = report.task_metric[layout.task]
        row = paper_task(layout.baseline)
        base = _paper_value(paper, 2, row, "baseline", metric)  # Table 3 has no baseline column: Table 2's
        values = [_paper_value(paper, spec.number, row, c, metric) for c in columns]
        cell = [f"{_measured(layout.baseline, metric)} (paper: {base.text() if base else '—'})"]
        cell += [f"{_measured(layout.columns.get(c), metric)} (paper: {v.text() if v else '—'})"
                 for c, v in zip(columns, values)]
        paper_row = row.row if base is not None or any(values) else "—"
        rows.append([layout.label(keys), paper_row, f"`{metric}`"] + cell)
        rows.append([f"{layout.label(keys)}: Δ vs baseline", "", "", "—"]
                    + [f"{_delta(layout.columns.get(c), delta_ci)} (paper: {_paper_delta(v, base)})"
                       for c, v in zip(columns, values)])
    header = ["task", "paper row", "measured", "baseline"] + columns
    splits = sorted({_split_name(report.task_metric[g.task])[0] for g in layouts})
    baseline_note = ("its Table 2 baseline, as Table 3 has none" if spec.number != 2 else "its baseline column")
    note = (f"{spec.title}: the report's configurations in the columns of Peters et al. (2018) Table "
            f"{spec.number}. Measured: mean ± std over seeds of the report's metric ({', '.join(splits)} split), "
            f"in points. The paper: its dev-set figures; for the baseline and its Δ, {baseline_note}. Δ: the "
            "measured difference to the baseline [95 % confidence interval, Welch's t-test; \"—\" with too few "
            "seeds] beside the paper's value minus the paper's baseline. \"—\" for the paper: the task (or its "
            "metric) has no row in the paper's table; \"—\" measured: no such configuration in the report.")
    return f"## As in the paper's Table {spec.number}\n\n{note}\n\n{markdown_table(header, rows)}"


def table1_section(report: Report, tasks: Sequence[str], delta_ci: DeltaCI) -> str | None:
    """"The paper's Table 1 row": for each of ``tasks`` that has one, the baseline and the best configuration with
    ELMo (highest dev mean, the report's metric on dev when the runs have it) beside the paper's baseline and
    +ELMo (test)."""
    paper = load_paper()
    rows = []
    for base in [c for c in report.configs if c.is_baseline and c.task in tasks]:
        row = paper_task(base)
        metric = report.task_metric[base.task]
        if row is None or paper.get(1, row.row, "baseline") is None or _split_name(metric)[1] != row.metric:
            continue
        rivals = [c for c in report.configs if c.baseline is base and not c.is_baseline]
        dev = f"val/{_split_name(metric)[1]}"
        pick = dev if any(c.mean_std(dev)[0] is not None for c in rivals) else metric
        scored = [c for c in rivals if c.mean_std(pick)[0] is not None]
        if not scored:
            continue
        best = max(scored, key=lambda c: c.mean_std(pick)[0])
        p_base, p_elmo = paper.get(1, row.row, "baseline"), paper.get(1, row.row, "+ELMo")
        how = ", ".join(f"{COLUMN_NAMES.get(k, k)}={_value(best.settings[k])}"
                        for k in ("elmo.placement", "elmo.mix", "elmo.l2_coef") if k in best.settings)
        rows.append([base.task, row.row, f"`{metric}`", _measured(base, metric),
                     f"{_measured(best, metric)} ({how})", _delta(best, delta_ci),
                     p_base.text(), p_elmo.text() if p_elmo else "—", _paper_delta(p_elmo, p_base)])
    if not rows:
        return None
    header = ["task", "paper row", "measured", "baseline", "best with ELMo", "Δ [95 % CI]", "paper: baseline",
              "paper: +ELMo", "paper: Δ"]
    note = ("The task's `none` baseline and its configuration with ELMo of the highest dev mean, in points, beside "
            "Peters et al. (2018) Table 1 (test set; the paper's task models, ± std over its seeds).")
    return f"## The paper's Table 1 row\n\n{note}\n\n{markdown_table(header, rows)}"


def paper_section(report: Report, delta_ci: DeltaCI) -> str | None:
    """Markdown: the report laid out as the paper's Table 2 and/or Table 3 (with its Table 1 row for tasks that
    have one), the paper's figures beside the measured ones; None when the report holds neither layout.
    ``delta_ci(config)``: the configuration's Δ to its baseline and its 95 % CI, in the metric's units, or None."""
    sections = [s for s in (table_section(report, TABLE2, delta_ci), table_section(report, TABLE3, delta_ci))
                if s is not None]
    if not sections:
        return None
    tasks = list(dict.fromkeys(g.task for spec in (TABLE2, TABLE3) for g in find_layouts(report, spec)))
    table1 = table1_section(report, tasks, delta_ci)
    return "\n\n".join(sections + ([table1] if table1 else []))


def welch_delta_ci(report: Report) -> DeltaCI:
    """A ``delta_ci`` for ``paper_section``: Welch's t-test of each configuration against its baseline on the
    report's metric for its task (``elmo_lab.report.stats.welch``)."""
    from elmo_lab.report.stats import welch

    def delta_ci(config: Config) -> tuple[float, tuple[float, float] | None] | None:
        metric = report.task_metric[config.task]
        if config.baseline is None or not len(config.values(metric)) or not len(config.baseline.values(metric)):
            return None
        w = welch(config.baseline.values(metric), config.values(metric))
        return w.diff, w.ci

    return delta_ci
