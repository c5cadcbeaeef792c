"""The structural and arc probes' scores as torchmetrics metrics, so the training loop logs them like any other
(``val/uuas``, ``test/dspr``, ...).  Each keeps sufficient statistics (counts, or per-length sums and counts) that add
up over batches and processes; the per-sentence scoring is ``elmo_lab.probing.structural``'s.

A batch's predictions are a list with one array per sentence (a predicted distance matrix (n, n), predicted depths
(n,), or predicted heads (n,)), its targets a list of ``(heads, scored)`` pairs: the gold heads (1-based, 0 = root)
and the words scored (not punctuation).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np
import torch
from torchmetrics import Metric

from elmo_lab.probing.structural import (SPEARMAN_LENGTHS, depth_spearman, distance_spearmans, root_correct,
                                         tree_depths, tree_distances, uas_counts, uuas_counts)

TreeTargets = Sequence[tuple[Sequence[int], Sequence[bool]]]


class _CorpusRatio(Metric):
    """Σ numerator / Σ denominator over the corpus (0 before anything is counted)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("numerator", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("denominator", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def _count_all(self, counts: Iterable[tuple[float, float]]) -> None:
        """Add each sentence's ``(numerator, denominator)``: summed in Python first, then one tensor update per
        batch (a tensor update per sentence cost more than the sentence's score)."""
        numerator, denominator = 0.0, 0.0
        for a, b in counts:
            numerator, denominator = numerator + a, denominator + b
        self.numerator += numerator
        self.denominator += denominator

    def compute(self) -> torch.Tensor:
        return (self.numerator / self.denominator.clamp(min=1)).float()


class UUAS(_CorpusRatio):
    """Undirected unlabelled attachment score of minimum spanning trees over predicted distances."""

    def update(self, predicted: Sequence[np.ndarray], targets: TreeTargets) -> None:
        self._count_all(uuas_counts(distances, heads, np.asarray(scored, dtype=bool))
                        for distances, (heads, scored) in zip(predicted, targets))


class UAS(_CorpusRatio):
    """Unlabelled attachment score of predicted heads (punctuation left out)."""

    def update(self, predicted: Sequence[np.ndarray], targets: TreeTargets) -> None:
        self._count_all(uas_counts(heads_hat, heads, np.asarray(scored, dtype=bool))
                        for heads_hat, (heads, scored) in zip(predicted, targets))


class RootAccuracy(_CorpusRatio):
    """The share of sentences whose least deep non-punctuation word (predicted depths) is the gold root."""

    def update(self, predicted: Sequence[np.ndarray], targets: TreeTargets) -> None:
        self._count_all((float(root_correct(depths, heads, np.asarray(scored, dtype=bool))), 1.0)
                        for depths, (heads, scored) in zip(predicted, targets))


class LengthAveragedSpearman(Metric):
    """DSpr. (``kind="distance"``: one ρ per word) or NSpr. (``kind="depth"``: one ρ per sentence): the mean ρ of
    each sentence length, averaged over the lengths ``lengths`` present; NaN values (a constant row) left out."""

    full_state_update = False

    def __init__(self, kind: str, lengths: tuple[int, int] = SPEARMAN_LENGTHS) -> None:
        super().__init__()
        if kind not in ("distance", "depth"):
            raise ValueError(f"kind: distance or depth, got {kind!r}")
        self.kind, self.lengths = kind, lengths
        size = lengths[1] + 1
        self.add_state("sums", default=torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")  # (max len+1,)
        self.add_state("counts", default=torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")  # (max len+1,)

    def update(self, predicted: Sequence[np.ndarray], targets: TreeTargets) -> None:
        low, high = self.lengths
        sums, counts = defaultdict(float), defaultdict(int)  # by length: one tensor update per batch and length
        for values, (heads, _) in zip(predicted, targets):
            n = len(heads)
            if not low <= n <= high:
                continue
            if self.kind == "distance":
                rhos = distance_spearmans(values, tree_distances(heads))
            else:
                rhos = [depth_spearman(values, tree_depths(heads))]
            finite = [r for r in rhos if not np.isnan(r)]
            sums[n] += float(sum(finite))
            counts[n] += len(finite)
        for n in sums:
            self.sums[n] += sums[n]
            self.counts[n] += counts[n]

    def compute(self) -> torch.Tensor:
        present = self.counts > 0  # (max len+1,)
        if not present.any():
            return torch.tensor(float("nan"))
        return (self.sums[present] / self.counts[present]).mean().float()
