"""Span F1 and SQuAD metrics at their edges: one span or one question (the denominators' floor), the states' types,
the scheme reaching both sides, exact error messages, the unanswered count, and the lazy names of the package."""
from __future__ import annotations

import logging
import re

import pytest
import torch

import elmo_lab.metrics as metrics
from elmo_lab.metrics.span_f1 import SpanF1
from elmo_lab.metrics.squad import SquadMetric, evaluate, exact_match


def test_the_package_loads_its_metrics_lazily_and_names_a_missing_one() -> None:
    assert metrics.SpanF1 is SpanF1 and metrics.SquadMetric is SquadMetric
    with pytest.raises(AttributeError, match=re.escape("module 'elmo_lab.metrics' has no attribute 'Bleu'")):
        metrics.Bleu  # noqa: B018


def test_span_f1_with_one_span_and_its_state_types() -> None:
    metric = SpanF1(["PER"])
    assert metric.correct.dtype == torch.long
    metric.update([["B-PER", "O"]], [["B-PER", "O"]])
    scores = metric.compute()
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0 and scores["f1"] == 1.0 and scores["f1_PER"] == 1.0
    assert metric.correct.dtype == torch.long and metric.correct.tolist() == [1]
    with pytest.raises(ValueError, match=re.escape("entity_types=['PER', '']: expected distinct non-empty type names")):
        SpanF1(["PER", ""])
    with pytest.raises(ValueError, match=re.escape("entity_types=['PER', 3]")):
        SpanF1(["PER", 3])


def test_the_scheme_checks_gold_tags_too() -> None:
    metric = SpanF1(["PER"], scheme="bio")
    with pytest.raises(ValueError):
        metric.update([["B-PER"]], [["S-PER"]])  # S- is not a bio prefix, on the gold side


def test_squad_metric_with_one_question_and_its_state_types() -> None:
    metric = SquadMetric()
    assert metric.em_sum.dtype == torch.float64 and metric.count.dtype == torch.long
    metric.update(["Paris"], [["Paris"]])
    assert metric.compute()["em"] == 100.0 and metric.count.dtype == torch.long
    with pytest.raises(ValueError, match="^" + re.escape("golds must hold one list of gold answer texts per question, "
                                                         "not bare strings") + "$"):
        metric.update(["Paris"], ["Paris"])
    with pytest.raises(ValueError, match="^no gold answers: each question needs at least one$"):
        exact_match("Paris", [])


def test_evaluate_counts_unanswered_questions_and_rejects_an_empty_set(caplog: pytest.LogCaptureFixture) -> None:
    data = {"data": [{"paragraphs": [{"qas": [{"id": str(i), "answers": [{"text": "x"}]} for i in range(3)]}]}]}
    with caplog.at_level(logging.WARNING):
        scores = evaluate(data, {"0": "x"})
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert caplog.messages == ["2 of 3 questions have no prediction and score 0"]
    with pytest.raises(ValueError, match="^the dataset has no questions$"):
        evaluate({"data": []}, {})
