"""Kill train.py (SIGKILL) after its first epoch, rerun the same command: it resumes from checkpoints/last.ckpt
and ends with the same metrics as an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from elmo_lab.training.pipeline import train

from conftest import FAST, REPO, compose_train

pytestmark = pytest.mark.slow


def test_killed_run_resumes_to_the_same_metrics(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    overrides = FAST + [f"bilm.spec={tiny_bilm_dir}", "elmo.placement=both", "trainer.max_epochs=3",
                        "trainer.limit_train_batches=60"]
    train(compose_train(overrides, run_dir=tmp_path / "uninterrupted"))
    expected = json.loads((tmp_path / "uninterrupted" / "results.json").read_text())

    run_dir = tmp_path / "killed"
    cmd = [sys.executable, str(REPO / "train.py"), *overrides, f"hydra.run.dir={run_dir}"]
    env = dict(os.environ, WANDB_MODE="offline")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let the checkpoint write finish
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert last.is_file() and not (run_dir / "results.json").exists(), "the run was not killed mid-way"

    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "Restoring states from the checkpoint path" in rerun.stdout + rerun.stderr
    resumed = json.loads((run_dir / "results.json").read_text())
    assert resumed["metrics"] == expected["metrics"]
    assert resumed["layer_weights"] == expected["layer_weights"]
    # the final weights too (the metrics above come from the best epoch, which may precede the kill)
    import torch

    final = [torch.load(d / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
             for d in (tmp_path / "uninterrupted", run_dir)]
    assert final[0].keys() == final[1].keys()
    assert [k for k in final[0] if not torch.equal(final[0][k], final[1][k])] == []
