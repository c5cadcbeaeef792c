"""Documented settings by what they do: early stopping stops, ``task.per_class_f1=false`` drops the per-class
scores, ``logger=wandb`` writes an offline W&B run and ``logger=none`` no log at all, ``bilm.stateful`` and
``bilm.recurrence`` reach the biLM."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from learning_helpers import keyword_sentences, trained_metrics
from tabular_helpers import write_rows
from train_helpers import compose_train


def _keyword_csvs(folder: Path) -> Path:
    for split, n, seed in (("train", 60, 0), ("dev", 20, 1), ("test", 20, 2)):
        rows = [(" ".join(words), name) for words, label in keyword_sentences(n, ["bad dull", "good nice"], seed)
                for name in [("neg", "pos")[label]]]
        write_rows(folder / f"{split}.csv", rows)
    return folder


CLASSIFY = ["task=classify", "task.hidden_dim=8", "task.batch_size=10", "task.lr=0.05", "task.dropout=0.0"]


def test_early_stopping_stops_when_dev_accuracy_stops_rising(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    data, run = _keyword_csvs(tmp_path / "data"), tmp_path / "run"
    try:
        metrics = trained_metrics(CLASSIFY + [f"task.data_dir={data}", "trainer.max_epochs=40",
                                              "callbacks=early_stopping", "callbacks.early_stopping.patience=2",
                                              "task.per_class_f1=false", "logger=wandb"], run)
    finally:
        import wandb

        wandb.finish()  # run_job finishes it for train.py; called in-process here, its summary would land later
    history = [h["val/acc"] for h in json.loads((run / "results.json").read_text())["history"]]
    best = history.index(max(history))
    assert max(history) == 1.0 and len(history) == best + 1 + 2 < 40  # two epochs without a better dev score
    assert "test/acc" in metrics and not [k for k in metrics if "f1_" in k]  # per_class_f1=false
    assert len(list((run / "wandb").glob("offline-run-*/run-*.wandb"))) == 1  # logger=wandb, offline
    assert not (run / "csv").exists()


def test_logger_none_writes_no_log_but_the_results(tmp_path: Path) -> None:
    data, run = _keyword_csvs(tmp_path / "data"), tmp_path / "run"
    metrics = trained_metrics(CLASSIFY + [f"task.data_dir={data}", "trainer.max_epochs=1", "logger=none"], run)
    assert {"test/f1_neg", "test/f1_pos"} <= set(metrics)  # per_class_f1 defaults to true
    assert (run / "results.json").is_file() and not (run / "csv").exists() and not (run / "wandb").exists()


@pytest.mark.parametrize("stateful", [False, True])
def test_bilm_stateful_carries_the_lstm_state_from_batch_to_batch(stateful: bool, tiny_bilm_dir: Path) -> None:
    from elmo_lab.elmo.provider import ContextualLayers

    cfg = compose_train(["task=mr", f"bilm.spec={tiny_bilm_dir}", f"bilm.stateful={str(stateful).lower()}"])
    elmo = ContextualLayers.from_config(cfg.bilm, needed=True)
    tokens = [["The", "film", "was", "fine", "."], ["A", "dull", "plot", "."]]
    first, second = elmo.layers(tokens), elmo.layers(tokens)  # (batch, L + 1, time, dim) each
    assert (elmo.cache is None) == stateful  # carried state: layers depend on batch order, never cached
    assert torch.equal(first[:, 0], second[:, 0])  # the token layer has no state
    assert torch.equal(first[:, 1:], second[:, 1:]) != stateful  # the LSTM layers start from the last batch's state


def test_bilm_recurrence_picks_the_recurrence_the_run_uses(tiny_bilm_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import elmo_lab.bilm.recurrence as recurrence
    from elmo_lab.bilm.recurrence_masked import set_recurrence

    monkeypatch.delenv("ELMO_LAB_RECURRENCE", raising=False)
    used = []
    real = recurrence.recurrence_backend
    monkeypatch.setattr(recurrence, "recurrence_backend", lambda device: used.append(real(device)) or used[-1])
    data = _keyword_csvs(tmp_path / "data")
    try:
        trained_metrics(CLASSIFY + [f"task.data_dir={data}", "trainer.max_epochs=1", f"bilm.spec={tiny_bilm_dir}",
                                    "elmo.placement=input", "bilm.cache=false", "bilm.recurrence=masked"],
                        tmp_path / "run")
    finally:
        set_recurrence("loop")  # a process-wide setting: the default again for the tests after this one
    assert used and set(used) == {"masked"}
