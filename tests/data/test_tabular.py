"""The CSV / TSV / JSONL readers of ``task=classify`` and ``task=pairs``: quoting, BOM, the SNLI release's ``-``
labels, split files, the held-out dev split, and one ``file:line`` line for every kind of bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from elmo_lab.data.errors import DataError
from elmo_lab.data.tabular import (LabelSet, find_split_files, held_out_dev, labelled_rows, load_labelled_splits,
                                   read_table)
from elmo_lab.data.tokenize import tokenize
from tabular_helpers import SIZES, SNLI, mr_dataset, mr_rows, write_rows

TEXT = [("text", "task.text_field")]
LABEL = ("label", "task.label_field")
PAIR = [("sentence1", "task.text_fields[0]"), ("sentence2", "task.text_fields[1]")]


def _task(**keys) -> OmegaConf:
    return OmegaConf.create({"text_field": "text", "label_field": "label", "dev_fraction": 0.1, "split_seed": 0,
                             **keys})


def test_csv_quoting_commas_newlines_and_a_bom(tmp_path: Path) -> None:
    quoted = 'a film that says "yes, and" to\nevery idea , and means it .'
    path = write_rows(tmp_path / "train.csv", [(quoted, "1"), *mr_rows(2)], bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    table = read_table(path)
    assert table.columns == ["text", "label"]  # the BOM is not part of the first column's name
    assert table.rows[0][1]["text"] == quoted
    assert [where for where, _ in table.rows] == [f"{path}:2", f"{path}:4", f"{path}:5"]  # the line a row starts on
    rows, _ = labelled_rows(table, TEXT, LABEL)
    assert rows[0].texts[0] == tokenize(quoted) and rows[1].texts[0] == tokenize(mr_rows(1)[0][0])


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_tsv_and_jsonl_give_the_rows_of_the_csv(tmp_path: Path, suffix: str) -> None:
    rows = mr_rows(20)
    assert any('"' in text for text, _ in rows) and any("," in text for text, _ in rows)  # real quoting to get right
    expected = labelled_rows(read_table(write_rows(tmp_path / "a.csv", rows)), TEXT, LABEL)[0]
    got = labelled_rows(read_table(write_rows(tmp_path / f"a{suffix}", rows)), TEXT, LABEL)[0]
    assert [(r.texts, r.label) for r in got] == [(r.texts, r.label) for r in expected]


def test_labels_strings_or_integers_and_their_order(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in
                            [("good", 10), ("bad", 2), ("fine", 2.0), ("meh", "10")]), encoding="utf-8")
    rows, _ = labelled_rows(read_table(path), TEXT, LABEL)
    assert [r.label for r in rows] == ["10", "2", "2", "10"]
    assert LabelSet.from_train(rows).names == ["2", "10"]  # integers: numeric order
    assert LabelSet.from_train(rows, order=["10", "2", "7"]).names == ["10", "2"]  # a dataset's own order


def test_tokenized_text_is_split_on_whitespace(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "train.tsv", [("don't  stop-me now", "a")])
    rows, _ = labelled_rows(read_table(path), TEXT, LABEL, tokenized=True)
    assert rows[0].texts[0] == ["don't", "stop-me", "now"]


def test_the_snli_release_is_read_as_published_and_dash_labels_are_dropped_and_counted() -> None:
    data = load_labelled_splits(_task(data_dir=str(SNLI)), PAIR, unlabelled=("-",))
    assert {split: len(rows) for split, rows in data.splits.items()} == {"train": 23, "dev": 6, "test": 9}
    assert data.notes["dropped_no_gold_label"] == {"train": 1, "dev": 1, "test": 0}
    assert data.labels.names == ["contradiction", "entailment", "neutral"]  # gold_label, "-" never a class
    first = data.splits["train"][0]
    assert first.texts[0][:3] == ["A", "person", "on"] and first.label == "neutral"
    assert first.where.endswith("snli_1.0_train.jsonl:1")


def test_split_files_by_name_aliases_and_explicit_paths(tmp_path: Path) -> None:
    mr_dataset(tmp_path, ".tsv", splits=("train", "test"))
    write_rows(tmp_path / "validation.jsonl", mr_rows(4))
    files = find_split_files(tmp_path)
    assert {k: p.name for k, p in files.items()} == {"train": "train.tsv", "dev": "validation.jsonl",
                                                     "test": "test.tsv"}
    assert find_split_files(tmp_path, dev_file="train.tsv")["dev"] == tmp_path / "train.tsv"  # relative to data_dir
    write_rows(tmp_path / "train.csv", mr_rows(4))
    with pytest.raises(DataError, match=r"more than one train file \(train.csv, train.tsv\); name one with "
                                        r"task.train_file"):
        find_split_files(tmp_path)


@pytest.mark.parametrize("name", ["dev", "validation", "valid", "validation_matched", "multinli_1.0_dev_matched"])
def test_a_dev_file_goes_by_the_names_hugging_face_splits_go_by(tmp_path: Path, name: str) -> None:
    mr_dataset(tmp_path, ".tsv", splits=("train", "test"))
    write_rows(tmp_path / f"{name}.jsonl", mr_rows(4))
    assert find_split_files(tmp_path)["dev"] == tmp_path / f"{name}.jsonl"


def test_no_dev_file_holds_out_a_seeded_stratified_part_of_train(tmp_path: Path) -> None:
    mr_dataset(tmp_path, splits=("train", "test"))
    data = load_labelled_splits(_task(data_dir=str(tmp_path), dev_fraction=0.25), TEXT)
    assert len(data.splits["dev"]) == 12 and len(data.splits["train"]) == SIZES["train"] - 12
    assert data.notes["label_counts"]["dev"] == {"negative": 6, "positive": 6}
    assert "held out with split_seed 0" in data.notes["splits"]
    again = load_labelled_splits(_task(data_dir=str(tmp_path), dev_fraction=0.25), TEXT)
    other = held_out_dev(data.splits["train"] + data.splits["dev"], 0.25, seed=1)[1]
    assert again.splits["dev"] == data.splits["dev"]  # seeded: the same part every time
    assert {r.where for r in other} != {r.where for r in data.splits["dev"]}


def _bad(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


BAD = {
    "missing column": ("train.csv", "review,label\ngood film,1\n", r"train\.csv:1: no column 'text' "
                       r"\(task\.text_field\); the header's columns: review, label"),
    "missing field": ("train.jsonl", '{"text": "ok", "label": 1}\n{"txt": "ok", "label": 1}\n',
                      r"train\.jsonl:2: no field 'text' \(task\.text_field\)"),
    "empty text": ("train.csv", 'text,label\ngood,1\n"  ",0\n', r"train\.csv:3: empty text in 'text'"),
    "wrong number of fields": ("train.csv", "text,label\ngood,1\na, b, c,0\n",
                               r"train\.csv:3: 4 fields, expected 2 \(the header's columns: text, label\)"),
    "tsv wrong number of fields": ("train.tsv", "text\tlabel\ngood\t1\tx\n", r"train\.tsv:2: 3 fields, expected 2"),
    "empty file": ("train.csv", "", r"train\.csv: empty file \(expected a header row"),
    "header only": ("train.tsv", "text\tlabel\n", r"train\.tsv: no rows after the header"),
    "not utf-8": ("train.csv", "text,label\ngood,1\ncaf\xe9 cr\xe8me,0\n".encode("latin-1"),
                  r"train\.csv:3: not UTF-8 text \(byte 0xe9\)"),
    "invalid json": ("train.jsonl", '{"text": "ok", "label": 1}\n{"text": "ok", "label": }\n',
                     r"train\.jsonl:2: not valid JSON \(Expecting value at column 25\)"),
    "stray quote": ("train.csv", 'text,label\n"good" film,1\n', r"train\.csv:2: malformed CSV"),
    "unterminated quote": ("train.csv", 'text,label\ngood,1\n"never closed,0\n', r"train\.csv:3: malformed CSV"),
    "null label": ("train.jsonl", '{"text": "ok", "label": null}\n', r"train\.jsonl:1: no label in field 'label'"),
    "text not a string": ("train.jsonl", '{"text": 3, "label": 1}\n', r"train\.jsonl:1: field 'text' "
                          r"\(task\.text_field\) is int, expected a string"),
    "unknown format": ("train.txt", "good\t1\n", r"train\.txt: unknown format '\.txt'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_bad_input_is_one_line_naming_file_and_line(tmp_path: Path, case: str) -> None:
    name, content, message = BAD[case]
    with pytest.raises(DataError, match=message) as error:
        labelled_rows(read_table(_bad(tmp_path, name, content)), TEXT, LABEL)
    assert "\n" not in str(error.value)


def test_a_dev_label_unseen_in_train_names_file_and_line(tmp_path: Path) -> None:
    mr_dataset(tmp_path, ".jsonl")
    with open(tmp_path / "dev.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "a film of its time .", "label": "neutral"}) + "\n")
    with pytest.raises(DataError, match=r"dev\.jsonl:13: label 'neutral' does not occur in the training data "
                                        r"\(its labels: negative, positive\)"):
        load_labelled_splits(_task(data_dir=str(tmp_path)), TEXT)


def test_missing_split_files_and_folder_say_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no such folder \(task\.data_dir\)"):
        find_split_files(tmp_path / "nowhere")
    mr_dataset(tmp_path, splits=("train", "dev"))
    with pytest.raises(DataError, match=r"no test file \(expected test\.csv, test\.tsv or test\.jsonl"):
        find_split_files(tmp_path)
    with pytest.raises(DataError, match=r"nope\.csv: no such file \(task\.test_file\)"):
        find_split_files(tmp_path, test_file="nope.csv")


def test_skip_empty_and_max_tokens_are_counted(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "train.csv", [("", "a"), ("one two three four", "b"), ("five", "a")])
    rows, counts = labelled_rows(read_table(path), TEXT, LABEL, skip_empty=True, max_tokens=2)
    assert [r.texts[0] for r in rows] == [["one", "two"], ["five"]]
    assert counts == {"no_gold_label": 0, "empty_text": 1, "truncated": 1}
