"""The report's model: what ``python -m elmo_lab report`` shows, before any of it is written down.

``build_report`` reads every run of one or more sweeps (``elmo_lab.report.runs``), groups them into configurations,
chooses the metric each task is compared on, links each configuration with ELMo to its ``none`` baseline (same
task, task settings and data sizes), sorts the configurations by the settings that vary, and compares each with its
baseline (``elmo_lab.report.compare``).  The sections (``elmo_lab.report.sections`` and the analyses' own) and the
renderer (``elmo_lab.report.render``) read a ``Report``; nothing here formats a table.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Collection, Sequence

from elmo_lab.report.compare import Comparison, compare
from elmo_lab.report.format import MISSING, format_value
from elmo_lab.report.runs import (ELMO_PREFIXES, RESULTS_FILE, Config, Difference, Issue, ReportError, Run,
                                  difference, elmo_only, find_runs, group_runs, read_run)

PLACEMENT_ORDER = ("none", "input", "output", "both")
MIX_ORDER = ("all", "top", "average", "layer")
# Display names of the usual settings, in column order; any other varying key is shown under its dotted name.
COLUMN_NAMES = {"bilm.spec": "biLM", "elmo.placement": "placement", "elmo.mix": "mix", "elmo.layer": "layer",
                "elmo.l2_coef": "λ", "elmo.layer_norm": "layer norm", "bilm.finetune.enabled": "fine-tuned"}


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
    requested: list[str] = field(default_factory=list)  # metrics asked for (``--metric``), shown beside

    def difference(self, config: Config) -> Difference | None:
        return difference(config, config.baseline, self.task_metric[config.task])

    def comparison(self, config: Config) -> Comparison | None:
        return next((c for c in self.comparisons if c.config is config), None)

    def delta_ci(self, config: Config) -> tuple[float, tuple[float, float] | None] | None:
        """The configuration's Δ to its baseline and its 95 % CI (Welch), or None without a comparison."""
        comp = self.comparison(config)
        return None if comp is None else (comp.welch.diff, comp.welch.ci)

    def label(self, config: Config, without: Collection[str] = ()) -> str:
        """The configuration's varying settings that it has, but those ``without`` (task left out), e.g.
        ``placement=input λ=1``: the name rows, legends and plots use."""
        parts = [f"{COLUMN_NAMES.get(k, k)}={setting(config, k)}" for k in self.columns
                 if k not in without and setting(config, k) != "—"]
        return " ".join(parts) or config.task

    @property
    def shown_metrics(self) -> list[str]:
        """The metrics of the main table: each task's compared metric, then those asked for."""
        return list(dict.fromkeys([*self.task_metric.values(), *self.requested]))

    @property
    def delta_metrics(self) -> list[str]:
        """The metrics with a Δ column: those of tasks where some configuration has a baseline."""
        return list(dict.fromkeys(self.task_metric[c.task] for c in self.configs
                                  if c.baseline is not None and not c.is_baseline))

    @property
    def n_runs(self) -> int:
        return sum(len(c.runs) for c in self.configs)


def setting(config: Config, key: str) -> str:
    """The configuration's value of ``key`` as shown; "—" for ELMo settings of a ``none`` run."""
    if config.is_baseline and elmo_only(key):
        return "—"
    if key.startswith("callbacks.") and key.count(".") == 1 and key not in config.settings:  # _callbacks_on_off
        return "on" if any(_callback_group(k) == key for k in config.settings) else "off"
    return format_value(config.settings.get(key, MISSING))


def at_chance(run: Run) -> bool:
    """The run's compared metric ended at or below chance level (``results.json`` ``chance.at_chance``)."""
    chance = run.data.get("chance")
    return isinstance(chance, dict) and bool(chance.get("at_chance"))


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


def _elmo_or_bilm(key: str) -> bool:
    return key.startswith(ELMO_PREFIXES)


def link_baselines(configs: list[Config]) -> None:
    """Give each configuration with ELMo the ``none`` configuration of the same task, task settings and data
    sizes (there is at most one: ``none`` runs do not differ by ELMo or biLM settings)."""
    baselines = {}
    for b in configs:
        if b.is_baseline:
            baselines[(b.key_without(_elmo_or_bilm), json.dumps(b.runs[0].data_sizes, sort_keys=True))] = b
    for c in configs:
        if not c.is_baseline:
            sizes = json.dumps(c.runs[0].data_sizes, sort_keys=True)
            c.baseline = baselines.get((c.key_without(_elmo_or_bilm), sizes))


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


def build_report(paths: Sequence[str | os.PathLike], metric: str | Sequence[str] | None = None,
                 examples: bool = True, aso: bool = False) -> Report:
    """Read every run under ``paths`` and group, summarise and compare them.  ``metric``: the metric compared
    with the baseline, or several (the first is compared, all are shown in the main table); ``examples=False``:
    no bootstrap over test examples; ``aso=True``: ASO's ε_min too."""
    requested = [metric] if isinstance(metric, str) else list(metric or [])
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
    for name in requested:
        if name not in present:
            raise ReportError(f"--metric {name}: no run has it; metrics present: {', '.join(sorted(present))}")
    configs, left_out = group_runs(runs)
    tasks = dict.fromkeys(c.task for c in configs)
    compared = requested[0] if requested else None
    task_metric = {t: choose_metric([r for c in configs if c.task == t for r in c.runs], compared) for t in tasks}
    link_baselines(configs)
    columns = varying_columns(configs)
    configs.sort(key=lambda c: (c.task, [_rank(k, c.settings.get(k, MISSING)) for k in columns],
                                json.dumps(sorted(c.settings.items()), default=str)))
    report = Report(configs, issues + left_out, sorted(present, key=_metric_order), task_metric, columns,
                    [str(p) for p in paths], requested=requested)
    report.comparisons = compare(configs, task_metric, examples=examples, aso=aso)
    return report
