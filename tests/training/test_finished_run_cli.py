"""A finished run answers only for the settings it ran, through ``python train.py`` as a user calls it: the same
command says it is finished (exit 0), any other result-relevant setting is refused in one line naming the keys
(exit 2) and leaves every file of the directory as it was, and ``force=true`` reruns it.  One tiny MR run
(placement none: no biLM) and refusals that stop before torch loads."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from train_helpers import FAST, one_error_line, train_cli

pytestmark = pytest.mark.slow


def _files(run_dir: Path) -> dict[str, str]:
    """Every file under ``run_dir`` with its content hash and modification time."""
    return {str(p.relative_to(run_dir)): f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_mtime_ns}"
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_a_finished_run_refuses_other_settings_and_keeps_its_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["task=mr", "elmo.placement=none", *FAST, f"hydra.run.dir={run_dir}"]
    first = train_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _files(run_dir)
    assert {"results.json", "run_config.yaml", ".hydra/config.yaml"} <= set(before)

    for extra, named in [(["task.lr=0.1", "task.hidden_dim=300"], "task.hidden_dim: 8 -> 300; task.lr: 0.003 -> 0.1"),
                         (["task.data_dir=nowhere"], "task.data_dir: None -> 'nowhere'")]:
        refused = train_cli([*args, *extra], tmp_path)
        assert one_error_line(refused) == (f"error: {run_dir} holds a run started with another config ({named}); "
                                           "rerun with force=true to start it over, or pick another run_name=...")
        assert "already finished" not in refused.stdout
        assert _files(run_dir) == before

    same = train_cli([*args, "threads=2"], tmp_path)  # a result-neutral key: still the finished run
    assert same.returncode == 0 and "run already finished" in same.stdout, same.stderr[-2000:]
    assert _files(run_dir) == before

    # a run started but killed before its first checkpoint: the refusal keeps its run_config.yaml, so an identical
    # second try is refused too
    started = tmp_path / "started"
    started.mkdir()
    shutil.copy(run_dir / "run_config.yaml", started / "run_config.yaml")
    for _ in range(2):
        refused = train_cli([*args[:-1], f"hydra.run.dir={started}", "task.lr=0.1"], tmp_path)
        assert "task.lr: 0.003 -> 0.1" in one_error_line(refused)
        assert sorted(p.name for p in started.iterdir()) == ["run_config.yaml"]

    forced = train_cli([*args, "task.lr=0.1", "force=true"], tmp_path)
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert "already finished" not in forced.stdout and "results:" in forced.stdout
    assert _files(run_dir)["results.json"] != before["results.json"]
