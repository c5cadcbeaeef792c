"""``test_examples.json`` and the per-example reductions, by hand: each reduction's value, its error messages, the
file's exact text and digest, and every way a file can fail to be that format."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from elmo_lab.metrics.examples import (EXAMPLES_FILE, ExampleScores, accuracy_scores, example_table_json,
                                       examples_digest, f1_from_counts, mean_metric, ratio_metric,
                                       read_example_table, reduction)


def test_reductions_by_hand_and_batched_over_resamples() -> None:
    assert mean_metric([[1.0], [0.0], [1.0], [1.0]]) == 0.75
    assert ratio_metric([[3, 4], [1, 6]]) == 0.4  # (3 + 1) / (4 + 6), not the mean of 0.75 and 1/6
    assert ratio_metric([[0, 0], [0, 0]]) == 0.0 and ratio_metric([[1, 1]]) == 1.0  # a denominator of 1 divides
    assert ratio_metric(np.ones((3, 4, 2))).tolist() == [1.0, 1.0, 1.0]  # (resamples, 4 examples, 2): the last axis
    assert f1_from_counts([[1, 2, 1], [2, 2, 5]]) == 0.6  # 2 * 3 / (4 + 6)
    assert f1_from_counts([[0, 0, 0]]) == 0.0
    assert f1_from_counts([[0, 1, 0]]) == 0.0
    resamples = np.array([[[1, 1], [0, 1]], [[2, 2], [2, 2]], [[0, 0], [0, 0]]])  # (3 resamples, 2 examples, 2)
    assert ratio_metric(resamples).tolist() == [0.5, 1.0, 0.0]
    assert mean_metric(np.ones((2, 5, 1))).tolist() == [1.0, 1.0]
    assert f1_from_counts(np.array([[[1, 1, 1]], [[0, 2, 2]]])).tolist() == [1.0, 0.0]
    assert [reduction(name) for name in ("mean", "ratio", "f1")] == [mean_metric, ratio_metric, f1_from_counts]


def test_reductions_reject_the_wrong_number_of_statistics() -> None:
    with pytest.raises(ValueError, match=re.escape("mean_metric needs one statistic per example, "
                                                   "(..., n_examples, 1), got (2, 2)")):
        mean_metric([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=re.escape("ratio_metric needs (..., n_examples, 2) statistics, got (1, 3)")):
        ratio_metric([[1, 2, 3]])
    with pytest.raises(ValueError, match=re.escape("f1_from_counts needs (..., n_examples, 3) counts, got (1, 2)")):
        f1_from_counts([[1, 2]])
    with pytest.raises(ValueError, match=re.escape("reduce: expected one of mean, ratio, f1, got 'median'")):
        reduction("median")


def test_example_scores_check_their_shape_and_give_the_metric() -> None:
    assert ExampleScores("ratio", [[1, 2], [1, 2]]).metric() == 0.5
    assert ExampleScores("mean", [[1], [0]]).array().shape == (2, 1)
    assert ExampleScores("mean", [1, 0, 1]).array().tolist() == [[1.0], [0.0], [1.0]]  # flat rows: one each
    with pytest.raises(ValueError, match=re.escape("reduce: expected one of mean, ratio, f1, got 'sum'")):
        ExampleScores("sum", [[1]]).array()
    with pytest.raises(ValueError, match=re.escape("reduce 'f1' takes 3 statistics per example, got 2")):
        ExampleScores("f1", [[1, 2]]).array()


def test_the_digest_is_sha256_of_the_keys_in_order() -> None:
    expected = hashlib.sha256("a\x00b\x00".encode()).hexdigest()
    assert examples_digest(["a", "b"]) == expected
    assert examples_digest(["b", "a"]) != expected and examples_digest(["ab"]) != expected
    assert examples_digest(["é"]) == hashlib.sha256("é".encode("utf-8") + b"\x00").hexdigest()


def test_the_file_text_and_its_round_trip(tmp_path: Path) -> None:
    scores = {"acc": ExampleScores("mean", [[1], [0]]), "f1": ExampleScores("f1", [[1, 1, 2], [0, 1, 0]])}
    text = example_table_json(["x", "y"], scores)
    assert text.endswith("}\n") and ", " not in text and ": " not in text  # compact separators
    assert json.loads(text) == {"format": 1, "n_examples": 2, "examples_digest": examples_digest(["x", "y"]),
                                "metrics": {"acc": {"reduce": "mean", "values": [[1.0], [0.0]]},
                                            "f1": {"reduce": "f1", "values": [[1.0, 1.0, 2.0], [0.0, 1.0, 0.0]]}}}
    path = tmp_path / EXAMPLES_FILE
    path.write_text(text)
    table = read_example_table(path)
    assert (table.digest, table.n_examples) == (examples_digest(["x", "y"]), 2)
    assert table.metrics["acc"].metric() == 0.5 and table.metrics["f1"].metric() == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match=re.escape("metric acc: 1 rows of statistics for 2 examples")):
        example_table_json(["x", "y"], {"acc": ExampleScores("mean", [[1]])})
    with pytest.raises(ValueError, match=re.escape("reduce 'ratio' takes 2 statistics per example, got 1")):
        example_table_json(["x"], {"acc": ExampleScores("ratio", [[1]])})


@pytest.mark.parametrize("content, reason", [
    (None, "No such file"),
    ("not json", "Expecting value"),
    ('{"format": 2}', "format 2, expected 1"),
    ('{"n_examples": 1}', "format None, expected 1"),
    ('{"format": 1, "n_examples": 1, "examples_digest": "d"}', "'metrics'"),
    ('{"format": 1, "n_examples": 2, "examples_digest": "d", "metrics": {"acc": {"reduce": "mean", "values": [[1]]}}}',
     "metric acc: 1 rows for 2 examples"),
    ('{"format": 1, "n_examples": 1, "examples_digest": "d", "metrics": {"acc": {"reduce": "f1", "values": [[1]]}}}',
     "reduce 'f1' takes 3 statistics per example, got 1"),
    ('{"format": 1, "n_examples": 1, "examples_digest": "d", "metrics": {"acc": {"values": [[1]]}}}', "'reduce'"),
    ('{"format": 1, "n_examples": 1, "examples_digest": "d", "metrics": {"acc": {"reduce": "mean"}}}', "'values'"),
    ('{"format": 1, "n_examples": 1, "examples_digest": "d", "metrics": []}', "has no attribute 'items'"),
    ('[1]', "has no attribute 'get'"),
])
def test_a_file_that_is_not_the_format_is_named(tmp_path: Path, content: str | None, reason: str) -> None:
    path = tmp_path / EXAMPLES_FILE
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError) as info:
        read_example_table(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a {EXAMPLES_FILE} file (") and message.endswith(")") and reason in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_table_is_read_with_the_types_it_promises(tmp_path: Path) -> None:
    path = tmp_path / EXAMPLES_FILE
    path.write_text('{"format": 1, "n_examples": 1, "examples_digest": 7, "metrics": {"em": {"reduce": "mean", '
                    '"values": [[100.0]]}}}')
    table = read_example_table(path)
    assert table.digest == "7" and isinstance(table.n_examples, int) and table.metrics["em"].metric() == 100.0


def test_accuracy_scores_key_each_example_by_its_fields() -> None:
    records = [{"tokens": ["a", "é"], "gold": "pos", "pred": "pos", "id": 3},
               {"tokens": ["b"], "gold": "neg", "pred": "pos", "id": 4}]
    keys, scores = accuracy_scores(records)
    assert keys == ['[["a", "é"], "pos"]', '[["b"], "neg"]']  # ensure_ascii=False: the text as written
    assert list(scores) == ["acc"] and scores["acc"].reduce == "mean" and scores["acc"].values == [[1.0], [0.0]]
    keys, _ = accuracy_scores(records, key_fields=("id",))
    assert keys == ["[3]", "[4]"]
