"""``python -m elmo_lab report SWEEP_DIR [SWEEP_DIR ...]``: one table comparing every configuration of one or more
sweeps, the verdict of each against the ``none`` (no ELMo) baseline, plus plots, as ``report.md``, ``report.csv``
and PNGs.

Each configuration (see ``elmo_lab.report.runs``) is one row: the settings that vary within a task (and the usual
ELMo settings — biLM, placement, mix, layer, λ, layer norm, fine-tuning — wherever they vary), the number of
seeds, mean ± sample standard deviation of every val and test metric, and the difference Δ of the chosen metric to
the ``none`` configuration of the same task, task settings and data sizes, ± the standard error of the difference.
Whether a difference holds is decided in the comparisons section (``elmo_lab.report.compare``: Welch's t with
Holm's adjustment over seeds, a paired bootstrap over test examples, seeds needed, a verdict in words).  Further
sections appear where the sweep has their data: learning curves and epochs to the baseline's best dev score
(``elmo_lab.report.curves``), probing selectivity (``elmo_lab.report.selectivity``) and the paper's own tables
(``elmo_lab.report.paper``).  Runs that are incomplete, unreadable, mismatched or duplicated are listed in a
section of their own instead of being averaged in; runs that ended at chance level are flagged.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from elmo_lab.report.compare import Comparison, compare, comparison_section
from elmo_lab.report.runs import (ELMO_PREFIXES, MISSING, RESULTS_FILE, Config, Difference, Issue, ReportError,
                                  Run, difference, elmo_only, find_runs, group_runs, read_run)

PLACEMENT_ORDER = ("none", "input", "output", "both")
MIX_ORDER = ("all", "top", "average", "layer")
# Display names of the usual settings, in column order; any other varying key is shown under its dotted name.
COLUMN_NAMES = {"bilm.spec": "biLM", "elmo.placement": "placement", "elmo.mix": "mix", "elmo.layer": "layer",
                "elmo.l2_coef": "λ", "elmo.layer_norm": "layer norm", "bilm.finetune.enabled": "fine-tuned"}
LEGEND = ("Mean ± sample standard deviation (ddof=1) over seeds; the standard deviation is \"—\" when n = 1. "
          "Δ: difference of the mean to the `none` baseline of the same task, task settings and data sizes "
          "(whatever its biLM), ± the standard error of the difference sqrt(s1²/n1 + s2²/n2) (\"—\" unless both "
          "sides have two or more seeds); whether it holds is in the comparisons below. Δ \"—\": no such "
          "baseline. n: seeds, with those that ended at chance level (majority-class accuracy) counted in brackets.")


@dataclass
class Report:
    """What the report shows: configurations (sorted), left-out runs, metrics and the settings displayed."""

    configs: list[Config]
    issues: list[Issue]
    metrics: list[str]  # every metric of any run, val before test per name
    task_metric: dict[str, str]  # the metric plotted and compared with the baseline, per task
    columns: list[str]  # settings that vary within a task, in display order
    sources: list[str]
    comparisons: list[Comparison] = field(default_factory=list)  # every configuration with a baseline

    def difference(self, config: Config) -> Difference | None:
        return difference(config, config.baseline, self.task_metric[config.task])

    def label(self, config: Config) -> str:
        """``config_label`` for this report: the names rows, legends and plots use."""
        return config_label(self, config)

    @property
    def delta_metrics(self) -> list[str]:
        """The metrics with a Δ column: those of tasks where some configuration has a baseline."""
        return list(dict.fromkeys(self.task_metric[c.task] for c in self.configs
                                  if c.baseline is not None and not c.is_baseline))

    @property
    def n_runs(self) -> int:
        return sum(len(c.runs) for c in self.configs)


# --------------------------------------------------------------------------------------------------- analysis


def _metric_order(name: str) -> tuple:
    split, _, rest = name.rpartition("/")
    return (rest, {"val": 0, "test": 1}.get(split, 2), split)


def _most_common(values: list[Any]) -> str | None:
    found = Counter(str(v) for v in values if v).most_common(1)
    return found[0][0] if found else None


def choose_metric(runs: list[Run], requested: str | None) -> str:
    """``requested``; else the test side of the runs' objective (``objective``, ``task.objective`` or
    ``optimized_metric``: ``val/f1`` → ``test/f1``), or the objective itself; else ``test/acc``; else the first
    test metric, else the first metric."""
    if requested:
        return requested
    present = sorted({m for r in runs for m, v in r.metrics.items() if v is not None})
    objective = (_most_common([r.data.get("objective") for r in runs])
                 or _most_common([(r.data["config"].get("task") or {}).get("objective") for r in runs
                                  if isinstance(r.data["config"].get("task"), dict)])
                 or _most_common([r.data["config"].get("optimized_metric") for r in runs]))
    candidates = [f"test/{objective.rpartition('/')[2]}", objective] if objective else []
    candidates += ["test/acc"] + [m for m in present if m.startswith("test/")] + present
    return next((c for c in candidates if c in present), "test/acc")


def _task_side(config: Config) -> str:
    return json.dumps([config.task, sorted((k, v) for k, v in config.settings.items()
                                           if not k.startswith(ELMO_PREFIXES))], default=str)


def link_baselines(configs: list[Config]) -> None:
    """Give each configuration with ELMo the ``none`` configuration of the same task, task settings and data
    sizes (there is at most one: ``none`` runs do not differ by ELMo or biLM settings)."""
    baselines = {}
    for b in configs:
        if b.is_baseline:
            baselines[(_task_side(b), json.dumps(b.runs[0].data_sizes, sort_keys=True))] = b
    for c in configs:
        if not c.is_baseline:
            c.baseline = baselines.get((_task_side(c), json.dumps(c.runs[0].data_sizes, sort_keys=True)))


def _varies(configs: list[Config], key: str) -> bool:
    values = {json.dumps(c.settings.get(key, "\0missing"), default=str) for c in configs
              if not (c.is_baseline and elmo_only(key))}
    return len(values) > 1


def varying_columns(configs: list[Config]) -> list[str]:
    """Settings with two or more values among the configurations of one task, and the usual ELMo settings
    (``COLUMN_NAMES``) that vary across tasks; ELMo settings of ``none`` runs, meaningless there, do not count."""
    varying = {k for k in COLUMN_NAMES if _varies(configs, k)}
    for task in dict.fromkeys(c.task for c in configs):
        group = [c for c in configs if c.task == task]
        varying |= {k for k in set().union(*(c.settings for c in group)) if _varies(group, k)}
    varying = _callbacks_on_off(configs, varying)
    known = [k for k in COLUMN_NAMES if k in varying]
    return known + sorted(varying - set(known))


def _callback_group(key: str) -> str | None:
    """``callbacks.early_stopping`` for ``callbacks.early_stopping.patience``; ``None`` for other keys."""
    parts = key.split(".")
    return ".".join(parts[:2]) if parts[0] == "callbacks" and len(parts) > 2 else None


def _callbacks_on_off(configs: list[Config], varying: set[str]) -> set[str]:
    """A callback some configurations use and others do not, with the same settings wherever it is used, is one
    column ``callbacks.<name>`` (on / off) instead of a column of dashes per setting."""
    for group in {g for g in map(_callback_group, varying) if g}:
        members = {k for k in varying if _callback_group(k) == group}
        users = [c for c in configs if any(_callback_group(k) == group for k in c.settings)]
        if not any(_varies(users, k) for k in members):
            varying = (varying - members) | {group}
    return varying


def _rank(key: str, value: Any) -> tuple:
    """Sort position of a setting's value: absent first, then the usual order of placements and mixes, numbers."""
    order = {"elmo.placement": PLACEMENT_ORDER, "elmo.mix": MIX_ORDER}.get(key, ())
    if value is MISSING or value is None:
        return (0, 0.0, "")
    if value in order:
        return (1, float(order.index(value)), "")
    if isinstance(value, (int, float)):
        return (1, float(value), "")
    return (2, 0.0, json.dumps(value, default=str))


def build_report(paths: Sequence[str | os.PathLike], metric: str | None = None, examples: bool = True,
                 aso: bool = False) -> Report:
    """Read every run under ``paths`` and group, summarise and compare them (``examples=False``: no bootstrap
    over test examples; ``aso=True``: ASO's ε_min too)."""
    files, issues = find_runs(paths)
    runs = []
    for path in files:
        try:
            runs.append(read_run(path))
        except ValueError as e:
            issues.append(Issue(str(path.parent), "unreadable", f"{RESULTS_FILE}: {e}"))
    where = ", ".join(str(p) for p in paths)
    if not runs:
        detail = f" ({len(issues)} incomplete or unreadable run(s))" if issues else ""
        raise ReportError(f"no readable {RESULTS_FILE} under {where}{detail}")
    present = {m for r in runs for m in r.metrics}
    if metric and metric not in present:
        raise ReportError(f"--metric {metric}: no run has it; metrics present: {', '.join(sorted(present))}")
    configs, left_out = group_runs(runs)
    tasks = dict.fromkeys(c.task for c in configs)
    task_metric = {t: choose_metric([r for c in configs if c.task == t for r in c.runs], metric) for t in tasks}
    link_baselines(configs)
    columns = varying_columns(configs)
    configs.sort(key=lambda c: (c.task, [_rank(k, c.settings.get(k, MISSING)) for k in columns],
                                json.dumps(sorted(c.settings.items()), default=str)))
    report = Report(configs, issues + left_out, sorted(present, key=_metric_order), task_metric, columns,
                    [str(p) for p in paths])
    report.comparisons = compare(configs, task_metric, examples=examples, aso=aso)
    return report


# ------------------------------------------------------------------------------------------------- rendering


def format_value(value: Any) -> str:
    if value is MISSING or value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(format_value(v) for v in value)
    return str(value)


def setting(config: Config, key: str) -> str:
    if config.is_baseline and elmo_only(key):
        return "—"
    if key.startswith("callbacks.") and key.count(".") == 1 and key not in config.settings:  # _callbacks_on_off
        return "on" if any(_callback_group(k) == key for k in config.settings) else "off"
    return format_value(config.settings.get(key, MISSING))


def config_label(report: Report, config: Config) -> str:
    """The configuration's varying settings that it has (task left out), e.g. ``placement=input λ=1``."""
    parts = [f"{COLUMN_NAMES.get(k, k)}={setting(config, k)}" for k in report.columns if setting(config, k) != "—"]
    return " ".join(parts) or config.task


def _mean_std_cell(config: Config, metric: str) -> str:
    mean, std, _ = config.mean_std(metric)
    if mean is None:
        return ""
    return f"{mean:.4f} ± " + ("—" if std is None else f"{std:.4f}")


def _delta_cell(report: Report, config: Config, metric: str) -> str:
    if report.task_metric[config.task] != metric:
        return ""
    if config.is_baseline:
        return "baseline"
    d = report.difference(config)
    if d is None:
        return "—"
    return f"{d.delta:+.4f} ± " + ("—" if d.se is None else f"{d.se:.4f}")


def at_chance(run) -> bool:
    """The run's compared metric ended at or below chance level (``results.json`` ``chance.at_chance``)."""
    chance = run.data.get("chance")
    return isinstance(chance, dict) and bool(chance.get("at_chance"))


def _n_cell(config: Config) -> str:
    low = sum(at_chance(r) for r in config.runs)
    return f"{len(config.runs)} ({low} at chance)" if low else str(len(config.runs))


def table(report: Report) -> tuple[list[str], list[list[str]]]:
    """The Markdown table's header and rows (strings)."""
    header = (["task"] + [COLUMN_NAMES.get(k, k) for k in report.columns] + ["n"] + report.metrics
              + [f"Δ {m} vs none" for m in report.delta_metrics])
    rows = [[c.task] + [setting(c, k) for k in report.columns] + [_n_cell(c)]
            + [_mean_std_cell(c, m) for m in report.metrics]
            + [_delta_cell(report, c, m) for m in report.delta_metrics] for c in report.configs]
    return header, rows


NUMERIC_COMPARISON = ("Δ vs none", "standard error of the difference", "Δ 95% CI low", "Δ 95% CI high", "Welch p",
                      "Holm p_adj", "seeds needed", "ASO eps_min", "bootstrap p", "bootstrap Δ 95% CI low",
                      "bootstrap Δ 95% CI high", "verdict")


def _numeric_comparison(report: Report, config: Config, metric: str) -> list[Any]:
    comp = next((x for x in report.comparisons if x.config is config and x.metric == metric), None)
    d = report.difference(config) if report.task_metric[config.task] == metric else None
    if comp is None or d is None:
        return [None] * len(NUMERIC_COMPARISON)
    w, bs = comp.welch, comp.bootstrap
    return [d.delta, d.se, *(w.ci or (None, None)), w.p, comp.p_adj, comp.seeds_needed, comp.aso,
            *((bs.p, *bs.ci) if bs else (None, None, None)), comp.verdict]


def numeric_table(report: Report) -> tuple[list[str], list[list[Any]]]:
    """The CSV's header and rows: numbers stay numbers, absent values are None."""
    header = (["task"] + [COLUMN_NAMES.get(k, k) for k in report.columns] + ["n", "seeds", "runs at chance"]
              + [f"{m} {s}" for m in report.metrics for s in ("mean", "std")]
              + [f"{m} {s}" for m in report.delta_metrics for s in NUMERIC_COMPARISON] + ["runs"])
    rows = []
    for c in report.configs:
        row: list[Any] = [c.task] + [setting(c, k) for k in report.columns]
        row += [len(c.runs), ";".join(str(r.seed) for r in c.runs), sum(at_chance(r) for r in c.runs)]
        row += [x for m in report.metrics for x in c.mean_std(m)[:2]]
        for m in report.delta_metrics:
            row += _numeric_comparison(report, c, m)
        rows.append(row + [";".join(r.path for r in c.runs)])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header))] + [line(r) for r in rows])


def issues_section(report: Report) -> str:
    """The runs left out for a problem, and apart from them the repeated runs (the same configuration and seed
    twice, e.g. the ``none`` baseline that ``experiment=table2`` and ``table3`` share): expected, counted once."""
    problems = [i for i in report.issues if i.kind != "duplicate"]
    repeated = sorted((i for i in report.issues if i.kind == "duplicate"), key=lambda i: i.path)
    sections = []
    if problems or not repeated:
        title = f"## Incomplete, failed or mismatched runs ({len(problems)}, left out)"
        order = ["incomplete", "unreadable", "mismatched"]
        problems.sort(key=lambda i: (order.index(i.kind) if i.kind in order else 9, i.path))
        rows = [[f"`{i.path}`", i.kind, i.reason] for i in problems]
        sections.append(title + "\n\n" + (markdown_table(["run", "problem", "reason"], rows) if rows else "None."))
    if repeated:
        sections.append(f"## Repeated runs ({len(repeated)}, counted once)\n\n"
                        + markdown_table(["run", "same as"], [[f"`{i.path}`", i.reason] for i in repeated]))
    return "\n\n".join(sections)


def summary(report: Report) -> str:
    metrics = sorted(set(report.task_metric.values()))
    chosen = (metrics[0] if len(metrics) == 1
              else ", ".join(f"{t}: {m}" for t, m in report.task_metric.items()))
    return (f"{report.n_runs} runs in {len(report.configs)} configurations from "
            f"{', '.join(f'`{s}`' for s in report.sources)}; plotted and compared with the baseline: {chosen}.")


def chance_section(report: Report) -> str | None:
    """The runs whose compared metric ended at chance level: kept in the statistics, but never unnoticed."""
    low = [(c, r) for c in report.configs for r in c.runs if at_chance(r)]
    if not low:
        return None
    rows = [[f"`{r.path}`", c.task, config_label(report, c), ", ".join(r.data["chance"]["at_chance"]),
             ", ".join(f"{k} {v:.4f}" for k, v in sorted(r.data["chance"].get("levels", {}).items()))]
            for c, r in low]
    return (f"## Runs at chance level ({len(low)}, kept in the statistics above)\n\n"
            + markdown_table(["run", "task", "configuration", "at chance", "chance levels"], rows)
            + "\n\nThese runs predict no better than always answering the training set's most frequent label: "
              "the recipe failed to train for that seed. Their scores are in the means; read the spread with "
              "that in mind.")


def without_examples_section(report: Report) -> str | None:
    from elmo_lab.report.compare import runs_without_examples

    missing = runs_without_examples(report.configs)
    if not missing:
        return None
    return (f"## Runs without per-example test statistics ({len(missing)})\n\n"
            + "\n".join(f"- `{p}`" for p in missing)
            + "\n\nThese runs (made before tasks wrote `test_examples.json`, or without a test) are in the seed "
              "statistics; comparisons that involve them have no bootstrap over test examples.")


def render_markdown(report: Report, plots: Sequence[Path]) -> str:
    figures = "\n\n".join(f"![{p.stem}]({p.name})" for p in plots) or "No plots."
    sections = ["# ELMo comparison", summary(report), markdown_table(*table(report)), LEGEND,
                comparison_section(report, report.comparisons, report.label), *extra_sections(report),
                "## Plots", figures, chance_section(report), without_examples_section(report),
                issues_section(report)]
    return "\n\n".join(s for s in sections if s) + "\n"


def extra_sections(report: Report) -> list[str]:
    """The sections that appear where a sweep has their data: learning curves, epochs to the baseline, probing
    selectivity, the paper's tables."""
    from elmo_lab.report.curves import curve_sections
    from elmo_lab.report.paper import paper_section
    from elmo_lab.report.selectivity import selectivity_section

    label = report.label
    by_config = {id(c.config): c for c in report.comparisons}

    def delta_ci(config: Config):
        comp = by_config.get(id(config))
        return None if comp is None else (comp.welch.diff, comp.welch.ci)

    found = [*curve_sections(report, label), selectivity_section(report, label), paper_section(report, delta_ci)]
    return [s for s in found if s]
