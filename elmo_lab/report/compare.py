"""The report's verdicts: each configuration against its ``none`` baseline, over seeds and over test examples.

For every configuration that has a baseline (``link_baselines`` in ``elmo_lab.report.model``), on the metric the
report compares (``test/acc``, ``test/f1``, ...):

* over seeds — the difference of the means with its 95 % confidence interval and the two-sided p of Welch's t-test
  (``stats.welch``), the p-values of all the comparisons of one report adjusted together by Holm–Bonferroni
  (``stats.holm``), the seeds per side that would detect the observed difference with 80 % power at the level
  Holm's first step applies, α = 0.05 / m for m comparisons (``stats.seeds_needed``; α = 0.05 for one), and,
  with ``report --aso``, ASO's ε_min (``stats.almost_stochastic_order``,
  deepsig; it takes about ten seconds per comparison);
* over test examples — a paired bootstrap (``stats.paired_bootstrap``, 1,000 seeded resamples) of the metric
  averaged over each side's seeds, from the per-example statistics every run writes (``test_examples.json``,
  ``elmo_lab.metrics.examples``).  Both sides must hold the same test examples in the same order (same digest);
  a run without the file (older runs) is named, and the comparison says why it has no bootstrap.

The verdict in words (``stats.verdict``) rests on the Holm-adjusted Welch p: seeds are the unit of replication of a
training recipe.  The bootstrap answers a different question — would another draw of the test set give the same
difference for *these* trained models — and is shown beside it.  The comparisons are rendered by
``elmo_lab.report.sections``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from elmo_lab.metrics.examples import EXAMPLES_FILE, ExampleTable, read_example_table, reduction
from elmo_lab.report import stats
from elmo_lab.report.runs import Config, Run

ALPHA = 0.05
RESAMPLES = 1000
BOOTSTRAP_SEED = 0


@dataclass
class Comparison:
    """One configuration against its baseline on ``metric``."""

    config: Config
    baseline: Config
    metric: str
    welch: stats.Welch
    p_adj: float | None = None
    seeds_needed: int | None = None
    aso: float | None = None
    bootstrap: stats.Bootstrap | None = None
    bootstrap_note: str = ""  # why there is no bootstrap
    verdict: str = ""


def _example_stats(runs: list[Run], metric: str, read: Callable[[Path], ExampleTable]
                   ) -> tuple[np.ndarray | None, str, str, str]:
    """``(stats (seeds, n, k), reduce, digest, note)`` of ``runs`` for ``metric`` (``test/acc`` → ``acc``), or
    ``(None, "", "", why)``; ``read`` reads one ``test_examples.json``."""
    split, _, name = metric.rpartition("/")
    if split != "test":
        return None, "", "", f"per-example statistics exist for test metrics only, not {metric}"
    arrays, reduces, digests = [], set(), set()
    for run in runs:
        path = Path(run.path) / EXAMPLES_FILE
        if not path.is_file():
            return None, "", "", f"{run.path} has no {EXAMPLES_FILE}"
        try:
            table = read(path)
        except ValueError as e:
            return None, "", "", str(e)
        if name not in table.metrics:
            return None, "", "", f"{path} has no per-example statistics for {metric}"
        arrays.append(table.metrics[name].array())
        reduces.add(table.metrics[name].reduce)
        digests.add(table.digest)
    if len(digests) > 1 or len(reduces) > 1:
        return None, "", "", "the runs were tested on different examples"
    return np.stack(arrays), reduces.pop(), digests.pop(), ""


def _bootstrap(config: Config, baseline: Config, metric: str,
               read: Callable[[Path], ExampleTable]) -> tuple[stats.Bootstrap | None, str]:
    xa, reduce_a, digest_a, note = _example_stats(baseline.runs, metric, read)
    if xa is None:
        return None, note
    xb, reduce_b, digest_b, note = _example_stats(config.runs, metric, read)
    if xb is None:
        return None, note
    if digest_a != digest_b or reduce_a != reduce_b:
        return None, "the configuration and its baseline were tested on different examples"
    return stats.paired_bootstrap(xa, xb, reduction(reduce_a), resamples=RESAMPLES, seed=BOOTSTRAP_SEED), ""


def compare(configs: list[Config], task_metric: dict[str, str], examples: bool = True,
            aso: bool = False) -> list[Comparison]:
    """A ``Comparison`` for every configuration with a baseline, in the order of ``configs``; Holm's adjustment
    runs over all of them (the family of one report).  ``examples=False`` skips the bootstraps; ``aso=True`` adds
    ASO's ε_min (deepsig: seconds per comparison, docs/statistics.md, so ``report --aso`` asks for it)."""
    # a baseline is shared by many configurations: read each run's file once (SQuAD's holds ~10k rows)
    read = functools.lru_cache(maxsize=None)(read_example_table)
    out: list[Comparison] = []
    spreads: list[tuple[float | None, float | None]] = []
    for c in configs:
        if c.is_baseline or c.baseline is None:
            continue
        metric = task_metric[c.task]
        a, b = c.baseline.values(metric), c.values(metric)
        if not len(a) or not len(b):
            continue
        comp = Comparison(c, c.baseline, metric, stats.welch(a, b))
        sd_a = float(a.std(ddof=1)) if len(a) > 1 else None
        sd_b = float(b.std(ddof=1)) if len(b) > 1 else None
        spreads.append((sd_a, sd_b))  # seeds needed: below, once the number of comparisons is known
        if aso:
            comp.aso = stats.almost_stochastic_order(a, b, seed=BOOTSTRAP_SEED)
        if examples:
            comp.bootstrap, comp.bootstrap_note = _bootstrap(c, c.baseline, metric, read)
        else:
            comp.bootstrap_note = "not computed"
        out.append(comp)
    level = ALPHA / max(1, sum(c.welch.p is not None for c in out))  # Holm's first, strictest step
    for comp, p_adj, (sd_a, sd_b) in zip(out, stats.holm([c.welch.p for c in out]), spreads):
        comp.p_adj = p_adj
        comp.seeds_needed = stats.seeds_needed(sd_a, sd_b, comp.welch.diff, alpha=level)
        comp.verdict = stats.verdict(comp.welch.diff, p_adj, comp.seeds_needed, alpha=ALPHA)
    return out


def runs_without_examples(configs: list[Config]) -> list[str]:
    """The run directories that hold no ``test_examples.json`` (runs made before tasks wrote one, or with
    ``test=false``)."""
    return [r.path for c in configs for r in c.runs if not (Path(r.path) / EXAMPLES_FILE).is_file()]
