"""``python -m elmo_lab report``: grouping by configuration, mean/std over seeds, the difference to the ``none``
baseline and its standard error, left-out runs, the written files, the CLI and its errors, wandb logging."""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from elmo_lab.cli.report import run_report, write_report
from elmo_lab.report.model import build_report
from elmo_lab.report.render import numeric_table
from elmo_lab.report.sections import table
from elmo_lab.report.runs import ReportError

from report_helpers import write_run

REPO = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (placement, mix, layer, λ, task.lr) -> test accuracy per seed; val = test - 0.01
SWEEP = {
    ("none", "all", None, 0.001, 0.003): [0.70, 0.72, 0.71],
    ("input", "all", None, 0.001, 0.003): [0.78, 0.80, 0.79],
    ("both", "all", None, 0.001, 0.003): [0.71, 0.74, 0.70],
    ("input", "all", None, 1.0, 0.003): [0.75],
    ("input", "all", None, 0.001, 0.001): [0.76, 0.77],
    ("input", "layer", 0, 0.001, 0.003): [0.73, 0.74],
    ("input", "layer", 1, 0.001, 0.003): [0.77, 0.79],
    ("input", "layer", 2, 0.001, 0.003): [0.76, 0.76],
}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A multirun folder: the configurations of SWEEP plus one run of each kind that must be left out."""
    root = tmp_path / "multirun" / "mr" / "default"
    for (placement, mix, layer, l2, lr), tests in SWEEP.items():
        for seed, acc in enumerate(tests):
            write_run(root, placement=placement, mix=mix, layer=layer, l2=l2, lr=lr, seed=seed, test=acc)
    write_run(root, placement="none", l2=1.0, seed=0, test=0.70)  # the none baseline again: duplicate seed 0
    write_run(root, seed=3, test=0.99, sizes={"train": 100, "dev": 852, "test": 852})  # other data
    write_run(root, seed=4, test=0.99, spec="/elsewhere/default")  # another biLM under the same name
    (root / "killed" / "checkpoints").mkdir(parents=True)
    (root / "killed" / "checkpoints" / "last.ckpt").write_bytes(b"ckpt")
    (root / "corrupt").mkdir()
    (root / "corrupt" / "results.json").write_text('{"task": "mr", "metrics": ')
    return root


def _config(report, placement: str, mix: str = "all", l2: float = 0.001, lr: float = 0.003, layer=None):
    found = [c for c in report.configs if c.settings["elmo.placement"] == placement
             and c.settings.get("elmo.mix", "all") == mix and c.settings.get("elmo.l2_coef", 0.001) == l2
             and c.settings["task.lr"] == lr and c.settings.get("elmo.layer") == layer]
    assert len(found) == 1, found
    return found[0]


def test_runs_differing_only_by_seed_form_one_configuration(sweep):
    report = build_report([sweep])
    assert len(report.configs) == len(SWEEP)
    assert report.columns == ["elmo.placement", "elmo.mix", "elmo.layer", "elmo.l2_coef", "task.lr"]
    assert [c.settings["elmo.placement"] for c in report.configs][0] == "none"  # the baseline comes first
    for (placement, mix, layer, l2, lr), tests in SWEEP.items():
        c = _config(report, placement, mix, l2, lr, layer)
        assert sorted(r.seed for r in c.runs) == list(range(len(tests)))
        mean, std, n = c.mean_std("test/acc")
        assert n == len(tests) and mean == pytest.approx(np.mean(tests))
        assert std == (pytest.approx(np.std(tests, ddof=1)) if len(tests) > 1 else None)
        assert c.mean_std("val/acc")[0] == pytest.approx(np.mean(tests) - 0.01)


def test_difference_to_the_none_baseline_and_its_standard_error(sweep):
    report = build_report([sweep])
    base = SWEEP[("none", "all", None, 0.001, 0.003)]
    for key, significant in [(("input", "all", None, 0.001, 0.003), True),
                             (("both", "all", None, 0.001, 0.003), False)]:
        tests = SWEEP[key]
        d = report.difference(_config(report, *key[:2], key[3], key[4], key[2]))
        se = math.sqrt(np.var(tests, ddof=1) / len(tests) + np.var(base, ddof=1) / len(base))
        assert d.delta == pytest.approx(np.mean(tests) - np.mean(base))
        assert d.se == pytest.approx(se)
        comp = next(x for x in report.comparisons if x.config is _config(report, *key[:2], key[3], key[4], key[2]))
        assert (comp.p_adj <= 0.05) is significant and comp.verdict.startswith("better" if significant else "no")
    single = report.difference(_config(report, "input", l2=1.0))
    assert single.se is None
    assert _config(report, "input", lr=0.001).baseline is None  # no none run with task.lr=0.001


def test_table_shows_each_difference_with_its_standard_error(sweep):
    report = build_report([sweep])
    header, rows = table(report)
    assert header == ["task", "placement", "mix", "layer", "λ", "task.lr", "n", "test/acc", "Δ test/acc vs none"]
    by_label = {tuple(r[1:6]): r for r in rows}
    assert by_label[("none", "—", "—", "—", "0.003")][-1] == "baseline"
    assert by_label[("none", "—", "—", "—", "0.003")][6] == "3"
    assert by_label[("input", "all", "—", "0.001", "0.003")][-1] == "+0.0800 ± 0.0082"
    assert by_label[("both", "all", "—", "0.001", "0.003")][-1] == "+0.0067 ± 0.0133"
    assert by_label[("input", "all", "—", "1", "0.003")][-1] == "+0.0400 ± —"
    assert by_label[("input", "all", "—", "1", "0.003")][7] == "0.7500 ± —"
    assert by_label[("input", "all", "—", "0.001", "0.001")][-1] == "—"


def test_left_out_runs_are_listed_with_their_reason(sweep):
    report = build_report([sweep])
    issues = {(Path(i.path).name, i.kind): i.reason for i in report.issues}
    assert set(issues) == {("killed", "incomplete"), ("corrupt", "unreadable"),
                           ("mr-input-all-l2_0.001-lr0.003-seed3", "mismatched"),
                           ("mr-input-all-l2_0.001-lr0.003-seed4", "mismatched"),
                           ("mr-none-all-l2_1.0-lr0.003-seed0", "duplicate")}
    assert "checkpoints/last.ckpt" in issues[("killed", "incomplete")]
    assert issues[("corrupt", "unreadable")].startswith("results.json: invalid JSON")
    assert "data sizes" in issues[("mr-input-all-l2_0.001-lr0.003-seed3", "mismatched")]
    assert "/elsewhere/default" in issues[("mr-input-all-l2_0.001-lr0.003-seed4", "mismatched")]
    assert all(0.99 not in [r.metrics["test/acc"] for r in c.runs] for c in report.configs)


def test_files_are_written(sweep, tmp_path):
    out = tmp_path / "report"
    report = build_report([sweep])
    files = write_report(report, out)
    names = {"report.md", "report.csv", "metric.png", "layer_weights.png", "layers.png", "center_of_gravity.png",
             "probing.png"}
    assert {f.name for f in files} == names and {p.name for p in out.iterdir()} == names  # no temp files left
    for name in names - {"report.md", "report.csv"}:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
    markdown = (out / "report.md").read_text()
    assert "standard error of the difference" in markdown and "![metric](metric.png)" in markdown
    assert "## Incomplete, failed or mismatched runs (4, left out)" in markdown
    assert "## Repeated runs (1, counted once)" in markdown  # the none baseline again: expected, not a problem
    with open(out / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(SWEEP)
    row = next(r for r in rows if r["placement"] == "input" and r["λ"] == "0.001" and r["task.lr"] == "0.003"
               and r["mix"] == "all")
    assert float(row["test/acc mean"]) == pytest.approx(0.79) and row["seeds"] == "0;1;2"
    assert float(row["test/acc Holm p_adj"]) <= 0.05 and row["test/acc verdict"].startswith("better than none")
    assert float(row["test/acc standard error of the difference"]) == pytest.approx(
        math.sqrt(0.0001 / 3 + 0.0001 / 3))


def test_an_earlier_reports_plots_that_no_longer_apply_are_removed(sweep, tmp_path):
    out = tmp_path / "report"
    write_report(build_report([sweep]), out)
    other = tmp_path / "other"
    write_run(other, placement="none", seed=0)
    write_run(other, placement="input", seed=0)
    files = write_report(build_report([other]), out)
    assert not (out / "probing.png").exists() and (out / "metric.png") in files


def test_none_runs_ignore_elmo_and_bilm_settings(tmp_path):
    for spec in ("default", "elmo_small"):
        for l2 in (0.001, 1.0):
            write_run(tmp_path / spec, placement="none", l2=l2, seed=int(l2), spec=spec, test=0.7 + l2 / 10)
        write_run(tmp_path / spec, placement="input", seed=0, spec=spec)
    report = build_report([tmp_path / "default", tmp_path / "elmo_small"])
    baselines = [c for c in report.configs if c.is_baseline]
    assert len(baselines) == 1 and len(baselines[0].runs) == 2
    assert [i.kind for i in report.issues] == ["duplicate", "duplicate"]
    assert report.columns == ["bilm.spec", "elmo.placement"]
    assert all(c.baseline is baselines[0] for c in report.configs if not c.is_baseline)


def test_metric_defaults_to_the_test_side_of_the_objective_and_tasks_keep_their_own(tmp_path):
    f1 = {"val/f1": 0.8, "test/f1": 0.81, "val/acc": 0.9, "test/acc": 0.91}
    write_run(tmp_path, task="ner", placement="none", metrics=f1, objective="val/f1")
    write_run(tmp_path, task="ner", placement="input", metrics=f1, objective="val/f1")
    write_run(tmp_path, task="mr", placement="input")
    report = build_report([tmp_path])
    assert report.task_metric == {"ner": "test/f1", "mr": "test/acc"}
    assert report.metrics == ["val/acc", "test/acc", "val/f1", "test/f1"]
    assert report.delta_metrics == ["test/f1"]
    assert build_report([tmp_path], metric="val/acc").task_metric == {"ner": "val/acc", "mr": "val/acc"}
    with pytest.raises(ReportError, match="--metric test/em: no run has it"):
        build_report([tmp_path], metric="test/em")


def test_minimal_and_future_results_are_read_and_bad_ones_named(tmp_path):
    minimal = {"task": "qa", "placement": "input", "mix": "all", "l2_coef": 0.1, "seed": 0,
               "metrics": {"test/em": 0.5, "test/f1": 0.6, "val/em": None}, "new_key": {"anything": [1]}}
    text_metric = {**minimal, "metrics": {"test/em": "hi"}}
    for name, data in [("minimal", minimal), ("list", [1]), ("text_metric", text_metric), ("no_task", {"metrics": {}})]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(data))
    report = build_report([tmp_path])
    (config,) = report.configs
    assert config.settings == {"elmo.placement": "input", "elmo.mix": "all", "elmo.l2_coef": 0.1}
    assert report.task_metric == {"qa": "test/em"}  # no objective, no test/acc: the first test metric
    assert config.mean_std("val/em") == (None, None, 0)
    reasons = {Path(i.path).name: i.reason for i in report.issues}
    assert reasons == {"list": "results.json: not a JSON object", "no_task": "results.json: no 'task'",
                       "text_metric": "results.json: metric 'test/em' is not a number ('hi')"}


@pytest.mark.parametrize("name, expected", [("missing", "missing: no such file or directory"),
                                            ("empty", "no readable results.json under ")])
def test_bad_input_is_a_user_error(tmp_path, name, expected):
    (tmp_path / "empty" / "half_done" / "checkpoints").mkdir(parents=True)
    with pytest.raises(ReportError, match=expected):
        build_report([tmp_path / name])


def test_out_must_be_a_folder(sweep, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ReportError, match="--out .*file: exists and is not a folder"):
        run_report(argparse.Namespace(sweep_dirs=[str(sweep)], out=str(tmp_path / "file"), metric=None, wandb=False))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "elmo_lab", "report", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_prints_the_table_and_writes_into_the_sweep(sweep, tmp_path):
    result = _cli(str(sweep), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("| task "))
    assert [c.strip() for c in header.strip("|").split("|")] == ["task", "placement", "mix", "layer", "λ", "task.lr",
                                                                 "n", "test/acc", "Δ test/acc vs none"]
    assert "+0.0800 ± 0.0082" in result.stdout and "unreadable" in result.stdout
    assert "## Repeated runs (1, counted once)" in result.stdout
    assert "## Comparisons with the baseline" in result.stdout and "better than none (p_adj" in result.stdout
    assert (sweep / "report.md").is_file() and (sweep / "metric.png").read_bytes()[:8] == PNG_SIGNATURE
    assert build_report([sweep]).n_runs == sum(map(len, SWEEP.values()))  # its own files are not runs


def test_a_callback_used_by_one_of_two_sweeps_is_one_on_off_column(tmp_path):
    root = tmp_path / "two_sweeps"
    for early, offset in (("", 0.0), ("es", 0.02)):
        for placement in ("none", "input"):
            for seed in range(2):
                run = write_run(root / (early or "plain"), placement=placement, seed=seed,
                                test=0.70 + 0.01 * seed + (0.05 if placement == "input" else 0) + offset)
                if early:
                    data = json.loads((run / "results.json").read_text())
                    data["config"]["callbacks"]["early_stopping"] = {
                        "_target_": "pytorch_lightning.callbacks.EarlyStopping", "monitor": "val/acc", "patience": 3}
                    (run / "results.json").write_text(json.dumps(data))
    result = _cli(str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = re.sub(r" +", " ", result.stdout)  # the terminal's table pads its columns
    assert "| task | placement | callbacks.early_stopping | n |" in text
    assert "| mr | input | on | 2 |" in text and "| mr | input | off | 2 |" in text
    assert "early_stopping.patience" not in result.stdout


def test_cli_error_is_one_line_with_exit_status_2(tmp_path):
    result = _cli(str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nowhere'}: no such file or directory"]
    (tmp_path / "empty").mkdir()
    result = _cli(str(tmp_path / "empty"), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: no readable results.json under")
    assert len(result.stderr.strip().splitlines()) == 1


def test_wandb_logs_the_table_and_plots_offline(sweep, tmp_path, monkeypatch):
    logged, inits = {}, {}
    fake = types.SimpleNamespace(
        Table=lambda columns, data: ("table", columns, data), Image=lambda path: ("image", path),
        init=lambda **kw: inits.update(kw) or types.SimpleNamespace(log=logged.update, finish=lambda: None))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    out = tmp_path / "out"
    run_report(argparse.Namespace(sweep_dirs=[str(sweep)], out=str(out), metric=None, wandb=True))
    assert os.environ["WANDB_MODE"] == "offline" and inits["dir"] == str(out)
    kind, columns, data = logged["report/table"]
    assert (kind, columns, len(data)) == ("table", numeric_table(build_report([sweep]))[0], len(SWEEP))
    assert {k for k in logged if k != "report/table"} == {"report/metric", "report/layer_weights", "report/layers",
                                                          "report/center_of_gravity", "report/probing"}
