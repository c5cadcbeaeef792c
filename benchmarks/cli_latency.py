"""How fast the entry points answer a config mistake or ``--help``, beside the cost of importing torch alone.

Both entry points (``train.py``, ``pretrain.py``) compose and validate with only the light schema modules
(``elmo_lab/config/``): torch and Lightning load after the config is known good, so a typo costs about what
starting Python and Hydra costs.  Each command runs in a fresh
process; the best of ``--repeats`` wall-clock times is kept (robust to a busy machine).

    python benchmarks/cli_latency.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "train.py elmo.placment=both (typo)": [sys.executable, "train.py", "elmo.placment=both"],
    "train.py elmo.placement=bogus": [sys.executable, "train.py", "elmo.placement=bogus"],
    "train.py elmo.l2_coef=-1 (range)": [sys.executable, "train.py", "elmo.l2_coef=-1"],
    "train.py task.encoder=x (task key)": [sys.executable, "train.py", "task.encoder=x"],
    "train.py --help": [sys.executable, "train.py", "--help"],
    "pretrain.py bilm_arch.bad_key=1 (key)": [sys.executable, "pretrain.py", "bilm_arch.bad_key=1"],
    "pretrain.py data.batching=streams": [sys.executable, "pretrain.py", "data.batching=streams"],
    "pretrain.py model.lr=-1 (range)": [sys.executable, "pretrain.py", "model.lr=-1"],
    "pretrain.py --help": [sys.executable, "pretrain.py", "--help"],
}
# a rerun into a started run directory whose saved config differs: refused in the light code as well
REFUSED = {"train.py (rerun, another config)": "train.py", "pretrain.py (rerun, another config)": "pretrain.py"}


def started_run_dir(root: Path) -> Path:
    """A run directory as a started run leaves it (checkpoints/, run_config.yaml), with a config no rerun matches."""
    run_dir = root / "run"
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run_dir / "run_config.yaml").write_text("seed: 99\n")
    return run_dir


def best_seconds(argv: list[str], repeats: int) -> tuple[float, int]:
    """The fastest of ``repeats`` runs of ``argv`` from the repo root, and its exit status."""
    best, status = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        status = subprocess.run(argv, cwd=REPO, capture_output=True).returncode
        best = min(best, time.perf_counter() - start)
    return best, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    baseline = None
    print(f"{'command':<40} {'seconds':>8} {'× import torch':>15} {'exit':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = started_run_dir(Path(tmp))
        commands = {**COMMANDS, **{name: [sys.executable, script, f"hydra.run.dir={run_dir}"]
                                   for name, script in REFUSED.items()}}
        for name, argv in commands.items():
            seconds, status = best_seconds(argv, args.repeats)
            baseline = baseline or seconds
            print(f"{name:<40} {seconds:8.2f} {seconds / baseline:15.2f} {status:5d}")


if __name__ == "__main__":
    main()
