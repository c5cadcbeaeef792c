"""The report's layer analyses on a fake probing suite: task × representation scores and selectivity for any task
name and metric, E_s and E_Δ against hand computations, two encoders side by side, the figures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elmo_lab.report.layers import cumulative_scores, families, gravity_rows, layer_sections
from elmo_lab.report.model import build_report

from report_helpers import write_run

PNG = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]
# test score per representation (seed 0; seed 1 adds 0.01 to every score of the family)
SCORES = {"layer 0": 0.80, "layer 1": 0.90, "layer 2": 0.88, "0..1": 0.91, "mix": 0.92}
SETTINGS = {"layer 0": ("layer", 0, None), "layer 1": ("layer", 1, None), "layer 2": ("layer", 2, None),
            "0..1": ("all", None, 1), "mix": ("all", None, None)}


def _suite_run(root: Path, task: str, rep: str, seed: int, control: bool, score: float, metric: str,
               spec: str = "default") -> None:
    mix, layer, upto = SETTINGS[rep]
    run = write_run(root / spec, placement="input", mix=mix, layer=layer, seed=seed, task=task, spec=spec,
                    task_settings={"control_task": control, "objective": f"val/{metric}", "rep": rep.replace(".", "")},
                    metrics={f"val/{metric}": score, f"test/{metric}": score})
    data = json.loads((run / "results.json").read_text())
    data["config"]["elmo"]["max_layer"] = upto
    data["config"]["task"].pop("rep")
    data["objective"] = f"val/{metric}"
    n = 2 if upto == 1 else 3
    data["layer_weights"] = {"input": {"s": [0.6, 0.4] if n == 2 else [0.2, 0.3, 0.5], "gamma": 1.0,
                                       "contributions": {"share": [0.9, 0.1] if n == 2 else [0.5, 0.25, 0.25]}}}
    (run / "results.json").write_text(json.dumps(data))


def _suite(root: Path, tasks=(("probe", "acc"), ("arc_head", "uas")), specs=("default",)) -> None:
    for spec in specs:
        for t, (task, metric) in enumerate(tasks):
            for rep, score in SCORES.items():
                for seed in (0, 1):
                    value = score - 0.1 * t + 0.01 * seed
                    _suite_run(root, task, rep, seed, False, value, metric, spec)
                    _suite_run(root, task, rep, seed, True, value - 0.3, metric, spec)


def test_representations_scores_selectivity_and_centers_of_gravity(tmp_path: Path) -> None:
    _suite(tmp_path)
    report = build_report([tmp_path])
    fams, reps = families(report)
    assert reps == ["layer 0", "layer 1", "layer 2", "0..1", "mix"]
    assert [(f.task, f.metric) for f in fams] == [("arc_head", "test/uas"), ("probe", "test/acc")]
    probe = fams[1]
    assert probe.score("layer 1") == (pytest.approx(0.905), pytest.approx(0.00707, abs=1e-4))
    assert probe.selectivity("mix")[0] == pytest.approx(0.3)
    assert cumulative_scores(probe) == {0: {0: pytest.approx(0.80), 1: pytest.approx(0.91), 2: pytest.approx(0.92)},
                                        1: {0: pytest.approx(0.81), 1: pytest.approx(0.92), 2: pytest.approx(0.93)}}
    (row,) = gravity_rows(probe)
    assert row.e_s[0] == pytest.approx(0.3 + 2 * 0.5)  # Σ ℓ s_ℓ of [0.2, 0.3, 0.5]
    assert row.e_norm[0] == pytest.approx(0.25 + 2 * 0.25)
    # Δ(1) = 0.91 - 0.80 = 0.11, Δ(2) = 0.92 - 0.91 = 0.01: E_Δ = (0.11 + 0.02) / 0.12, the same for both seeds
    assert row.e_delta[:2] == (pytest.approx(0.13 / 0.12), pytest.approx(0.0, abs=1e-9))
    assert row.deltas == [pytest.approx(0.11), pytest.approx(0.01)]


def test_two_encoders_side_by_side_and_the_cli_writes_the_figures(tmp_path: Path) -> None:
    _suite(tmp_path, tasks=(("edge_spr2", "f1"),), specs=("default", "minilm"))
    report = build_report([tmp_path / "default", tmp_path / "minilm"])
    names = [f.name for f in families(report)[0]]
    assert len(names) == 2 and any("minilm" in n for n in names) and any("default" in n for n in names)
    out = tmp_path / "report"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")  # this checkout, as users run it
    result = subprocess.run([sys.executable, "-m", "elmo_lab", "report", str(tmp_path / "default"),
                             str(tmp_path / "minilm"), "--out", str(out)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in ("layers.png", "center_of_gravity.png", "layer_weights.png"):
        assert (out / name).read_bytes()[:8] == PNG
    md = (out / "report.md").read_text()
    assert "## What each layer encodes" in md and "### Selectivity per representation" in md
    assert "edge_spr2" in md and "test/f1" in md and "| 1.08 ± 0.00 |" in md  # E_Δ = 0.13 / 0.12


def test_description_lengths_per_representation_where_runs_measured_them(tmp_path: Path) -> None:
    _suite(tmp_path, tasks=(("probe", "acc"),))
    bits = {"layer 0": 30.0, "layer 1": 20.0, "layer 2": 22.0}
    for results in tmp_path.rglob("results.json"):
        data = json.loads(results.read_text())
        rep = {("layer", 0): "layer 0", ("layer", 1): "layer 1", ("layer", 2): "layer 2"}.get(
            (data["config"]["elmo"]["mix"], data["config"]["elmo"]["layer"]))
        if rep is None:
            continue  # the mixes measured nothing: their cells stay empty
        control = data["config"]["task"]["control_task"]
        kbits = bits[rep] + 10.0 * control + (1.0 if data["seed"] == 1 else 0.0)
        data["mdl"] = {"online_codelength_kbits": kbits, "uniform_codelength_kbits": 60.0, "compression": 60.0 / kbits}
        results.write_text(json.dumps(data))
    text = layer_sections(build_report([tmp_path]))
    table = text.split("### Description length (MDL)")[1]
    real = next(line for line in table.splitlines() if line.startswith("| probe |"))
    control = next(line for line in table.splitlines() if line.startswith("| probe · control task |"))
    assert "20.50 ± 0.71 (2.93 ± 0.10×)" in real and "30.50 ± 0.71" in real  # layer 1: 20 and 21 kbits
    assert "30.50 ± 0.71 (1.97 ± 0.05×)" in control  # layer 1 on the control task: 30 and 31 kbits
    assert real.rstrip().endswith("|  |  |")  # 0..1 and mix: not measured
