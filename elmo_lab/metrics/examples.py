"""Per-example test scores: ``test_examples.json`` in every run directory whose task provides them (numpy only).

A significance test over test examples (``elmo_lab.report.stats.paired_bootstrap``) needs, for each run, the
sufficient statistics of its test metric *per example*, from which the metric of any resample of the test set can
be recomputed.  Each task computes them from its test predictions (``ElmoTaskModule.example_scores``) and the
training loop writes them here, in one format for every task, so that the report needs to know nothing about a
task's own predictions file.  A metric's statistics have one of three reductions:

* ``mean``  — one score per example; the metric is their mean (accuracy, SQuAD exact match and F1 per question);
* ``ratio`` — ``(numerator, denominator)`` per example; the metric is ``Σ numerator / Σ denominator`` (token
  accuracy per sentence: correct tokens, tokens);
* ``f1``    — ``(true positives, predicted, gold)`` per example; the metric is ``2 Σtp / (Σpred + Σgold)`` (span F1
  recomputed from the resampled sentences' counts, never an average of per-sentence F1).

The file also holds a digest of the examples' keys (an id and the gold answer of each), so that two runs are paired
only when they were tested on the same examples in the same order.  Metric values are multiplied by nothing: they
are in the units of ``results.json`` (fractions, or points for SQuAD).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

EXAMPLES_FILE = "test_examples.json"
FORMAT_VERSION = 1
REDUCTIONS = {"mean": 1, "ratio": 2, "f1": 3}  # reduction -> statistics per example


@dataclass(frozen=True)
class ExampleScores:
    """One metric's per-example statistics: ``reduce`` (``mean`` | ``ratio`` | ``f1``) and ``values``, one row of
    ``REDUCTIONS[reduce]`` numbers per test example, in dataset order."""

    reduce: str
    values: Sequence[Sequence[float]]

    def array(self) -> np.ndarray:
        x = np.asarray(self.values, dtype=float).reshape(len(self.values), -1)  # (n_examples, k)
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"reduce: expected one of {', '.join(REDUCTIONS)}, got {self.reduce!r}")
        if x.shape[1] != REDUCTIONS[self.reduce]:
            raise ValueError(f"reduce {self.reduce!r} takes {REDUCTIONS[self.reduce]} statistics per example, "
                             f"got {x.shape[1]}")
        return x

    def metric(self) -> float:
        """The metric over all the examples (equals the run's test metric)."""
        return float(reduction(self.reduce)(self.array()))


@dataclass(frozen=True)
class ExampleTable:
    """What ``test_examples.json`` holds: the examples' digest and count, and each metric's statistics (keyed by
    the metric's name without the split: ``acc``, ``f1``, ``em``)."""

    digest: str
    n_examples: int
    metrics: dict[str, ExampleScores]


def mean_metric(stats: np.ndarray) -> np.ndarray:
    """``mean``: the mean score over the examples, stats (..., n_examples, 1) → (...)."""
    stats = np.asarray(stats, dtype=float)
    if stats.shape[-1] != 1:
        raise ValueError(f"mean_metric needs one statistic per example, (..., n_examples, 1), got {stats.shape}")
    return stats[..., 0].mean(axis=-1)


def ratio_metric(stats: np.ndarray) -> np.ndarray:
    """``ratio``: ``Σ numerator / Σ denominator`` over the examples, stats (..., n_examples, 2) → (...); 0 where
    the denominators sum to 0."""
    stats = np.asarray(stats, dtype=float)
    if stats.shape[-1] != 2:
        raise ValueError(f"ratio_metric needs (..., n_examples, 2) statistics, got {stats.shape}")
    num, den = np.moveaxis(stats.sum(axis=-2), -1, 0)  # each (...)
    return np.divide(num, den, out=np.zeros_like(den), where=den > 0)


def f1_from_counts(stats: np.ndarray) -> np.ndarray:
    """``f1``: micro span F1 of the summed counts, ``2·Σtp / (Σpred + Σgold)``, stats (..., n_examples, 3) → (...).
    Summing before dividing is what corpus-level F1 means; averaging per-sentence F1 would weight a sentence with
    one span like one with twenty.  F1 is 0 where there are neither predicted nor gold spans (as in seqeval)."""
    stats = np.asarray(stats, dtype=float)
    if stats.shape[-1] != 3:
        raise ValueError(f"f1_from_counts needs (..., n_examples, 3) counts, got {stats.shape}")
    tp, pred, gold = np.moveaxis(stats.sum(axis=-2), -1, 0)  # each (...)
    denom = pred + gold
    return np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)


def reduction(name: str):
    """The function that reduces (..., n_examples, k) statistics to the metric (...)."""
    try:
        return {"mean": mean_metric, "ratio": ratio_metric, "f1": f1_from_counts}[name]
    except KeyError:
        raise ValueError(f"reduce: expected one of {', '.join(REDUCTIONS)}, got {name!r}") from None


def examples_digest(keys: Sequence[str]) -> str:
    """sha256 of the examples' keys, in order (the same test examples, in the same order, give the same digest)."""
    h = hashlib.sha256()
    for key in keys:
        h.update(key.encode("utf-8") + b"\x00")
    return h.hexdigest()


def example_table_json(keys: Sequence[str], metrics: Mapping[str, ExampleScores]) -> str:
    """The text of ``test_examples.json`` for examples ``keys`` (one per example) and their ``metrics``."""
    n = len(keys)
    for name, scores in metrics.items():
        if len(scores.values) != n:
            raise ValueError(f"metric {name}: {len(scores.values)} rows of statistics for {n} examples")
        scores.array()  # checks the reduction and the row width
    payload = {"format": FORMAT_VERSION, "n_examples": n, "examples_digest": examples_digest(keys),
               "metrics": {name: {"reduce": s.reduce, "values": [list(map(float, row)) for row in s.values]}
                           for name, s in metrics.items()}}
    return json.dumps(payload, separators=(",", ":")) + "\n"


def read_example_table(path: Path) -> ExampleTable:
    """Read ``test_examples.json``; ``ValueError`` naming the file for anything that is not that format."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT_VERSION}")
        metrics = {name: ExampleScores(m["reduce"], m["values"]) for name, m in data["metrics"].items()}
        for name, scores in metrics.items():
            if len(scores.values) != data["n_examples"]:
                raise ValueError(f"metric {name}: {len(scores.values)} rows for {data['n_examples']} examples")
            scores.array()
        return ExampleTable(str(data["examples_digest"]), int(data["n_examples"]), metrics)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not a {EXAMPLES_FILE} file ({e})") from None


def accuracy_scores(records: Sequence[Mapping], key_fields: Sequence[str] = ("tokens", "gold")
                    ) -> tuple[list[str], dict[str, ExampleScores]]:
    """``ElmoTaskModule.example_scores`` for one label per example: records with ``gold`` and ``pred`` → keys (the
    JSON of ``key_fields``) and accuracy as a ``mean`` of 1 / 0."""
    keys = [json.dumps([r[k] for k in key_fields], ensure_ascii=False) for r in records]
    return keys, {"acc": ExampleScores("mean", [[float(r["pred"] == r["gold"])] for r in records])}
