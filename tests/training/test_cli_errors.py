"""Config mistakes through the real CLI: one ``error:`` line naming the key and the valid choices, exit 2, no
traceback, and no run directory left behind."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from train_helpers import REPO, train_cli, train_main_in_process

# the task group's options, read from its folder (files starting with "_" are shared parts, not choices)
TASK_CHOICES = sorted(p.stem for p in (REPO / "conf" / "task").glob("*.yaml") if not p.stem.startswith("_"))


# Through a fresh ``python train.py`` each: an override error, a missing group option, and two checks that run
# inside the job (``config.validate``), after Hydra has created the run directory.
@pytest.mark.parametrize("args, expected", [
    (["elmo.placement=bogus"], "error: elmo.placement: invalid value 'bogus'; valid choices: none, input, output, both"),
    (["task=sts"], "error: task=sts: no such option (did you mean sst?); valid choices: " + ", ".join(TASK_CHOICES)),
    (["elmo.l2_coef=-1"], "error: elmo.l2_coef: must be >= 0, got -1.0"),
    (["task.objective=test/acc"], "error: task.objective: must be a validation metric (val/...), got 'test/acc'"),
])
def test_config_error_is_one_clean_line(args: list[str], expected: str, tmp_path: Path) -> None:
    result = train_cli(args + ["logger=csv"], tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [expected] or (len(lines) == 1 and lines[0].startswith(expected)), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.yaml"))


# More composition errors through the same script, run as ``__main__`` with the command line in ``sys.argv`` (what
# ``python train.py ...`` does) but in this process: each fresh interpreter would spend ~10 s importing torch.
@pytest.mark.parametrize("args, expected", [
    (["elmo.mix=topp"], "error: elmo.mix: invalid value 'topp'; valid choices: all, top, average, layer"),
    (["elmo.placment=both"], "error: elmo.placment: no such key (did you mean placement?)"),
    (["task.encoder=bnc"], "error: task.encoder: invalid value 'bnc'; valid choices: bilstm, bcn"),
    (["task.optimizer=adamm"], "error: task.optimizer: invalid value 'adamm'; valid choices: adam, adamw, sgd"),
])
def test_composition_error_is_one_clean_line(args: list[str], expected: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    status, err = train_main_in_process([*args, "logger=csv"], tmp_path, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1 and lines[0].startswith(expected), err
    assert not (tmp_path / "outputs").exists()


def test_a_rerun_with_another_config_is_refused_before_torch_loads(tmp_path: Path) -> None:
    """The run-directory check runs in the light entry-point code: the refusal costs no torch import, and the
    started run it protects keeps its config."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)  # a started run
    (run_dir / "run_config.yaml").write_text("seed: 99\n")
    probe = ("import os, runpy, sys\nsys.argv = sys.argv[1:]\nsys.path.insert(0, os.path.dirname(sys.argv[0]))\n"
             "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nfinally:\n"
             "    print('torch imported' if 'torch' in sys.modules else 'torch not imported', file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe, str(REPO / "train.py"), f"hydra.run.dir={run_dir}",
                             "logger=csv"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 2, result.stderr
    assert lines[0].startswith(f"error: {run_dir} holds a run started with another config ("), lines[0]
    assert lines[1] == "torch not imported"
    assert (run_dir / "run_config.yaml").read_text() == "seed: 99\n"
