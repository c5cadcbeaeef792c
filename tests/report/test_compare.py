"""The report's verdicts (``elmo_lab.report.compare``): Welch's p and CI equal scipy's on the same values, Holm over
the report's comparisons, seeds needed, the paired bootstrap from ``test_examples.json`` (and its absence named);
the at-chance flag; learning curves, epochs to the baseline, probing selectivity."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from elmo_lab.metrics.examples import ExampleScores, example_table_json
from elmo_lab.report.curves import epochs_to_baseline, learning_curves
from elmo_lab.report.selectivity import selectivity_pairs
from elmo_lab.report.stats import holm
from elmo_lab.report.model import build_report
from elmo_lab.report.render import numeric_table, render_markdown
from elmo_lab.report.sections import table

from report_helpers import write_run

NONE = [0.70, 0.72, 0.71, 0.69, 0.73]
INPUT = [0.78, 0.80, 0.79, 0.77, 0.80]
BOTH = [0.71, 0.74, 0.70, 0.72, 0.73]
N_TEST = 200


def _examples(run_dir: Path, correct: np.ndarray, keys: list[str] | None = None) -> None:
    keys = keys or [f"sentence {i}" for i in range(len(correct))]
    scores = {"acc": ExampleScores("mean", [[float(c)] for c in correct])}
    (run_dir / "test_examples.json").write_text(example_table_json(keys, scores))


def _sweep(root: Path, with_examples: bool = True) -> Path:
    rng = np.random.default_rng(0)
    for placement, accs in (("none", NONE), ("input", INPUT), ("both", BOTH)):
        for seed, acc in enumerate(accs):
            run = write_run(root, placement=placement, seed=seed, test=acc)
            if with_examples:
                correct = np.zeros(N_TEST)
                correct[rng.permutation(N_TEST)[: int(round(acc * N_TEST))]] = 1
                _examples(run, correct)
    return root


def test_welch_p_and_ci_equal_scipys_and_holm_runs_over_the_report(tmp_path: Path) -> None:
    report = build_report([_sweep(tmp_path / "sweep")])
    comps = {c.config.placement: c for c in report.comparisons}
    assert set(comps) == {"input", "both"}
    for placement, values in (("input", INPUT), ("both", BOTH)):
        res = sps.ttest_ind(values, NONE, equal_var=False)
        ci = res.confidence_interval(0.95)
        w = comps[placement].welch
        assert w.diff == pytest.approx(np.mean(values) - np.mean(NONE))
        assert w.p == pytest.approx(res.pvalue) and w.ci == pytest.approx((ci.low, ci.high))
    expected = holm([comps["input"].welch.p, comps["both"].welch.p])
    assert [comps["input"].p_adj, comps["both"].p_adj] == pytest.approx(expected)
    assert comps["input"].verdict.startswith("better than none (p_adj")
    sd = np.std(NONE, ddof=1) ** 2 + np.std(BOTH, ddof=1) ** 2
    # at Holm's first level, α / m = 0.05 / 2 for the report's two comparisons
    needed = int(np.ceil((sps.norm.ppf(1 - 0.025 / 2) + sps.norm.ppf(0.8)) ** 2 * sd
                         / (np.mean(BOTH) - np.mean(NONE)) ** 2))
    assert comps["both"].seeds_needed == needed
    if comps["both"].p_adj > 0.05:
        assert f"~{needed} seeds per side" in comps["both"].verdict


def test_bootstrap_over_test_examples_uses_every_seeds_predictions(tmp_path: Path) -> None:
    report = build_report([_sweep(tmp_path / "sweep")])
    comp = next(c for c in report.comparisons if c.config.placement == "input")
    bs = comp.bootstrap
    assert bs is not None and bs.n_examples == N_TEST and bs.resamples == 1000
    assert bs.delta == pytest.approx(np.mean(INPUT) - np.mean(NONE))  # each seed's accuracy, averaged per side
    assert bs.p < 0.01 and bs.ci[0] < bs.delta < bs.ci[1]
    md = render_markdown(report, [])
    assert "## Comparisons with the baseline" in md and "bootstrap p" in md and "Runs without per-example" not in md
    header, rows = numeric_table(report)
    row = next(r for r in rows if r[1] == "input")
    assert row[header.index("test/acc bootstrap p")] == pytest.approx(bs.p)
    assert row[header.index("test/acc Holm p_adj")] == pytest.approx(comp.p_adj)


def test_identical_predictions_give_bootstrap_p_one(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    correct = (np.arange(N_TEST) % 3 > 0).astype(float)
    for placement in ("none", "input"):
        for seed in range(2):
            _examples(write_run(root, placement=placement, seed=seed, test=correct.mean() + 0.001 * seed), correct)
    comp = build_report([root]).comparisons[0]
    assert comp.bootstrap.p == 1.0 and comp.bootstrap.delta == 0.0


def test_runs_without_examples_are_listed_and_other_test_sets_not_paired(tmp_path: Path) -> None:
    root = _sweep(tmp_path / "sweep")
    old = root / "mr-both-all-l2_0.001-lr0.003-seed0" / "test_examples.json"
    old.unlink()
    other = root / "mr-input-all-l2_0.001-lr0.003-seed1"
    _examples(other, np.ones(N_TEST), keys=[f"other {i}" for i in range(N_TEST)])
    report = build_report([root])
    comps = {c.config.placement: c for c in report.comparisons}
    assert comps["both"].bootstrap is None and "has no test_examples.json" in comps["both"].bootstrap_note
    assert comps["input"].bootstrap is None and "different examples" in comps["input"].bootstrap_note
    md = render_markdown(report, [])
    assert "## Runs without per-example test statistics (1)" in md and str(old.parent) in md
    assert comps["both"].p_adj is not None  # the seed statistics still count


def test_runs_at_chance_are_flagged(tmp_path: Path) -> None:
    root = _sweep(tmp_path / "sweep", with_examples=False)
    write_run(root, placement="both", seed=9, test=0.5,
              chance={"levels": {"test/acc": 0.5, "val/acc": 0.5}, "at_chance": ["test/acc", "val/acc"]})
    report = build_report([root])
    header, rows = table(report)
    assert next(r for r in rows if r[1] == "both")[header.index("n")] == "6 (1 at chance)"
    md = render_markdown(report, [])
    assert "## Runs at chance level (1, kept in the statistics above)" in md


def _history(best: float, epochs: int, rise: float) -> list[dict]:
    return [{"epoch": e, "step": 10 * e, "val/acc": best - rise * (epochs - e)} for e in range(1, epochs + 1)]


def test_learning_curve_and_epochs_to_the_baseline(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    for fraction, size in ((0.1, 683), (1.0, 6826)):
        for placement, best, rise in (("none", 0.70 + 0.05 * fraction, 0.01), ("input", 0.75 + 0.05 * fraction, 0.02)):
            for seed in range(3):
                write_run(root, placement=placement, seed=seed, test=best + 0.01 * seed,
                          sizes={"train": size, "dev": 852, "test": 852}, task_settings={"train_fraction": fraction},
                          history=_history(best + 0.01 * seed - 0.01, 6, rise))
    report = build_report([root])
    curves = learning_curves(report.configs, report.task_metric)
    (families,) = curves.values()
    assert len(families) == 2 and all([c.runs[0].data_sizes["train"] for c in m] == [683, 6826]
                                      for m in families.values())
    comp = next(c for c in report.comparisons if c.config.placement == "input"
                and c.config.settings["task.train_fraction"] == 0.1)
    e = epochs_to_baseline(comp.config)
    # the baseline's best, mean over seeds: 0.705 + 0.01 * mean(0, 1, 2) - 0.01; input rises 0.02 per epoch from
    # 0.755 - 0.01 - 0.1 at epoch 1, so seeds 0/1/2 reach it at epochs 4/3/3 ... computed from the histories:
    target = np.mean([0.705 + 0.01 * s - 0.01 for s in range(3)])
    assert e["target"] == pytest.approx(target)
    expected = [next(h["epoch"] for h in _history(0.755 + 0.01 * s - 0.01, 6, 0.02) if h["val/acc"] >= target)
                for s in range(3)]
    assert e["config"] == (pytest.approx(np.mean(expected)), 3, 3)
    assert e["baseline"][1:] == (2, 3)  # seed 0's best is below the mean of the bests: never reached
    md = render_markdown(report, [])
    assert "## Learning curve: mr, test/acc" in md and "683 train examples" in md
    assert "## Epochs to the baseline's best dev score" in md and "not reached (2 of 3)" in md


def test_probing_selectivity(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    for layer, acc, control in ((1, 0.95, 0.70), (2, 0.93, 0.60)):
        for seed in range(3):
            for flag, value in ((False, acc), (True, control)):
                write_run(root, placement="input", mix="layer", layer=layer, seed=seed, test=value + 0.001 * seed,
                          task="probe", task_settings={"control_task": flag})
    report = build_report([root])
    pairs = selectivity_pairs(report.configs)
    assert sorted(r.settings["elmo.layer"] for r, _ in pairs) == [1, 2]
    md = render_markdown(report, [])
    assert "## Probing selectivity" in md
    assert "+0.2500 ± 0.0008" in md and "+0.3300 ± 0.0008" in md  # 0.95 - 0.70, 0.93 - 0.60
    json.dumps(numeric_table(report), default=str)


@pytest.mark.slow
def test_a_seeded_mr_sweep_through_the_cli_gets_every_verdict_column(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    """``train.py -m`` over placements and seeds writes one run folder per job, named after its overrides; then
    ``python -m elmo_lab report`` as a user runs them.  The fixed settings come from an extra config
    (``experiment=tiny``) so that the job folders stay short."""
    import subprocess
    import sys

    from train_helpers import FAST, REPO, settings_group, train_cli

    settings = [o for o in FAST if not o.startswith("logger")] + [f"bilm.spec={tiny_bilm_dir}"]
    extra = settings_group(tmp_path / "extra", "experiment", "tiny", settings)
    sweep = tmp_path / "sweep"
    args = ["-m", f"--config-dir={extra}", "experiment=tiny", "task=mr", "elmo.placement=none,input", "seed=0,1",
            "logger=csv", f"hydra.sweep.dir={sweep}"]
    result = train_cli(args, tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = sorted(p.parent.name for p in sweep.glob("*/test_examples.json"))
    assert runs == [f"elmo.placement={p},experiment=tiny,seed={s},task=mr" for p in ("input", "none") for s in (0, 1)]
    report = subprocess.run([sys.executable, "-m", "elmo_lab", "report", str(sweep)], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    md = (sweep / "report.md").read_text()
    assert "## Comparisons with the baseline" in md and "Runs without per-example" not in md
    row = next(line for line in md.splitlines() if line.startswith("| mr | placement=input"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 12 and cells[-1].startswith(("better", "worse", "no difference", "not tested"))
    assert cells[10] != "—"  # the paired bootstrap over the test sentences ran


def test_a_corrupt_examples_file_is_named_and_the_seed_statistics_stand(tmp_path: Path) -> None:
    root = _sweep(tmp_path / "sweep")
    bad = root / "mr-input-all-l2_0.001-lr0.003-seed2" / "test_examples.json"
    bad.write_text('{"format": 1, "n_examples": 3, "examples_digest": "x", "metrics": {"acc": ')
    report = build_report([root])
    comp = next(c for c in report.comparisons if c.config.placement == "input")
    assert comp.bootstrap is None and str(bad) in comp.bootstrap_note and "not a test_examples.json" in comp.bootstrap_note
    assert comp.p_adj is not None and "No bootstrap where: " in render_markdown(report, [])
