"""The report's own sections, each read from a ``Report`` (``elmo_lab.report.model``) and formatted with
``elmo_lab.report.format``: the summary, the main table (the compared metric and those asked for), the comparisons
with the baseline, every metric, runs at chance level, runs without per-example statistics, and left-out runs.

The analyses that appear only where a sweep has their data bring their own sections (``curves``, ``selectivity``,
``paper``); ``elmo_lab.report.render`` puts them all in order.
"""
from __future__ import annotations

from elmo_lab.report import stats
from elmo_lab.report.compare import ALPHA, BOOTSTRAP_SEED, RESAMPLES, Comparison, runs_without_examples
from elmo_lab.report.format import difference_text, interval_text, markdown_table, mean_std_text, p_text, signed_text
from elmo_lab.report.model import COLUMN_NAMES, Report, at_chance, setting
from elmo_lab.report.runs import Config

TABLE_LEGEND = (
    "Mean ± sample standard deviation (ddof=1) over seeds; the standard deviation is \"—\" when n = 1. "
    "Δ: difference of the mean to the `none` baseline of the same task, task settings and data sizes "
    "(whatever its biLM), ± the standard error of the difference sqrt(s1²/n1 + s2²/n2) (\"—\" unless both "
    "sides have two or more seeds); whether it holds is in the comparisons below. Δ \"—\": no such "
    "baseline. n: seeds, with those that ended at chance level (majority-class accuracy) counted in brackets. "
    "Every other metric: the section \"All metrics\" and `report.csv`.")
COMPARISON_LEGEND = (
    "Δ: mean of the configuration minus mean of its `none` baseline (same task, task settings and data sizes), "
    "with the 95 % confidence interval of Welch's t (unequal variances). Welch p: two-sided; p_adj: the "
    "Welch p-values of every comparison in this report adjusted together (Holm–Bonferroni), which the verdict "
    f"uses at α = {ALPHA}. Seeds needed: seeds per side for 80 % power to detect the observed Δ at the level "
    f"Holm's first step applies, α' = {ALPHA} / m for the m comparisons of this report (α' = {ALPHA} for one), "
    "n = (z₁₋α'/2 + z₀.₈)² (s₁² + s₂²) / Δ² (normal approximation). ASO ε_min (Dror et al. 2019, deepsig; "
    "`report --aso`): below 0.5 the configuration's scores are almost stochastically larger than the baseline's. "
    "Bootstrap: paired "
    f"bootstrap over test examples ({RESAMPLES} resamples, seed {BOOTSTRAP_SEED}; Berg-Kirkpatrick et al. 2012) "
    "of the metric averaged over each side's seeds: is Δ larger than another draw of the test set would give for "
    "these trained models. It says nothing about other seeds; the Welch test says nothing about other test sets.")


def summary(report: Report) -> str:
    metrics = sorted(set(report.task_metric.values()))
    chosen = (metrics[0] if len(metrics) == 1
              else ", ".join(f"{t}: {m}" for t, m in report.task_metric.items()))
    return (f"{report.n_runs} runs in {len(report.configs)} configurations from "
            f"{', '.join(f'`{s}`' for s in report.sources)}; plotted and compared with the baseline: {chosen}.")


def _setting_header(report: Report) -> list[str]:
    return ["task"] + [COLUMN_NAMES.get(k, k) for k in report.columns]


def _settings_cells(report: Report, config: Config) -> list[str]:
    return [config.task] + [setting(config, k) for k in report.columns]


def _delta_cell(report: Report, config: Config, metric: str) -> str:
    if report.task_metric[config.task] != metric:
        return ""
    if config.is_baseline:
        return "baseline"
    d = report.difference(config)
    return "—" if d is None else difference_text(d.delta, d.se)


def _n_cell(config: Config) -> str:
    low = sum(at_chance(r) for r in config.runs)
    return f"{len(config.runs)} ({low} at chance)" if low else str(len(config.runs))


def table(report: Report) -> tuple[list[str], list[list[str]]]:
    """The main table: the settings that vary, the seeds, the compared metric of each task and those asked for
    (mean ± std), and each compared metric's Δ to the baseline."""
    shown = report.shown_metrics
    header = _setting_header(report) + ["n"] + shown + [f"Δ {m} vs none" for m in report.delta_metrics]
    rows = [_settings_cells(report, c) + [_n_cell(c)]
            + [mean_std_text(*c.mean_std(m)[:2], empty="") for m in shown]
            + [_delta_cell(report, c, m) for m in report.delta_metrics] for c in report.configs]
    return header, rows


def all_metrics_section(report: Report) -> str | None:
    """``## All metrics``: mean ± std of every metric of every configuration (None when the main table already
    shows them all)."""
    if set(report.metrics) <= set(report.shown_metrics):
        return None
    header = _setting_header(report) + ["n"] + report.metrics
    rows = [_settings_cells(report, c) + [str(len(c.runs))]
            + [mean_std_text(*c.mean_std(m)[:2], empty="") for m in report.metrics] for c in report.configs]
    return "## All metrics\n\n" + markdown_table(header, rows) + "\n\nMean ± std over seeds, as in the main table."


def _short_verdict(verdict: str) -> str:
    """The verdict without the seeds a difference would need (their own column says it)."""
    head, sep, _ = verdict.partition("; ")
    return head + ")" if sep else verdict


# (header in report.md, header in the terminal); the terminal drops the task and metric columns when they are
# the same in every row and ASO's when it was not computed
COMPARISON_COLUMNS = (("task", "task"), ("configuration", "configuration"), ("metric", "metric"),
                      ("n none", "n none"), ("n", "n"), ("Δ [95 % CI] over seeds", "Δ [95 % CI]"),
                      ("Welch p", "Welch p"), ("Holm p_adj", "p_adj"), ("seeds needed", "seeds needed"),
                      ("ASO ε_min", "ASO ε_min"), ("bootstrap p [Δ 95 % CI] over test examples", "bootstrap p [Δ CI]"),
                      ("verdict", "verdict"))


def comparison_table(report: Report, terse: bool = False) -> tuple[list[str], list[list[str]]]:
    """One row per comparison.  ``terse`` (the terminal's width): short headers, the task, metric and ASO columns
    only where they say something, the verdict without its seeds-needed clause."""
    comps: list[Comparison] = report.comparisons
    optional = {"task": len({c.config.task for c in comps}) > 1, "metric": len({c.metric for c in comps}) > 1,
                "ASO ε_min": any(c.aso is not None for c in comps)}
    keep = [not terse or optional.get(name, True) for name, _ in COMPARISON_COLUMNS]
    rows = []
    for c in comps:
        w, bs = c.welch, c.bootstrap
        boot = "—" if bs is None else f"{p_text(bs.p)} {interval_text(bs.ci)}"
        cells = [c.config.task, report.label(c.config), c.metric, str(len(c.baseline.runs)), str(len(c.config.runs)),
                 f"{signed_text(w.diff)} {interval_text(w.ci)}", p_text(w.p), p_text(c.p_adj),
                 "—" if c.seeds_needed is None else str(c.seeds_needed),
                 "—" if c.aso is None else f"{c.aso:.2f}", boot,
                 _short_verdict(c.verdict) if terse else c.verdict]
        rows.append([x for x, k in zip(cells, keep) if k])
    return [names[terse] for names, k in zip(COMPARISON_COLUMNS, keep) if k], rows


def comparison_section(report: Report, terse: bool = False, legend: bool = True) -> str:
    """``## Comparisons with the baseline``: one row per configuration with a baseline, and the legend."""
    title = "## Comparisons with the baseline"
    comps = report.comparisons
    if not comps:
        return title + "\n\nNo configuration has a `none` baseline with the same task settings and data sizes."
    text = title + "\n\n" + markdown_table(*comparison_table(report, terse), aligned=terse)
    if legend:
        text += "\n\n" + COMPARISON_LEGEND
    notes = sorted({c.bootstrap_note for c in comps if c.bootstrap_note})
    if notes:
        text += "\n\nNo bootstrap where: " + "; ".join(notes) + "."
    if stats.ASO_UNAVAILABLE_REASON and any(c.aso is None for c in comps):
        text += "\n\n" + stats.ASO_UNAVAILABLE_REASON
    return text


def issues_section(report: Report, terse: bool = False) -> str:
    """The runs left out for a problem, and apart from them the repeated runs (the same configuration and seed
    twice, e.g. the ``none`` baseline that ``experiment=table2`` and ``table3`` share): expected, counted once.
    ``terse``: as lists (paths are long) rather than tables."""
    problems = [i for i in report.issues if i.kind != "duplicate"]
    repeated = sorted((i for i in report.issues if i.kind == "duplicate"), key=lambda i: i.path)
    sections = []
    if problems or not repeated:
        title = f"## Incomplete, failed or mismatched runs ({len(problems)}, left out)"
        order = ["incomplete", "unreadable", "mismatched"]
        problems.sort(key=lambda i: (order.index(i.kind) if i.kind in order else 9, i.path))
        if not problems:
            body = "None."
        elif terse:
            body = "\n".join(f"- `{i.path}`: {i.kind}: {i.reason}" for i in problems)
        else:
            body = markdown_table(["run", "problem", "reason"], [[f"`{i.path}`", i.kind, i.reason] for i in problems])
        sections.append(f"{title}\n\n{body}")
    if repeated:
        title = f"## Repeated runs ({len(repeated)}, counted once)"
        body = ("\n".join(f"- `{i.path}`: {i.reason}" for i in repeated) if terse else
                markdown_table(["run", "same as"], [[f"`{i.path}`", i.reason] for i in repeated]))
        sections.append(f"{title}\n\n{body}")
    return "\n\n".join(sections)


def chance_section(report: Report) -> str | None:
    """The runs whose compared metric ended at chance level: kept in the statistics, but never unnoticed."""
    low = [(c, r) for c in report.configs for r in c.runs if at_chance(r)]
    if not low:
        return None
    rows = [[f"`{r.path}`", c.task, report.label(c), ", ".join(r.data["chance"]["at_chance"]),
             ", ".join(f"{k} {v:.4f}" for k, v in sorted(r.data["chance"].get("levels", {}).items()))]
            for c, r in low]
    return (f"## Runs at chance level ({len(low)}, kept in the statistics above)\n\n"
            + markdown_table(["run", "task", "configuration", "at chance", "chance levels"], rows)
            + "\n\nThese runs predict no better than always answering the training set's most frequent label: "
              "the recipe failed to train for that seed. Their scores are in the means; read the spread with "
              "that in mind.")


def without_examples_section(report: Report) -> str | None:
    missing = runs_without_examples(report.configs)
    if not missing:
        return None
    return (f"## Runs without per-example test statistics ({len(missing)})\n\n"
            + "\n".join(f"- `{p}`" for p in missing)
            + "\n\nThese runs (made before tasks wrote `test_examples.json`, or without a test) are in the seed "
              "statistics; comparisons that involve them have no bootstrap over test examples.")
