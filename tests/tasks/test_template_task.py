"""``tasks/_template.py``, the minimal task to copy, trains through the pipeline like any task (one batch), with
ELMo placed by its one ``placed_encoder`` call and nothing in the core naming it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from elmo_lab.training.pipeline import train

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
