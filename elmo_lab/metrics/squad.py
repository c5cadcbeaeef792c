"""SQuAD v1.1 exact match and F1, exactly as the official ``evaluate-v1.1.py`` computes them.

Answers are compared after normalisation: lower case, every ASCII punctuation character (``string.punctuation``)
deleted, the articles ``a``/``an``/``the`` deleted as whole words, whitespace collapsed. Exact match (EM) is 1 if
the normalised strings are equal. F1 is the harmonic mean of token precision and recall over the normalised
whitespace tokens (a multiset overlap) and is 0 whenever no token is shared, even when both strings normalise to
nothing; so ``"The"`` against ``"a"`` scores EM 1 but F1 0. (That is the v1.1 rule. The SQuAD 2.0 script, and
torchmetrics' ``SQuAD`` which follows it, give F1 1 when both sides are empty; do not use it for v1.1 numbers.)
Each question takes the max over its gold answers; a dataset's score is the mean over questions, x100.

Unlike the other metrics of :mod:`elmo_lab.metrics` (fractions in [0, 1]), SQuAD scores are reported in
[0, 100], as in the papers and the official script.
"""

from __future__ import annotations

import logging
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torchmetrics import Metric

__all__ = ["SquadMetric", "evaluate", "exact_match", "f1", "normalize_answer"]

log = logging.getLogger(__name__)

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, drop articles, collapse whitespace (the official order)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _golds(golds: str | Sequence[str]) -> list[str]:
    golds = [golds] if isinstance(golds, str) else list(golds)
    if not golds:
        raise ValueError("no gold answers: each question needs at least one")
    return golds


def _exact(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def _f1(prediction: str, gold: str) -> float:
    predicted, true = normalize_answer(prediction).split(), normalize_answer(gold).split()
    shared = sum((Counter(predicted) & Counter(true)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(true)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: str | Sequence[str]) -> float:
    """1.0 if ``prediction`` equals any gold answer after normalisation, else 0.0 (a single string is one gold)."""
    return max(_exact(prediction, gold) for gold in _golds(golds))


def f1(prediction: str, golds: str | Sequence[str]) -> float:
    """The best token F1 in [0, 1] of ``prediction`` against the gold answers (a single string is one gold)."""
    return max(_f1(prediction, gold) for gold in _golds(golds))


def evaluate(dataset: Mapping[str, Any] | Sequence[Any], predictions: Mapping[str, str]) -> dict[str, float]:
    """``{"exact_match", "f1"}`` (x100) of ``predictions`` (question id -> answer text) on a SQuAD v1.1 dataset.

    # Parameters
    dataset : the parsed JSON file (``{"data": [...]}``), or its ``data`` list as the official script takes it.
    predictions : answers by question id; a question without one scores 0 (logged once with the count), as in
        the official script. The mean is over every question of ``dataset``.
    """
    articles = dataset["data"] if isinstance(dataset, Mapping) else dataset
    em_sum = f1_sum = 0.0
    total = unanswered = 0
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    unanswered += 1
                    continue
                golds = [answer["text"] for answer in qa["answers"]]
                em_sum += exact_match(predictions[qa["id"]], golds)
                f1_sum += f1(predictions[qa["id"]], golds)
    if unanswered:
        log.warning("%d of %d questions have no prediction and score 0", unanswered, total)
    if not total:
        raise ValueError("the dataset has no questions")
    return {"exact_match": 100.0 * em_sum / total, "f1": 100.0 * f1_sum / total}


class SquadMetric(Metric):
    """Mean EM and F1 over questions, x100, as a torchmetrics metric (rules: module docstring).

    States are sums (of EM, of F1, of questions) reduced by summation, so the result under DDP equals that of one
    process that saw every question. ``compute()`` returns ``{"em", "f1"}`` as scalar float tensors in [0, 100]
    (0 before any update).

    # Parameters
    kwargs : passed to ``torchmetrics.Metric``.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("em_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("f1_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Sequence[str], golds: Sequence[Sequence[str]]) -> None:
        """Add a batch: one predicted answer text per question and, for each, its list of gold answer texts."""
        if len(preds) != len(golds):
            raise ValueError(f"{len(preds)} predictions for {len(golds)} questions")
        if any(isinstance(question_golds, str) for question_golds in golds):
            raise ValueError("golds must hold one list of gold answer texts per question, not bare strings")
        self.em_sum += sum(exact_match(pred, question_golds) for pred, question_golds in zip(preds, golds))
        self.f1_sum += sum(f1(pred, question_golds) for pred, question_golds in zip(preds, golds))
        self.count += len(preds)

    def compute(self) -> dict[str, torch.Tensor]:
        """``{"em", "f1"}`` over every question seen since the last reset, in [0, 100]."""
        scale = 100.0 / self.count.clamp(min=1).double()
        return {"em": (self.em_sum * scale).float(), "f1": (self.f1_sum * scale).float()}
