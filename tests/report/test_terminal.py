"""The report as a person reads it in a terminal: README's quickstart (BBC headlines, 5 seeds × none/input, 16
metrics per run) printed by ``python -m elmo_lab report`` fits 160 columns and its main table holds the compared
metric only; every other metric is in ``report.md``'s "All metrics" and in ``report.csv``; ``--metric`` adds one."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from elmo_lab.metrics.examples import ExampleScores, example_table_json
from elmo_lab.report.model import build_report
from elmo_lab.report.sections import table

from report_helpers import write_run

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("business", "entertainment", "politics", "sport", "tech")
NAMES = ("acc", "macro_f1", "loss") + tuple(f"f1_{c}" for c in CLASSES)
N_TEST = 221
# test accuracy per seed, as measured for README's quickstart (none 69.8 ± 3.5, input 76.2 ± 3.0)
ACCURACY = {"none": [0.665, 0.72, 0.68, 0.745, 0.68], "input": [0.74, 0.79, 0.735, 0.80, 0.745]}


def _quickstart_sweep(root: Path) -> Path:
    """``train.py -m task=classify task.name=bbc_headlines elmo.placement=none,input seed=0,1,2,3,4`` as it
    leaves ``multirun/bbc_headlines/default``: every run with val and test accuracy, macro F1, loss and the F1 of
    each of the five classes, and its per-example test statistics."""
    rng = np.random.default_rng(0)
    sweep = root / "multirun" / "bbc_headlines" / "default"
    for placement, accuracies in ACCURACY.items():
        for seed, acc in enumerate(accuracies):
            metrics = {f"{split}/{name}": float(acc - 0.02 * i - (0.01 if split == "val" else 0.0))
                       for split in ("val", "test") for i, name in enumerate(NAMES)}
            run = write_run(sweep, task="bbc_headlines", placement=placement, seed=seed, metrics=metrics,
                            sizes={"train": 1781, "dev": 222, "test": N_TEST}, objective="val/acc")
            correct = np.zeros(N_TEST)
            correct[rng.permutation(N_TEST)[: int(round(acc * N_TEST))]] = 1
            scores = {"acc": ExampleScores("mean", [[float(c)] for c in correct])}
            (run / "test_examples.json").write_text(example_table_json([f"headline {i}" for i in range(N_TEST)],
                                                                       scores))
    return sweep


def test_the_quickstarts_report_fits_160_columns(tmp_path: Path) -> None:
    _quickstart_sweep(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "elmo_lab", "report", "multirun/bbc_headlines/default"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 160, max(lines, key=len)
    header = next(line for line in lines if line.startswith("| task "))
    assert [c.strip() for c in header.strip("|").split("|")] == ["task", "placement", "n", "test/acc",
                                                                 "Δ test/acc vs none"]
    assert "better than none (p_adj" in result.stdout and "f1_sport" not in result.stdout
    sweep = tmp_path / "multirun" / "bbc_headlines" / "default"
    markdown = (sweep / "report.md").read_text()
    all_metrics = markdown.split("## All metrics")[1].split("\n## ")[0]
    assert all(f"{split}/{name}" in all_metrics for split in ("val", "test") for name in NAMES)
    with open(sweep / "report.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert float(row["test/f1_sport mean"]) == np.mean(ACCURACY["none"]) - 0.02 * NAMES.index("f1_sport")


def test_metrics_asked_for_join_the_main_table(tmp_path: Path) -> None:
    sweep = _quickstart_sweep(tmp_path)
    header, rows = table(build_report([sweep], ["test/acc", "val/macro_f1"], examples=False))
    assert header == ["task", "placement", "n", "test/acc", "val/macro_f1", "Δ test/acc vs none"]
    none = np.array(ACCURACY["none"])
    mean_std = [f"{m:.4f} ± {none.std(ddof=1):.4f}" for m in (none.mean(), none.mean() - 0.01 - 0.02)]
    assert rows[0][:5] == ["bbc_headlines", "none", "5", *mean_std]
