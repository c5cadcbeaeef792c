"""Wall time of the probing suite (``experiment=probe_suite``) on a chosen subset, per job and in all, and the whole
suite's time extrapolated from it.

Runs ``python train.py -m experiment=probe_suite`` with the subset's sweep keys (the tasks, representations, controls
and seeds given) into a temporary sweep folder, with the local parallel launcher (``hydra/launcher=local``, 2 jobs)
or one job after another (``--launcher basic``).  Per job: seconds from the job directory's first file
(``run_config.yaml``, written when its checks pass) to its ``results.json``, i.e. without the process start-up the
launcher shares between jobs.  Then: the wall seconds of the command, the jobs per task of the full suite for this
encoder (``probe_choices``: representations × 2 control tasks × 2 encoders (trained, random weights) × 3 seeds)
and the extrapolation ``wall / jobs run × jobs of the suite`` per task.  The layer cache must be warm for the figures
to mean "probes on cached layers" (run the subset once first, or ``--warm``).

    python benchmarks/probe_suite.py [--tasks probe] [--probes layer0,layer1,mix] [--seeds 0]
                                     [--controls false] [--random false] [--launcher local|basic] [--warm]
                                     [--extra key=value ...] [--keep SWEEP_DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SUITE_SEEDS, SUITE_CONTROLS, SUITE_ENCODERS = 3, 2, 2  # what experiment=probe_suite sweeps besides tasks and probes


def job_seconds(sweep: Path) -> dict[str, float]:
    """``{job directory relative to the sweep: seconds from run_config.yaml to results.json}``."""
    out = {}
    for results in sorted(sweep.rglob("results.json")):
        start = results.parent / "run_config.yaml"
        if start.is_file():
            out[str(results.parent.relative_to(sweep))] = results.stat().st_mtime - start.stat().st_mtime
    return out


def run_subset(args: argparse.Namespace, sweep: Path) -> float:
    """Run the subset once into ``sweep``; return the command's wall seconds."""
    command = [sys.executable, str(REPO / "train.py"), "-m", "experiment=probe_suite", f"task={args.tasks}",
               f"probe={args.probes}", f"seed={args.seeds}", f"task.control_task={args.controls}",
               f"bilm.random_weights={args.random}", "logger=csv", "threads=1", "trainer.enable_progress_bar=false",
               f"hydra.sweep.dir={sweep}", f"hydra/launcher={'local' if args.launcher == 'local' else 'basic'}",
               *args.extra]
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: the sweep failed ({' '.join(command[2:])}):\n{result.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="probe")
    parser.add_argument("--probes", default="layer0,layer1,mix")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--controls", default="false", help="task.control_task values, e.g. false,true")
    parser.add_argument("--random", default="false", help="bilm.random_weights values, e.g. false,true")
    parser.add_argument("--launcher", choices=("local", "basic"), default="local")
    parser.add_argument("--warm", action="store_true", help="run the subset once before timing it (fills the cache)")
    parser.add_argument("--extra", nargs="*", default=[], help="more overrides, e.g. task.max_epochs=3")
    parser.add_argument("--keep", default=None, help="sweep into this folder and keep it (for the report)")
    args = parser.parse_args()

    from elmo_lab.config.schema import probe_choices
    representations = len(probe_choices({"kind": "lstm", "spec": "default"}, True).split(","))
    with tempfile.TemporaryDirectory(prefix="probe_suite_") as tmp:
        if args.warm:
            run_subset(args, Path(tmp) / "warm")
        timed = Path(args.keep) if args.keep else Path(tmp) / "timed"
        wall = run_subset(args, timed)
        jobs = job_seconds(timed)
    print(f"{'job':<60} {'seconds':>8}")
    for name, seconds in jobs.items():
        print(f"{name:<60} {seconds:8.1f}")
    suite_jobs = representations * SUITE_CONTROLS * SUITE_ENCODERS * SUITE_SEEDS
    per_job = wall / max(len(jobs), 1)
    print(f"\n{len(jobs)} jobs in {wall:.0f} s wall ({args.launcher} launcher): {per_job:.1f} s per job in all, "
          f"job bodies {sum(jobs.values()) / max(len(jobs), 1):.1f} s on average")
    print(f"the suite has {suite_jobs} jobs per task for the default biLM ({representations} representations x "
          f"{SUITE_CONTROLS} control-task settings x {SUITE_ENCODERS} encoders x {SUITE_SEEDS} seeds): "
          f"~{per_job * suite_jobs / 60:.0f} min per task like these, ~{per_job * suite_jobs * 13 / 60:.0f} min for 13 "
          f"tasks of this cost")


if __name__ == "__main__":
    main()
