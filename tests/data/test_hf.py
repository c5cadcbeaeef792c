"""Hugging Face datasets as task splits (``elmo_lab/data/hf.py``), from local files only: a ``save_to_disk``
folder and ``load_dataset("json", data_files=...)``; and the one-line error without the ``hf`` extra."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from elmo_lab.data.errors import DataError
from elmo_lab.data.tabular import load_labelled_splits
from tabular_helpers import SIZES, SNLI, mr_dataset
from train_helpers import FAST, compose_train

TEXT = [("text", "task.text_field")]
PAIR = [("sentence1", "task.text_fields[0]"), ("sentence2", "task.text_fields[1]")]


@pytest.fixture
def datasets(monkeypatch, tmp_path: Path):
    """The ``datasets`` library, offline, caching into this test's folder (skipped without the ``hf`` extra)."""
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    return pytest.importorskip("datasets", reason='the hf extra is not installed (pip install -e ".[hf]")')


def _task(**keys):
    return OmegaConf.create({"text_field": "text", "label_field": "label", "dev_fraction": 0.1, "split_seed": 0,
                             **keys})


def test_a_saved_dataset_dict_gives_the_rows_of_the_files(datasets, tmp_path: Path) -> None:
    data = mr_dataset(tmp_path / "files", ".jsonl")
    loaded = datasets.load_dataset("json", data_files={"train": str(data / "train.jsonl"),
                                                       "validation": str(data / "dev.jsonl"),
                                                       "test": str(data / "test.jsonl")},
                                   cache_dir=str(tmp_path / "hf_cache"))
    loaded.save_to_disk(str(tmp_path / "saved"))
    from_hf = load_labelled_splits(_task(hf_dataset=str(tmp_path / "saved")), TEXT)
    from_files = load_labelled_splits(_task(data_dir=str(data)), TEXT)
    assert {s: len(r) for s, r in from_hf.splits.items()} == SIZES
    for split in SIZES:
        assert [(r.texts, r.label) for r in from_hf.splits[split]] == [(r.texts, r.label)
                                                                        for r in from_files.splits[split]]
    assert from_hf.notes["sources"]["dev"].endswith("saved[validation]")
    assert from_hf.splits["train"][3].where.endswith("saved[train] row 3")


def test_class_labels_keep_their_names_and_order_and_minus_one_is_dropped(datasets, tmp_path: Path) -> None:
    features = datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"])})
    pairs = load_labelled_splits(_task(data_dir=str(SNLI)), PAIR, unlabelled=("-",)).splits
    ids = {"entailment": 0, "neutral": 1, "contradiction": 2}

    def split(rows, extra=()):
        return datasets.Dataset.from_dict({"premise": [" ".join(r.texts[0]) for r in rows] + [e[0] for e in extra],
                                           "hypothesis": [" ".join(r.texts[1]) for r in rows] + [e[1] for e in extra],
                                           "label": [ids[r.label] for r in rows] + [-1 for _ in extra]},
                                          features=features)

    hidden = [("A man sleeps .", "A man is awake .")]
    datasets.DatasetDict({"train": split(pairs["train"], hidden), "test": split(pairs["test"], hidden * 2)}
                         ).save_to_disk(str(tmp_path / "nli"))
    got = load_labelled_splits(_task(hf_dataset=str(tmp_path / "nli"), hf_splits={"train": "train", "test": "test"}),
                               [("premise", "k"), ("hypothesis", "k")])
    assert got.labels.names == ["entailment", "neutral", "contradiction"]  # the ClassLabel's order
    assert got.notes["dropped_no_gold_label"] == {"train": 1, "test": 2}
    assert "held out" in got.notes["sources"]["dev"]  # no validation split: part of train
    assert len(got.splits["train"]) + len(got.splits["dev"]) == 23


def test_unknown_split_names_are_one_line(datasets, tmp_path: Path) -> None:
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["ok"], "label": [1]})}).save_to_disk(
        str(tmp_path / "d"))
    with pytest.raises(DataError, match=r"d: no test split \(its splits: train\); choose one with "
                                        r"task.hf_splits.test=NAME"):
        load_labelled_splits(_task(hf_dataset=str(tmp_path / "d")), TEXT)
    with pytest.raises(DataError, match=r"task.hf_splits.test: .* has no split 'tset'"):
        load_labelled_splits(_task(hf_dataset=str(tmp_path / "d"), hf_splits={"test": "tset"}), TEXT)
    with pytest.raises(DataError, match=r"task.hf_splits: unknown split validation; expected keys train, dev, test"):
        load_labelled_splits(_task(hf_dataset=str(tmp_path / "d"), hf_splits={"validation": "x"}), TEXT)


def test_without_the_extra_the_error_says_how_to_install_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets now raises ImportError
    with pytest.raises(DataError, match=r'needs the Hugging Face datasets library: pip install -e "\.\[hf\]"'):
        load_labelled_splits(_task(hf_dataset=str(tmp_path)), TEXT)


@pytest.mark.slow
def test_train_classify_on_a_saved_dataset(datasets, tiny_bilm_dir: Path, tmp_path: Path) -> None:
    from elmo_lab.training.pipeline import train

    data = mr_dataset(tmp_path / "files", ".jsonl")
    loaded = datasets.load_dataset("json", data_files={s: str(data / f"{s}.jsonl") for s in SIZES},
                                   cache_dir=str(tmp_path / "hf_cache"))
    loaded.save_to_disk(str(tmp_path / "saved"))
    run = tmp_path / "run"
    train(compose_train(FAST + ["task=classify", f"task.hf_dataset={tmp_path / 'saved'}", "task.hf_splits.dev=dev",
                                f"bilm.spec={tiny_bilm_dir}", "elmo.placement=input"], run_dir=run))
    results = json.loads((run / "results.json").read_text())
    assert results["data_sizes"] == SIZES and results["data_notes"]["sources"]["dev"].endswith("saved[dev]")


def test_hf_config_names_the_configuration_that_is_loaded(datasets, monkeypatch, tmp_path: Path) -> None:
    """``task.hf_config=mnli`` reaches ``datasets.load_dataset(name, "mnli")``; without it, the name alone."""
    rows = {"text": ["good film", "dull plot"] * 4, "label": [1, 0] * 4}
    whole = datasets.DatasetDict({s: datasets.Dataset.from_dict(rows) for s in ("train", "test")})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args: calls.append(args) or whole)
    with_config = load_labelled_splits(_task(hf_dataset="glue", hf_config="mnli"), TEXT)
    load_labelled_splits(_task(hf_dataset="glue"), TEXT)
    assert calls == [("glue", "mnli"), ("glue",)]
    assert len(with_config.splits["test"]) == 8 and with_config.notes["sources"]["test"] == "glue[test]"
