"""The natural mistakes around ``train.py`` / ``pretrain.py``, called as a user calls them (subprocess): each is one
``error:`` line, exit status 2, and leaves nothing behind in the working directory (no ``outputs/`` folders).  The
first group fails before torch loads (about half a second each); the second needs the biLM, the data or the model
built, but still fails before any training (one of them in a fresh interpreter, the rest through ``train.py``'s
``__main__`` in this process).  Ctrl-C exits with status 130."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tabular_helpers import mr_rows, write_rows
from train_helpers import FAST, REPO, in_process_error_line, one_error_line, train_cli

LIGHT = [
    (["seed=-1"], "error: seed: must be in [0, 4294967295] (numpy's seeds), got -1"),
    (["+task.hidden_dimm=3"], "error: +task.hidden_dimm=3: task has no key hidden_dimm (did you mean "
                              "task.hidden_dim?), and nothing would read a new one; valid keys: name, module,"),
    (["+foo=1"], "error: +foo=1: the config has no key foo, and nothing would read a new one; valid keys: task,"),
    (["trainer.max_epochs=0"], "error: trainer.max_epochs: must be >= 1 (or -1: until another limit stops it), got 0"),
    (["-m", "seed=0,1", "--cfg", "job"], "error: --cfg/--info show one job's config: drop -m"),
]


@pytest.mark.parametrize("args, expected", LIGHT)
def test_a_mistake_before_torch_is_one_line_and_leaves_nothing(args: list[str], expected: str,
                                                               tmp_path: Path) -> None:
    assert one_error_line(train_cli(args, tmp_path)).startswith(expected)
    assert list(tmp_path.iterdir()) == []


def test_a_new_key_in_an_untyped_node_is_passed_on(tmp_path: Path) -> None:
    """``+trainer.X`` is a Lightning Trainer argument: accepted (here the next check refuses the run)."""
    result = train_cli(["+trainer.profiler=simple", "trainer.max_epochs=0"], tmp_path)
    assert one_error_line(result).startswith("error: trainer.max_epochs:")


def test_help_lists_the_launchers_the_error_accepts(tmp_path: Path) -> None:
    listed = next(line for line in train_cli(["--help"], tmp_path).stdout.splitlines()
                  if line.strip().startswith("hydra/launcher:"))
    error = one_error_line(train_cli(["hydra/launcher=nope"], tmp_path))
    assert error.split("valid choices: ")[1] == listed.split(":", 1)[1].strip()


def test_help_shows_the_numbered_probe_layers_as_one_range() -> None:
    from elmo_lab.run.cli import _numbered_runs

    assert _numbered_runs(["glove", "layer0", "layer1", "layer10", "layer2", "mix"]) == ["glove", "layer0 … layer10", "mix"]
    assert _numbered_runs(["layer0", "layer1", "mix"]) == ["layer0", "layer1", "mix"]  # few: listed as they are


@pytest.mark.skipif(shutil.which("srun") is not None, reason="a SLURM machine: the sweep would be submitted")
def test_slurm_launcher_without_slurm(tmp_path: Path) -> None:
    result = train_cli(["-m", "seed=0,1", "hydra/launcher=slurm"], tmp_path)
    assert one_error_line(result).startswith("error: hydra/launcher=slurm: no srun on this machine")
    assert list(tmp_path.iterdir()) == []


def test_pretrain_max_time_in_another_format(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    result = subprocess.run([sys.executable, str(REPO / "pretrain.py"), "trainer.max_time=50min"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert one_error_line(result) == ("error: trainer.max_time: expected DD:HH:MM:SS (e.g. 00:00:50:00 for 50 "
                                      "minutes), got '50min'")
    assert list(tmp_path.iterdir()) == []


def _labelled(folder: Path, two_labels: bool = True) -> Path:
    """A tiny CSV data set (real MR sentences) in ``folder``: both labels, or only ``positive``."""
    for split, n in (("train", 20), ("dev", 6), ("test", 6)):
        write_rows(folder / f"{split}.csv", [(text, label if two_labels else "positive") for text, label in mr_rows(n)])
    return folder


@pytest.mark.slow
def test_mistakes_found_once_the_model_is_built_fail_before_training(tmp_path: Path, monkeypatch, capsys) -> None:
    """The first case runs as a user runs it (a fresh interpreter); the others run ``train.py`` as ``__main__`` in
    this process, the same code path without the ~5 s of importing torch each."""
    data, one_label = _labelled(tmp_path / "data"), _labelled(tmp_path / "one_label", two_labels=False)
    tiny = ["task=classify", f"task.data_dir={data}", "elmo.placement=none"]
    cases = [
        (["elmo.mix=layer", "elmo.layer=7"], "error: elmo.layer: the encoder has layers 0..2 (0 = its token layer), "
                                             "got 7"),
        (["experiment=probe_layers", "probe=layer0", "elmo.layer=3"], "error: elmo.layer: the encoder has layers 0..2"),
        (["experiment=probe_layers", "probe=upto3"], "error: elmo.max_layer: the encoder has layers 0..2"),
        (["experiment=probe_layers", "probe=layer1", "elmo.max_layer=1"], "error: elmo.max_layer: the mix of layers "
                                                                          "0..k needs k >= 0 and elmo.mix=all"),
        ([*tiny, "task.objective=val/f1"], "error: task.objective: task classify logs no val/f1; valid choices: "
                                           "val/acc, val/f1_negative, val/f1_positive, val/loss, val/macro_f1"),
        (["task=classify", f"task.data_dir={one_label}", "elmo.placement=none"],
         f"error: {one_label / 'train.csv'}: every training example has the label 'positive'; a classifier needs at "
         "least two labels"),
    ]
    if not torch.cuda.is_available():
        cases.append(([*tiny, "trainer=gpu"], "error: trainer: No supported gpu backend found! "
                                              "(pytorch_lightning.Trainer refused these settings)"))
    work = tmp_path / "work"
    work.mkdir()
    quick = [o for o in FAST if not o.startswith("task.")]  # the probe has no task.hidden_dim
    for i, (args, expected) in enumerate(cases):
        line = (one_error_line(train_cli([*args, *quick], work)) if i == 0 else
                in_process_error_line([*args, *quick], work, monkeypatch, capsys))
        assert line.startswith(expected), (args, line)
        assert list(work.iterdir()) == [], args


@pytest.mark.slow
def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    args = [*FAST, "task=classify", f"task.data_dir={_labelled(tmp_path / 'data')}", "elmo.placement=none",
            "trainer.max_epochs=-1", f"hydra.run.dir={run_dir}"]  # no limit: runs until interrupted
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not (run_dir / "checkpoints").is_dir() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)  # the first epoch's checkpoint: inside fit
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == ("error: interrupted (rerun the same command to resume from "
                                            "checkpoints/last.ckpt)")
