"""``task=classify`` on a user's own files (real MR sentences written as CSV, TSV, JSONL): batches and label names,
training end to end at every kind of placement, the same counts from every format, the CLI, one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from elmo_lab.training.pipeline import train
from tasks.classify import ClassifyDataModule
from tabular_helpers import SIZES, mr_dataset, write_rows
from learning_helpers import keyword_sentences, trained_metrics
from train_helpers import FAST, compose_train, example_metric, train_cli, train_main_in_process

ONE_EPOCH = [o for o in FAST if not o.startswith("trainer.limit_")] + ["trainer.limit_train_batches=2"]


def _task(data_dir: Path, **keys) -> dict:
    return dict(name="classify", module="tasks.classify", data_dir=str(data_dir), train_file=None, dev_file=None,
                test_file=None, text_field="text", label_field="label", tokenized=False, skip_empty=False,
                max_tokens=None, dev_fraction=0.1, split_seed=0, min_count=1, lowercase=True, batch_size=8,
                eval_batch_size=16, num_workers=0, **keys)


def test_datamodule_batches_and_label_names(tmp_path: Path) -> None:
    dm = ClassifyDataModule(_task(mr_dataset(tmp_path)), seed=0)
    assert dm.data_sizes() == SIZES
    info = dm.model_info()
    assert info["label_names"] == ["negative", "positive"] and info["num_classes"] == 2
    batch = next(iter(dm.train_dataloader()))
    assert batch["word_ids"].shape[0] == 8 and "encoder_input" not in batch  # the biLM's layers come from the cache
    assert set(batch["labels"].tolist()) <= {0, 1}
    assert dm.chance_levels() == {"val/acc": 0.5, "test/acc": 0.5}


@pytest.mark.slow
@pytest.mark.parametrize("placement", ["none", "input", "both"])
def test_trains_at_each_placement_with_predictions_and_per_class_f1(placement: str, tiny_bilm_dir: Path,
                                                                    tmp_path: Path) -> None:
    data, run = mr_dataset(tmp_path / "data", ".jsonl"), tmp_path / "run"
    train(compose_train(ONE_EPOCH + ["task=classify", f"task.data_dir={data}", f"bilm.spec={tiny_bilm_dir}",
                                     f"elmo.placement={placement}"], run_dir=run))
    results = json.loads((run / "results.json").read_text())
    metrics = results["metrics"]
    assert {"test/acc", "test/macro_f1", "test/f1_negative", "test/f1_positive", "val/acc"} <= set(metrics)
    records = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(SIZES["test"]))
    assert {r["gold"] for r in records} == {"negative", "positive"} and {r["pred"] for r in records} <= {
        "negative", "positive"}
    assert sum(r["gold"] == r["pred"] for r in records) / len(records) == pytest.approx(metrics["test/acc"])
    assert example_metric(run, "acc") == pytest.approx(metrics["test/acc"])
    assert sorted(results["layer_weights"]) == {"none": [], "input": ["input"], "both": ["input", "output"]}[placement]
    assert results["data_notes"]["labels"] == ["negative", "positive"]


@pytest.mark.slow
def test_csv_tsv_and_jsonl_of_one_set_give_the_same_counts(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    seen = []
    for suffix in (".csv", ".tsv", ".jsonl"):
        data, run = mr_dataset(tmp_path / suffix[1:], suffix), tmp_path / f"run{suffix}"
        train(compose_train(ONE_EPOCH + ["task=classify", f"task.data_dir={data}", f"bilm.spec={tiny_bilm_dir}",
                                         "elmo.placement=none", "trainer.max_epochs=1"], run_dir=run))
        results = json.loads((run / "results.json").read_text())
        seen.append((results["data_sizes"], results["data_notes"]["label_counts"], results["data_notes"]["labels"]))
    assert seen[0] == seen[1] == seen[2] and seen[0][0] == SIZES


@pytest.mark.slow
def test_train_py_classify_through_the_cli(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    data, run = mr_dataset(tmp_path / "data", ".csv", splits=("train", "test")), tmp_path / "run"
    result = train_cli([*FAST, "task=classify", f"task.data_dir={data}", "elmo.placement=both",
                        f"bilm.spec={tiny_bilm_dir}", f"hydra.run.dir={run}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/acc" in result.stdout and (run / "predictions.jsonl").is_file()
    notes = json.loads((run / "results.json").read_text())["data_notes"]
    assert "no dev file" in notes["splits"]
    assert notes["label_counts"]["dev"] == {"negative": 2, "positive": 2}  # round(0.1 * 24) of each label


def test_a_bad_row_is_one_error_line_and_nothing_is_written(tmp_path: Path, monkeypatch, capsys) -> None:
    data = mr_dataset(tmp_path / "data")
    with open(data / "test.csv", "a", encoding="utf-8") as handle:
        handle.write("an extra, unquoted comma,positive\n")
    run = tmp_path / "run"
    status, err = train_main_in_process(["task=classify", f"task.data_dir={data}", "elmo.placement=none",
                                         "logger=csv", f"hydra.run.dir={run}"], tmp_path, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1, err
    assert lines[0] == (f"error: {data / 'test.csv'}:{SIZES['test'] + 2}: 3 fields, expected 2 (the header's "
                        "columns: text, label)")
    assert not run.exists()


def test_config_errors_name_the_key(tmp_path: Path, monkeypatch, capsys) -> None:
    status, err = train_main_in_process(["task=classify", "elmo.placement=none"], tmp_path, monkeypatch, capsys)
    assert status == 2 and err.strip().startswith("error: task.data_dir: no data; set task.data_dir=DIR")
    status, err = train_main_in_process(["task=classify", "task.encoder=bnc"], tmp_path, monkeypatch, capsys)
    assert status == 2 and "task.encoder: invalid value 'bnc'; valid choices: bilstm, bcn" in err
    write_rows(tmp_path / "train.csv", [("good", "1")])
    status, err = train_main_in_process(["task=classify", f"task.train_file={tmp_path / 'train.csv'}",
                                         "task.dev_fraction=0.9"], tmp_path, monkeypatch, capsys)
    assert status == 2 and "task.dev_fraction: must be in (0, 0.5], got 0.9" in err


@pytest.mark.learning
def test_three_topics_are_learned_far_above_chance(tmp_path: Path) -> None:
    names = ["sport", "music", "money"]
    for split, n, seed in (("train", 90, 0), ("dev", 30, 1), ("test", 30, 2)):
        rows = [(" ".join(words), names[label]) for words, label in keyword_sentences(n, ["goal team coach", "song band tune", "bank cash loan"],
                                                                                        seed)]
        write_rows(tmp_path / "data" / f"{split}.csv", rows)
    metrics = trained_metrics(["task=classify", f"task.data_dir={tmp_path / 'data'}", "task.hidden_dim=8",
                               "task.batch_size=10", "task.lr=0.03", "task.dropout=0.0", "trainer.max_epochs=10"],
                              tmp_path / "run")
    assert metrics["test/acc"] >= 0.8 and metrics["test/macro_f1"] >= 0.8  # chance: 1/3
