"""Chunk-level (entity-level) precision, recall and F1 exactly as conlleval computes them, as a torchmetrics metric.

A predicted chunk counts as correct only if a gold chunk has the same type and the same first and last token;
chunks are read from tags by :func:`elmo_lab.data.tagging.spans` (conlleval's rules, ill-formed sequences included).
Micro scores pool the counts of all types: precision = correct / predicted, recall = correct / gold,
F1 = 2PR / (P + R) = 2 correct / (predicted + gold); each is 0 where its denominator is 0, as in conlleval.

Why counts as states: the metric keeps, per entity type, the numbers of correct, predicted and gold chunks as
tensors summed across processes (``dist_reduce_fx="sum"``), so scores under DDP equal those of one process that saw
every sentence. The set of types is therefore fixed when the metric is built. Scores are fractions in [0, 1], like
the other torchmetrics of the project (conlleval prints them x100).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

from elmo_lab.data.tagging import spans

__all__ = ["SpanF1"]


class SpanF1(Metric):
    """Micro precision/recall/F1 over chunks plus F1 per chunk type (module docstring).

    ``compute()`` returns ``{"precision", "recall", "f1", "f1_<TYPE>" for each type}``, scalar float tensors.

    # Parameters

    entity_types : the chunk types, e.g. ``["LOC", "MISC", "ORG", "PER"]``
        (``elmo_lab.data.tagging.entity_types(tag_names)`` lists those of a tag vocabulary).
    scheme : if given, tags with prefixes outside it raise ``ValueError`` (``S-X`` under ``bio``); chunks do not
        depend on it.
    kwargs : passed to ``torchmetrics.Metric``.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, entity_types: Sequence[str], scheme: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        types = list(entity_types)
        if not types or len(set(types)) != len(types) or not all(isinstance(t, str) and t for t in types):
            raise ValueError(f"entity_types={types!r}: expected distinct non-empty type names, e.g. ['LOC', 'PER']")
        self.entity_types = tuple(types)
        self.scheme = scheme
        self._index = {type_: index for index, type_ in enumerate(types)}
        for name in ("correct", "predicted", "gold"):  # chunk counts per type
            self.add_state(name, default=torch.zeros(len(types), dtype=torch.long), dist_reduce_fx="sum")

    def _count(self, chunks: set[tuple[str, int, int]], counts: list[int]) -> None:
        for type_, _, _ in chunks:
            index = self._index.get(type_)
            if index is None:
                raise ValueError(f"entity type {type_!r} is not one of {list(self.entity_types)}")
            counts[index] += 1

    def update(self, pred_tag_seqs: Sequence[Sequence[str]], gold_tag_seqs: Sequence[Sequence[str]]) -> None:
        """Add a batch of sentences: predicted and gold tags (strings), one list per sentence, same lengths."""
        if len(pred_tag_seqs) != len(gold_tag_seqs):
            raise ValueError(f"{len(pred_tag_seqs)} predicted sentences for {len(gold_tag_seqs)} gold sentences")
        correct, predicted, gold = ([0] * len(self.entity_types) for _ in range(3))
        for number, (pred_tags, gold_tags) in enumerate(zip(pred_tag_seqs, gold_tag_seqs)):
            if len(pred_tags) != len(gold_tags):
                raise ValueError(f"sentence {number}: {len(pred_tags)} predicted tags for {len(gold_tags)} gold tags")
            pred_chunks, gold_chunks = set(spans(pred_tags, self.scheme)), set(spans(gold_tags, self.scheme))
            self._count(pred_chunks, predicted)
            self._count(gold_chunks, gold)
            self._count(pred_chunks & gold_chunks, correct)
        for name, counts in (("correct", correct), ("predicted", predicted), ("gold", gold)):
            state = getattr(self, name)  # (num_types,)
            setattr(self, name, state + torch.tensor(counts, dtype=state.dtype, device=state.device))

    @staticmethod
    def _scores(correct: torch.Tensor, predicted: torch.Tensor, gold: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Precision, recall, F1 from counts (any equal shapes); 0 where a denominator is 0."""
        correct, predicted, gold = correct.double(), predicted.double(), gold.double()
        precision = correct / predicted.clamp(min=1)
        recall = correct / gold.clamp(min=1)
        f1 = 2 * correct / (predicted + gold).clamp(min=1)
        return precision.float(), recall.float(), f1.float()

    def compute(self) -> dict[str, torch.Tensor]:
        """The scores of every sentence seen since the last reset (fractions in [0, 1])."""
        precision, recall, f1 = self._scores(self.correct.sum(), self.predicted.sum(), self.gold.sum())
        scores = {"precision": precision, "recall": recall, "f1": f1}
        per_type_f1 = self._scores(self.correct, self.predicted, self.gold)[2]  # (num_types,)
        for index, type_ in enumerate(self.entity_types):
            scores[f"f1_{type_}"] = per_type_f1[index]
        return scores
