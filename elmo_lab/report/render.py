"""The report's top layer: the sections in order, as ``report.md``, as the text printed in a terminal, and as the
rows of ``report.csv`` (numbers stay numbers).

``report.md`` holds everything: the main table (each task's compared metric and those asked for), the comparisons,
the analyses the sweep has data for (learning curves, epochs to the baseline, probing selectivity, the paper's
tables), every metric, the plots and the runs left out.  The terminal gets what a person reads first, fitted to
``TERMINAL_WIDTH`` columns: the summary, the main table and the comparisons, aligned, and the runs left out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from elmo_lab.report.curves import curve_sections
from elmo_lab.report.format import TERMINAL_WIDTH, markdown_table, wrap_prose
from elmo_lab.report.layers import layer_sections
from elmo_lab.report.model import COLUMN_NAMES, Report, at_chance, setting
from elmo_lab.report.paper import paper_section
from elmo_lab.report.runs import Config
from elmo_lab.report.sections import (TABLE_LEGEND, all_metrics_section, chance_section, comparison_section,
                                      issues_section, summary, table, without_examples_section)
from elmo_lab.report.selectivity import selectivity_section


def analysis_sections(report: Report) -> list[str]:
    """The sections that appear where a sweep has their data: learning curves, epochs to the baseline, probing
    selectivity, what each layer encodes (scores and selectivity per representation, E_s and E_Δ), the paper's
    tables."""
    found = [*curve_sections(report), selectivity_section(report), layer_sections(report),
             paper_section(report, report.delta_ci)]
    return [s for s in found if s]


def render_markdown(report: Report, plots: Sequence[Path]) -> str:
    """``report.md``: every section."""
    figures = "\n\n".join(f"![{p.stem}]({p.name})" for p in plots) or "No plots."
    sections = ["# ELMo comparison", summary(report), markdown_table(*table(report)), TABLE_LEGEND,
                comparison_section(report), *analysis_sections(report), all_metrics_section(report),
                "## Plots", figures, chance_section(report), without_examples_section(report),
                issues_section(report)]
    return "\n\n".join(s for s in sections if s) + "\n"


def render_terminal(report: Report, files: Sequence[Path] = (), width: int = TERMINAL_WIDTH) -> str:
    """What ``python -m elmo_lab report`` prints: the summary, the main table and the comparisons (aligned, the
    verdicts without their seeds-needed clause), the runs left out, and where the rest was written."""
    where = ""
    if files:
        folder = Path(files[0]).parent
        where = (f"Written to `{folder}`: {', '.join(Path(f).name for f in files)}. Legends, every metric and the "
                 "analyses: report.md; every number: report.csv.")
    low = sum(at_chance(r) for c in report.configs for r in c.runs)
    chance = f"{low} run(s) ended at chance level (kept in the statistics; listed in report.md)." if low else ""
    sections = [summary(report), markdown_table(*table(report), aligned=True),
                comparison_section(report, terse=True, legend=False), chance, issues_section(report, terse=True),
                where]
    return wrap_prose("\n\n".join(s for s in sections if s), width) + "\n"


NUMERIC_COMPARISON = ("Δ vs none", "standard error of the difference", "Δ 95% CI low", "Δ 95% CI high", "Welch p",
                      "Holm p_adj", "seeds needed", "ASO eps_min", "bootstrap p", "bootstrap Δ 95% CI low",
                      "bootstrap Δ 95% CI high", "verdict")


def _numeric_comparison(report: Report, config: Config, metric: str) -> list[Any]:
    comp = report.comparison(config) if report.task_metric[config.task] == metric else None
    d = report.difference(config) if comp is not None else None
    if comp is None or d is None:
        return [None] * len(NUMERIC_COMPARISON)
    w, bs = comp.welch, comp.bootstrap
    return [d.delta, d.se, *(w.ci or (None, None)), w.p, comp.p_adj, comp.seeds_needed, comp.aso,
            *((bs.p, *bs.ci) if bs else (None, None, None)), comp.verdict]


def numeric_table(report: Report) -> tuple[list[str], list[list[Any]]]:
    """The CSV's header and rows, every metric and every comparison figure: numbers stay numbers, absent values
    are None."""
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
