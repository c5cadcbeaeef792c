"""The Hydra launchers of ``conf/hydra/launcher``: ``local`` (parallel jobs on this machine, joblib) runs a sweep
through the real CLI; ``slurm`` (submitit) asks SLURM for what the trainer needs — checked on the job script it
hands to ``sbatch`` (a stand-in here: no cluster is needed)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from train_helpers import FAST, compose_train, train_cli


def _tiny_experiment(tmp_path: Path, tiny_bilm_dir: Path) -> Path:
    """FAST settings as an experiment config (``experiment=tiny``), so that job directory names stay short."""
    extra = tmp_path / "extra" / "experiment"
    extra.mkdir(parents=True)
    settings = [o for o in FAST if "limit_train" not in o and not o.startswith("logger")]
    settings += ["trainer.limit_train_batches=1", "bilm.cache=false", f"bilm.spec={tiny_bilm_dir}"]
    (extra / "tiny.yaml").write_text("# @package _global_\n" + OmegaConf.to_yaml(OmegaConf.from_dotlist(settings)))
    return extra.parent


@pytest.mark.slow
def test_local_launcher_runs_a_two_job_sweep_in_parallel(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    extra, sweep = _tiny_experiment(tmp_path, tiny_bilm_dir), tmp_path / "sweep"
    result = train_cli(["-m", f"--config-dir={extra}", "experiment=tiny", "logger=csv", "hydra/launcher=local",
                   "elmo.placement=none,input", f"hydra.sweep.dir={sweep}", f"bilm.cache_dir={tmp_path / 'l'}"],
                  tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    runs = sorted(p.parent.name for p in sweep.glob("*/results.json"))
    # a path (bilm.cache_dir) stays out of the job directory names, which would otherwise nest
    assert runs == ["elmo.placement=input,experiment=tiny", "elmo.placement=none,experiment=tiny"]


@pytest.mark.parametrize("overrides, nodes, tasks", [
    (["trainer=gpu"], 1, 1), (["trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"], 2, 4)])
def test_slurm_resources_follow_the_trainer(overrides: list[str], nodes: int, tasks: int) -> None:
    launcher = compose_train(["hydra/launcher=slurm", *overrides]).hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (nodes, tasks, tasks)


@pytest.mark.slow
def test_slurm_sweep_is_one_array_job_with_a_task_per_gpu(tmp_path: Path) -> None:
    """``sbatch`` and ``srun`` stand-ins: sbatch keeps the job script it is given and fails, ending the sweep."""
    bin_dir, script = tmp_path / "bin", tmp_path / "job.sh"
    bin_dir.mkdir()
    for name, body in (("sbatch", f'cp "$1" "{script}"\necho "sbatch: not a cluster" >&2\nexit 1'),
                       ("srun", "exit 1")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    result = train_cli(["-m", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "trainer=ddp", "trainer.devices=4",
                   "trainer.num_nodes=2", "seed=0,1", "elmo.placement=input,both", "logger=csv",
                   f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path,
                  env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert "sbatch: not a cluster" in result.stderr, result.stderr[-2000:]
    header = {line for line in script.read_text().splitlines() if line.startswith("#SBATCH")}
    assert {"#SBATCH --array=0-3%4", "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4",
            "#SBATCH --gpus-per-node=4", "#SBATCH --cpus-per-task=8", "#SBATCH --partition=gpu",
            "#SBATCH --time=240"} <= header, header
    assert "srun " in script.read_text()  # SLURM starts every rank; Lightning starts none
