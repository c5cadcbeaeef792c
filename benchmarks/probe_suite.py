"""Wall time of the probing suite (``experiment=probe_suite``, or ``probe_suite_quick``: 500 training sentences a
task): its probe-set jobs (one per task and encoder weights, each training every representation x control task x
seed of its task) on the tasks chosen, beside the same probes of one task as one Lightning job each (the baseline,
in the same run).

Runs ``python train.py -m experiment=<experiment>`` with the chosen tasks, seeds, control settings and encoder
weights into a temporary sweep folder (the local launcher: two jobs at a time on two cores), and reads each job's
``probe_set.json`` (seconds, probes).  The baseline: the representations of the POS probe (or of the first task),
control task off, seed 0, trained weights, as single jobs (``probe_set.probes=null probe=...``, the basic launcher:
one process), and the same probes as one probe-set job, both timed here.  Prints the jobs, the seconds per probe
both ways and their ratio, and the suite's wall time (extrapolated to all 13 tasks when fewer are given, by the
probes' share).  The layer cache should be warm (``--warm`` runs the whole thing once first) for the figures to mean
"probes on cached layers".

    python benchmarks/probe_suite.py [--experiment probe_suite_quick] [--tasks probe,probe_chunk] [--seeds 0,1,2]
                                     [--controls false,true] [--random false,true] [--warm] [--no-baseline]
                                     [--keep SWEEP_DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
COMMON = ["logger=csv", "threads=1", "trainer.enable_progress_bar=false"]


def run(args: list[str]) -> float:
    """``python train.py ARGS``; its wall seconds (exits naming the command when it fails)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(REPO / "train.py"), *args, *COMMON], cwd=REPO, env=ENV,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: python train.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def suite(args: argparse.Namespace, sweep: Path) -> float:
    return run(["-m", f"experiment={args.experiment}", f"task={args.tasks}", f"bilm.random_weights={args.random}",
                f"probe_set.seeds=[{args.seeds}]", f"probe_set.control_task=[{args.controls}]",
                "hydra/launcher=local", f"hydra.sweep.dir={sweep}"])


def baseline(task: str, folder: Path) -> tuple[int, float, float]:
    """(probes, seconds as single jobs, seconds as one probe-set job) of ``task``'s representations, control task
    off, seed 0."""
    from elmo_lab.config.probes import probe_choices

    probes = probe_choices({"kind": "lstm", "spec": "default"}, True)
    single = run(["-m", "experiment=probe_suite", f"task={task}", "probe_set.probes=null", f"probe={probes}",
                  "seed=0", "task.control_task=false", "hydra/launcher=basic", f"hydra.sweep.dir={folder / 'single'}",
                  "hydra.sweep.subdir=${run_name}"])
    together = run(["experiment=probe_suite", f"task={task}", "probe_set.seeds=[0]", "probe_set.control_task=[false]",
                    f"hydra.run.dir={folder / 'set' / task / 'probe-set'}"])
    return len(probes.split(",")), single, together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="arc_head,structural_distance,edge_deprel,edge_spr2,structural_depth,"
                                           "edge_entities,edge_supersense,probe,probe_chunk,probe_ner,probe_upos,"
                                           "probe_xpos,probe_deprel")
    parser.add_argument("--experiment", default="probe_suite",
                        help="probe_suite (full training splits) or probe_suite_quick (500 training sentences a task)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--controls", default="false,true", help="task.control_task values")
    parser.add_argument("--random", default="false,true", help="bilm.random_weights values")
    parser.add_argument("--warm", action="store_true", help="run everything once before timing it (fills the cache)")
    parser.add_argument("--no-baseline", action="store_true", help="leave out the single-job baseline")
    parser.add_argument("--keep", default=None, help="sweep into this folder and keep it (for the report)")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    with tempfile.TemporaryDirectory(prefix="probe_suite_") as tmp:
        if args.warm:
            suite(args, Path(tmp) / "warm")
        sweep = Path(args.keep) if args.keep else Path(tmp) / "timed"
        wall = suite(args, sweep)
        jobs = [json.loads(p.read_text()) | {"job": str(p.parent.relative_to(sweep))}
                for p in sorted(sweep.rglob("probe_set.json"))]
        base_task = "probe" if "probe" in tasks else tasks[0]  # the cheapest of the suite's tasks
        base = None if args.no_baseline else baseline(base_task, Path(tmp) / "baseline")
    print(f"{'job':<44} {'probes':>6} {'seconds':>8} {'s/probe':>8}")
    for job in jobs:
        n = len(job["probes"])
        print(f"{job['job']:<44} {n:6d} {job['seconds']:8.1f} {job['seconds'] / n:8.2f}")
    probes = sum(len(j["probes"]) for j in jobs)
    print(f"\n{len(jobs)} probe-set jobs, {probes} probes, {wall:.0f} s wall ({wall / 60:.1f} min; local launcher, "
          f"2 jobs at a time)")
    if len(tasks) < 13:
        print(f"the 13 tasks at this cost per task: ~{wall / len(tasks) * 13 / 60:.0f} min")
    if base is not None:
        n, single, together = base
        print(f"baseline ({base_task}, {n} representations, control off, seed 0, one process): {single:.0f} s as "
              f"single jobs ({single / n:.1f} s a probe), {together:.0f} s as one probe-set job "
              f"({together / n:.1f} s a probe): {single / together:.1f}x")


if __name__ == "__main__":
    main()
