"""``tasks/_template.py``, the minimal task to copy, trains through the pipeline like any task (one batch), with
ELMo placed by its one ``placed_encoder`` call and nothing in the core naming it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from elmo_lab.training.pipeline import train

from learning_helpers import keyword_sentences, trained_metrics
from train_helpers import FAST, compose_train

ONE_BATCH = [o for o in FAST if not o.startswith(("task.hidden_dim", "trainer.limit_"))] + [
    "trainer.limit_train_batches=1", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1"]


@pytest.mark.parametrize("placement", ["none", "both"])
def test_the_template_task_trains_one_batch(placement: str, tiny_bilm_dir: Path, tmp_path: Path) -> None:
    overrides = ONE_BATCH + ["task=mr", "task.module=tasks._template", f"elmo.placement={placement}",
                             f"bilm.spec={tiny_bilm_dir}"]
    train(compose_train(overrides, run_dir=tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0.0 <= results["metrics"]["test/acc"] <= 1.0
    assert sorted(results["layer_weights"]) == ([] if placement == "none" else ["input", "output"])
    assert results["data_sizes"]["train"] == 6826  # MR's packaged train split


@pytest.mark.learning
def test_the_template_learns_far_above_chance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks._template as template
    from elmo_lab.data import Example

    splits = {split: [Example(words, label) for words, label in keyword_sentences(n, ["bad awful dull poor", "good great fine nice"], seed)]
              for split, n, seed in (("train", 120, 0), ("dev", 20, 1), ("test", 40, 2))}
    monkeypatch.setattr(template, "rotten_tomatoes_splits", lambda seed: splits)  # its data loader, on these
    metrics = trained_metrics(["task=mr", "task.module=tasks._template", "task.batch_size=10", "task.lr=0.03",
                               "trainer.max_epochs=10"], tmp_path / "run")
    assert metrics["test/acc"] >= 0.85  # chance: 0.5
