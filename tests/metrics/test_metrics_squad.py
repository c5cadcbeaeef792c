"""SQuAD v1.1 EM/F1: the official normalisation, hand-computed scores, v1.1's empty-answer rule, summed states."""

import json
import logging
import random
from pathlib import Path

import pytest
import torch

from elmo_lab.metrics import SquadMetric
from elmo_lab.metrics.squad import evaluate, exact_match, f1, normalize_answer

DEV = Path(__file__).parents[1] / "data" / "fixtures" / "squad" / "dev-v1.1.json"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The  Denver Broncos!", "denver broncos"),
        ("an apple a day", "apple day"),
        ("theatre, another Anna", "theatre another anna"),  # articles only as whole words
        ("A.B.C.", "abc"),  # punctuation is deleted, not replaced by a space
        ("Levi's Stadium", "levis stadium"),
        ("the-end", "theend"),
        ("a-the", "athe"),
        ("“quoted” – text", "“quoted” – text"),  # non-ASCII punctuation stays
        ("  \t\n", ""),
        ("The", ""),
        ("...!?", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    "prediction, golds, em, f1_score",
    [
        ("Denver Broncos", ["Denver Broncos"], 1.0, 1.0),
        ("the Denver Broncos.", ["Denver Broncos"], 1.0, 1.0),
        ("Denver Broncos", ["Broncos"], 0.0, 2 / 3),  # P 1/2, R 1
        ("the cat sat on the mat", ["cat on mat"], 0.0, 6 / 7),  # P 3/4, R 1
        ("x y y", ["y y z"], 0.0, 2 / 3),  # multiset overlap: two shared y
        ("x y y", ["y z z"], 0.0, 1 / 3),  # one shared y: P 1/3, R 1/3
        ("", ["Denver"], 0.0, 0.0),
        ("Denver", [""], 0.0, 0.0),
        # empty after normalisation on both sides: equal strings (EM 1) but no shared token (F1 0, the v1.1 rule)
        ("The", ["a"], 1.0, 0.0),
        ("...", ["!"], 1.0, 0.0),
        ("", ["the"], 1.0, 0.0),
        # several golds: the max of each score, taken separately
        ("Denver", ["Denver Broncos", "Broncos", "denver"], 1.0, 1.0),
        ("Denver Broncos team", ["Broncos", "Denver Broncos"], 0.0, 0.8),
        ("The", ["Denver", "an"], 1.0, 0.0),
        ("Broncos", "Denver Broncos", 0.0, 2 / 3),  # a bare string is one gold answer
    ],
)
def test_exact_match_and_f1_hand_computed(prediction, golds, em, f1_score):
    assert exact_match(prediction, golds) == em
    assert f1(prediction, golds) == pytest.approx(f1_score)


def test_no_gold_answers_is_an_error():
    with pytest.raises(ValueError, match="no gold answers"):
        f1("x", [])


def test_evaluate_matches_hand_computed_scores_on_a_file(caplog):
    dataset = json.loads(DEV.read_text(encoding="utf-8"))
    predictions = {
        "d-levi-1": "Levi's Stadium",  # EM 1, F1 1
        "d-levi-2": "February 7, 2016",  # EM 1, F1 1
        # d-vic-1 unanswered: 0, 0
        "d-vic-2": "Melbourne-based Parliament",  # "melbournebased parliament" vs "melbournebased": F1 2/3
        "d-vic-3": "the provisions",  # vs "entrenched provisions": P 1, R 1/2, F1 2/3
    }
    with caplog.at_level(logging.WARNING):
        scores = evaluate(dataset, predictions)
    assert scores["exact_match"] == pytest.approx(40.0)
    assert scores["f1"] == pytest.approx(100 * (1 + 1 + 0 + 2 / 3 + 2 / 3) / 5)
    assert "1 of 5 questions have no prediction" in caplog.text
    assert evaluate(dataset["data"], predictions) == scores  # the official script's argument: the data list


def _random_answer(rng: random.Random) -> str:
    words = ["the", "a", "an", "Denver", "broncos", "Broncos", "1,000", "U.S.", "it's", "-", "(NFL)", "x", "y", ""]
    return " ".join(rng.choice(words) for _ in range(rng.randint(0, 5)))


def test_agrees_with_torchmetrics_squad_except_for_the_empty_answer_rule():
    from torchmetrics.text import SQuAD

    rng = random.Random(0)
    for number in range(300):
        prediction = _random_answer(rng)
        golds = [_random_answer(rng) for _ in range(rng.randint(1, 3))]
        reference = SQuAD()(
            preds=[{"prediction_text": prediction, "id": str(number)}],
            target=[{"answers": {"answer_start": [0] * len(golds), "text": golds}, "id": str(number)}],
        )
        assert 100 * exact_match(prediction, golds) == pytest.approx(reference["exact_match"].item())
        both_empty = not normalize_answer(prediction) and any(not normalize_answer(g) for g in golds)
        if both_empty:  # v2.0 (torchmetrics) scores 100 here, v1.1 scores 0 unless another gold shares a token
            assert reference["f1"].item() == pytest.approx(100.0)
        else:
            assert 100 * f1(prediction, golds) == pytest.approx(reference["f1"].item(), abs=1e-4)


def test_squad_metric_means_over_questions_and_sums_states():
    preds = ["Denver Broncos", "Broncos", "The", "nothing"]
    golds = [["Denver Broncos"], ["Denver Broncos", "x"], ["a"], ["Denver"]]
    metric = SquadMetric()
    with pytest.warns(UserWarning, match="called before the ``update``"):
        assert metric.compute()["em"].item() == 0.0  # no questions yet
    metric.update(preds[:2], golds[:2])
    metric.update(preds[2:], golds[2:])
    scores = metric.compute()
    assert scores["em"].item() == pytest.approx(100 * 2 / 4)  # "The" vs "a" is an exact match
    assert scores["f1"].item() == pytest.approx(100 * (1 + 2 / 3 + 0 + 0) / 4)
    assert scores["em"].dtype == torch.float32 and scores["f1"].dim() == 0

    # two processes' states summed (what dist_reduce_fx="sum" does under DDP) give the single-process result
    first, second = SquadMetric(), SquadMetric()
    first.update(preds[:1], golds[:1])
    second.update(preds[1:], golds[1:])
    first.merge_state(second)
    assert {k: v.item() for k, v in first.compute().items()} == {k: v.item() for k, v in scores.items()}
    assert all(metric._reductions[name].__name__ == "dim_zero_sum" for name in ("em_sum", "f1_sum", "count"))

    metric.reset()
    assert metric.count.item() == 0


def test_squad_metric_rejects_mismatched_input():
    metric = SquadMetric()
    with pytest.raises(ValueError, match="2 predictions for 1 questions"):
        metric.update(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="one list of gold answer texts per question"):
        metric.update(["a"], ["a"])
