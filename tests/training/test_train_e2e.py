"""train.py end to end on MR with a tiny biLM: every placement × mix, results.json, heatmap, wandb offline,
determinism, skip/refuse on rerun.  (Resume after a kill: test_resume.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from elmo_lab.config.schema import ConfigError
from elmo_lab.training.pipeline import train

from conftest import compose_train

pytestmark = pytest.mark.slow


def _run(overrides: list[str], run_dir: Path) -> dict:
    train(compose_train(overrides, run_dir=run_dir))
    return json.loads((run_dir / "results.json").read_text())


@pytest.mark.parametrize("mix", ["all", "top", "average"])
@pytest.mark.parametrize("placement", ["none", "input", "output", "both"])
def test_every_placement_and_mix_trains(placement: str, mix: str, fast_overrides: list[str], tmp_path: Path) -> None:
    results = _run(fast_overrides + [f"elmo.placement={placement}", f"elmo.mix={mix}", "bilm.cache=false"],
                   tmp_path)
    assert results["placement"] == placement and results["mix"] == mix
    assert 0.0 <= results["metrics"]["val/acc"] <= 1.0 and 0.0 <= results["metrics"]["test/acc"] <= 1.0
    expected = {"none": [], "input": ["input"], "output": ["output"], "both": ["input", "output"]}[placement]
    assert sorted(results["layer_weights"]) == expected
    for w in results["layer_weights"].values():
        assert len(w["s"]) == 3 and sum(w["s"]) == pytest.approx(1.0, abs=1e-5)
        assert w["center_of_gravity"] == pytest.approx(w["s"][1] + 2 * w["s"][2])  # E_s, any task's mix
        shares = w["contributions"]["share"]  # measured on the test pass, every mix of every task
        assert w["contributions"]["split"] == "test" and sum(shares) == pytest.approx(1.0)
        assert (shares[2] == 1.0) if mix == "top" else all(0 < x < 1 for x in shares)
        if mix == "top":
            assert w["s"] == [0.0, 0.0, 1.0]
        if mix == "average":
            assert w["s"] == pytest.approx([1 / 3] * 3)
    assert (tmp_path / "layer_weights.png").is_file() == (placement != "none")


def test_results_heatmap_and_wandb_offline_run(fast_overrides: list[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb_home"))
    run_dir = tmp_path / "run"
    overrides = [o for o in fast_overrides if not o.startswith("logger=")] + ["logger=many", "elmo.placement=both",
                                                                           "elmo.l2_coef=0.1"]
    try:
        results = _run(overrides, run_dir)
    finally:
        wandb.finish()
    assert set(results) >= {"task", "placement", "seed", "metrics", "layer_weights", "data_sizes", "config"}
    assert results["task"] == "mr" and results["seed"] == 0 and results["l2_coef"] == 0.1
    assert results["data_sizes"] == {"train": 6826, "dev": 852, "test": 852}
    assert {"val/acc", "val/macro_f1", "test/acc", "test/macro_f1"} <= set(results["metrics"])
    assert results["config"]["elmo"]["placement"] == "both"
    assert set(results["layer_weights"]) == {"input", "output"}
    assert all(isinstance(w["gamma"], float) for w in results["layer_weights"].values())
    assert (run_dir / "layer_weights.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1 and any(offline_runs[0].glob("*.wandb"))
    csv_header = (run_dir / "csv" / "version_0" / "metrics.csv").read_text().splitlines()[0]
    assert "val/acc" in csv_header and "layer_weights/input/s0" in csv_header


def test_same_seed_gives_identical_metrics(fast_overrides: list[str], tmp_path: Path) -> None:
    overrides = fast_overrides + ["elmo.placement=both", "trainer.max_epochs=2", "trainer.limit_train_batches=5",
                                  "bilm.cache=false"]
    first = _run(overrides, tmp_path / "a")
    second = _run(overrides, tmp_path / "b")
    assert first["metrics"] == second["metrics"]
    assert first["layer_weights"] == second["layer_weights"]
    third = _run(overrides + ["seed=1"], tmp_path / "c")
    assert third["layer_weights"] != first["layer_weights"]


def test_finished_run_is_skipped_and_a_changed_config_refused(fast_overrides: list[str], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    overrides = fast_overrides + ["elmo.placement=input", "bilm.cache=false"]
    first = _run(overrides, tmp_path)
    stamp = (tmp_path / "results.json").stat().st_mtime_ns
    assert train(compose_train(overrides, run_dir=tmp_path)) == first["metrics"]["val/acc"]
    assert "run already finished" in capsys.readouterr().out
    assert (tmp_path / "results.json").stat().st_mtime_ns == stamp
    (tmp_path / "results.json").unlink()  # as if killed before the end
    moved = overrides + [f"bilm.cache_dir={tmp_path / 'elsewhere'}"]  # where layers are kept cannot change a result
    assert _run(moved, tmp_path)["metrics"] == first["metrics"]  # resumed from last.ckpt, not refused
    (tmp_path / "results.json").unlink()
    with pytest.raises(ConfigError, match=r"another config \(task.hidden_dim: 8 -> 9\)"):
        train(compose_train(overrides + ["task.hidden_dim=9"], run_dir=tmp_path))
    forced = _run(overrides + ["task.hidden_dim=9", "force=true"], tmp_path)
    assert forced["config"]["task"]["hidden_dim"] == 9


def test_bcn_encoder_with_elmo_at_both_places(fast_overrides: list[str], tmp_path: Path) -> None:
    results = _run(fast_overrides + ["task.encoder=bcn", "elmo.placement=both", "elmo.layer_norm=true",
                                     "bilm.cache=false"], tmp_path)
    assert results["config"]["task"]["encoder"] == "bcn" and set(results["layer_weights"]) == {"input", "output"}


def test_bilm_finetuning_runs_before_task_training(fast_overrides: list[str], tmp_path: Path, tiny_bilm_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline's wiring (fine-tuning itself is tested in tests/lm): called once with the task's text, its
    report saved, the biLM frozen again afterwards, and not called again on a resume."""
    import elmo_lab.lm.finetune as finetune

    calls = []

    def fake_finetune(bilm, train_sentences, dev_sentences, **kwargs):
        calls.append((len(train_sentences), len(dev_sentences), kwargs, next(bilm.parameters()).device.type))
        bilm.requires_grad_(True)
        return {"before": {"average": 100.0}, "after": {"average": 50.0}}

    monkeypatch.setattr(finetune, "finetune_bilm", fake_finetune)
    overrides = fast_overrides + ["elmo.placement=input", "bilm.finetune.enabled=true", "bilm.finetune.max_steps=2"]
    results = _run(overrides, tmp_path)
    assert len(calls) == 1 and calls[0][:2] == (6826, 852)
    assert calls[0][2]["max_steps"] == 2 and calls[0][2]["seed"] == 0
    assert calls[0][3] == "cpu"  # the trainer's device (tests/gpu: "cuda" with trainer=gpu)
    assert results["finetune"] == {"before": {"average": 100.0}, "after": {"average": 50.0}, "device": "cpu"}
    assert json.loads((tmp_path / "finetune.json").read_text()) == results["finetune"]
    # a fine-tuned biLM is kept in checkpoints, and (bilm.freeze) was not trained further with the task
    import torch

    from elmo_lab.bilm.pretrained import load_named_bilm

    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    original = load_named_bilm(str(tiny_bilm_dir)).state_dict()
    assert all(torch.equal(state[f"elmo.encoder.bilm.{k}"], v) for k, v in original.items())
    (tmp_path / "results.json").unlink()
    model_calls = len(calls)
    train(compose_train(overrides, run_dir=tmp_path))  # resumes from last.ckpt: no second fine-tuning
    assert len(calls) == model_calls
