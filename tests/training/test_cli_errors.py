"""Config mistakes through the real CLI: one ``error:`` line naming the key and the valid choices, exit 2, no
traceback, and no run directory left behind."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(cwd))
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, expected", [
    (["elmo.placement=bogus"], "error: elmo.placement: invalid value 'bogus'; valid choices: none, input, output, both"),
    (["elmo.mix=topp"], "error: elmo.mix: invalid value 'topp'; valid choices: all, top, average, layer"),
    (["elmo.placment=both"], "error: elmo.placment: no such key (did you mean placement?)"),
    (["task=sts"], "error: task=sts: no such option (did you mean sst?); valid choices: mr, sst, sst2"),
    (["elmo.l2_coef=-1"], "error: elmo.l2_coef: must be >= 0, got -1.0"),
])
def test_config_error_is_one_clean_line(args: list[str], expected: str, tmp_path: Path) -> None:
    result = _run(args + ["logger=csv"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [expected] or (len(lines) == 1 and lines[0].startswith(expected)), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.yaml"))
