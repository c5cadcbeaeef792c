"""The paper beside the measurement: the packaged figures of Peters et al. (2018) equal the project's notes, tasks
map to the paper's rows, ``paper_section`` lays a report out as the paper's Tables 2, 3 and 1, and
``experiment=table2`` / ``experiment=table3`` compose and sweep through the CLI into that layout."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from elmo_lab.report.paper import (TABLE2, TABLE3, find_layouts, legacy_paper_task, load_paper, metric_units,
                                   paper_section, paper_task, points, welch_delta_ci)
from elmo_lab.report.model import build_report
from train_helpers import FAST, compose_train, settings_group, train_cli

# as tests/conftest.py: ../shared beside the checkout, or $ELMO_LAB_SHARED
SHARED = Path(os.environ.get("ELMO_LAB_SHARED", Path(__file__).resolve().parents[3] / "shared"))
NOTES = SHARED / "paper-notes.md"
SIZES = {"train": 100, "dev": 20, "test": 20}
# (placement, mix, λ) -> test score per seed (val = test - 0.01)
TABLE2_SWEEP = {("none", "all", 0.001): [0.70, 0.72, 0.71], ("both", "top", 0.001): [0.74, 0.75, 0.76],
                ("both", "all", 1.0): [0.75, 0.77, 0.76], ("both", "all", 0.001): [0.78, 0.80, 0.79]}
TABLE3_SWEEP = {("none", "all", 0.001): [0.70, 0.72, 0.71], ("input", "all", 0.001): [0.77, 0.78, 0.79],
                ("both", "all", 0.001): [0.78, 0.80, 0.79], ("output", "all", 0.001): [0.72, 0.74, 0.73]}


@pytest.fixture(autouse=True)
def _no_aso(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's ASO (deepsig) takes seconds per configuration and is not what these tests look at."""
    from elmo_lab.report import stats

    monkeypatch.setattr(stats, "almost_stochastic_order", lambda *a, **k: None, raising=False)


def write_run(folder: Path, task: str, placement: str, mix: str, l2: float, seed: int, score: float,
              metric: str = "acc", spec: str = "default", **task_keys) -> None:
    """A run folder with the ``results.json`` the training pipeline writes (the parts the report reads)."""
    run_dir = folder / f"{task}-{spec}-{placement}-{mix}-l2_{l2}-seed{seed}"
    config = {"task": {"name": task, "module": f"tasks.{task}", "lr": 0.003, **task_keys},
              "elmo": {"placement": placement, "mix": mix, "layer": None, "layer_norm": False, "dropout": 0.5,
                       "l2_coef": l2},
              "bilm": {"spec": spec, "freeze": True}, "seed": seed, "run_name": run_dir.name,
              "optimized_metric": f"val/{metric}", "paths": {"output_dir": str(run_dir)}}
    data = {"task": task, "placement": placement, "mix": mix, "l2_coef": l2, "seed": seed,
            "metrics": {f"val/{metric}": score - 0.01, f"test/{metric}": score}, "layer_weights": {},
            "data_sizes": SIZES, "config": config}
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(data))


def write_sweep(folder: Path, sweep: dict, task: str = "mr", scale: float = 1.0, metric: str = "acc",
                spec: str = "default", **task_keys) -> Path:
    for (placement, mix, l2), scores in sweep.items():
        for seed, score in enumerate(scores):
            write_run(folder, task, placement, mix, l2, seed, score * scale, metric, spec, **task_keys)
    return folder


def plain_delta(report):
    """A stand-in for the report's Welch Δ: the difference of the means, and a fixed ± 0.01 interval."""
    def delta_ci(config):
        metric = report.task_metric[config.task]
        d = config.mean_std(metric)[0] - config.baseline.mean_std(metric)[0]
        return d, (d - 0.01, d + 0.01)
    return delta_ci


def rows_of(section: str, title: str) -> list[list[str]]:
    """The Markdown table rows (cells) under the heading ``title`` of ``section``."""
    part = section.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in part.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]


# ------------------------------------------------------------------------------------------- the paper's figures
def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]


def _notes_paragraph(text: str, start: str) -> str:
    """The paragraph of the notes that begins with ``start``, as one line."""
    return " ".join(text.split("\n" + start, 1)[1].split("\n\n", 1)[0].split())


@pytest.fixture(scope="module")
def notes() -> str:
    if not NOTES.is_file():
        pytest.skip(f"{NOTES} is absent (ELMO_LAB_SHARED points elsewhere): nothing to compare the figures with")
    return NOTES.read_text(encoding="utf-8")


@pytest.mark.parametrize("table", [2, 3])
def test_tables_2_and_3_equal_the_notes(notes: str, table: int) -> None:
    paragraph = _notes_paragraph(notes, f"Table {table} (")
    columns = paragraph.split("dev; ", 1)[1].split(")", 1)[0].split(" / ")
    found = re.findall(r"(SQuAD|SNLI|SRL) ([\d./ ]+?)[;.](?: |$)", paragraph.split("):", 1)[1])
    assert [row for row, _ in found] == ["SQuAD", "SNLI", "SRL"]
    paper = load_paper()
    for row, numbers in found:
        values = paper.row(table, row)
        assert list(values) == columns and [v.value for v in values.values()] == _numbers(numbers)
        assert {(v.split, v.units) for v in values.values()} == {("dev", "points")}


def test_table_1_equals_the_notes(notes: str) -> None:
    names = {"SQuAD v1.1": "SQuAD"}
    rows = [line.strip("|").split("|") for line in notes.splitlines() if re.match(r"\| [A-Z].* \| [\d.]+ \|", line)]
    assert len(rows) == 6
    paper = load_paper()
    for task, metric, base, elmo, *_ in rows:
        row = names.get(task.strip(), task.strip())
        values = paper.row(1, row)
        assert values["baseline"].value == float(base) and values["baseline"].std is None
        elmo_numbers = _numbers(elmo)
        assert [values["+ELMo"].value] + ([values["+ELMo"].std] if values["+ELMo"].std is not None else []) \
            == elmo_numbers
        assert values["+ELMo"].metric.replace("_", " ") == metric.strip().lower()
        assert {v.split for v in values.values()} == {"test"}
    assert paper.get(1, "CoNLL-2003 NER", "+ELMo").text() == "92.22 ± 0.10"


def test_tables_6_and_7_equal_the_notes(notes: str) -> None:
    paper = load_paper()
    pos = _numbers(_notes_paragraph(notes, "Table 6 (").split("):", 1)[1].split(" — ")[0])  # layer, accuracy, ...
    assert [paper.get(6, "biLM", f"layer {j}").value for j in (1, 2)] == pos[1::2] and pos[::2] == [1, 2]
    paragraph = _notes_paragraph(notes, "Table 7 (").split("):", 1)[1]
    pairs = [tuple(map(float, p)) for p in re.findall(r"(\d+(?:\.\d+)?) → (\d+(?:\.\d+)?)", paragraph)]
    rows = ["SNLI", "CoNLL-2003", "SQuAD context", "SQuAD questions", "SST", "SNLI dev accuracy"]
    assert [(paper.get(7, r, "before").value, paper.get(7, r, "after").value) for r in rows] == pairs
    assert paper.get(7, "SST", "after").units == "perplexity"


def test_every_figure_says_where_it_is_from() -> None:
    paper = load_paper()
    assert {v.table for v in paper.values} == {1, 2, 3, 6, 7}
    for v in paper.values:
        assert v.row and v.column and v.metric and v.split in ("dev", "test") and v.units in ("points", "perplexity")
    assert len({(v.table, v.row, v.column) for v in paper.values}) == len(paper.values)


def test_runs_written_before_tasks_declared_their_rows_map_by_task_name() -> None:
    def row(task: str, settings: dict | None = None):
        return legacy_paper_task(task, settings)[0]

    assert row("sst", {"task.dataset": "sst"}).row == "SST-5"
    assert row("sst2", {"task.dataset": "sst2"}) is None and row("mr") is None
    assert (row("squad").row, row("squad").metric) == ("SQuAD", "f1")
    assert (row("conll2003").row, row("conll2003").metric) == ("CoNLL-2003 NER", "f1")
    assert row("pairs").row == row("snli").row == "SNLI"
    assert row("probe", {"task.column": 2, "elmo.layer": 1}).column == "layer 1"
    assert row("probe", {"task.column": 3, "elmo.layer": 1}) is None  # chunk tags: not in the paper
    assert legacy_paper_task("squad")[1] == "points" and legacy_paper_task("mr")[1] == "fraction"
    assert points("fraction", 0.736) == pytest.approx(73.6) and points("points", 85.2) == 85.2


def test_the_row_and_units_a_task_declared_in_results_json_win(tmp_path: Path) -> None:
    """A task of any name gets the paper's row it declares (``Task.paper_row``), in the units it declares."""
    def declare(folder: Path, **declared) -> Path:
        for results in folder.glob("*/results.json"):
            results.write_text(json.dumps({**json.loads(results.read_text()), **declared}))
        return folder

    scores = {("none", "all", 0.0): [60.0, 61.0], ("input", "all", 0.0): [62.0, 63.0]}
    sweep = declare(write_sweep(tmp_path / "mine", scores, task="my_qa", metric="f1"),
                    paper={"row": "SQuAD", "metric": "f1"}, metric_units="points")
    base = next(c for c in build_report([sweep]).configs if c.is_baseline)
    assert paper_task(base).row == "SQuAD" and metric_units(base) == "points"
    other = declare(write_sweep(tmp_path / "other", {("none", "all", 0.0): [0.5]}, task="squad"), paper=None)
    assert paper_task(build_report([other]).configs[0]) is None  # declared: no row, whatever the name says


# ------------------------------------------------------------------------------------------- paper_section
def test_table2_layout_with_measured_and_paper_values(tmp_path: Path) -> None:
    report = build_report([write_sweep(tmp_path / "sst", TABLE2_SWEEP, task="sst", dataset="sst")])
    assert [len(g.columns) for g in find_layouts(report, TABLE2)] == [3] and not find_layouts(report, TABLE3)
    section = paper_section(report, plain_delta(report))
    assert "## As in the paper's Table 2" in section and "## As in the paper's Table 3" not in section
    measured, delta = rows_of(section, "As in the paper's Table 2")
    assert measured[:3] == ["sst (placement=both)", "—", "`test/acc`"]  # SST-5 is not in Table 2
    assert measured[3:] == ["71.0 ± 1.0 (paper: —)", "75.0 ± 1.0 (paper: —)", "76.0 ± 1.0 (paper: —)",
                            "79.0 ± 1.0 (paper: —)"]
    assert delta[0] == "sst (placement=both): Δ vs baseline"
    assert delta[4:] == ["+4.00 [+3.00, +5.00] (paper: —)", "+5.00 [+4.00, +6.00] (paper: —)",
                         "+8.00 [+7.00, +9.00] (paper: —)"]
    # SST-5 is in Table 1: the baseline and the best configuration (on dev) beside the paper's
    (row,) = rows_of(section, "The paper's Table 1 row")
    assert row[:3] == ["sst", "SST-5", "`test/acc`"]
    assert row[3:] == ["71.0 ± 1.0", "79.0 ± 1.0 (placement=both, mix=all, λ=0.001)", "+8.00 [+7.00, +9.00]",
                       "51.4", "54.7 ± 0.5", "+3.3"]


def test_table3_layout_with_the_paper_row_of_squad_in_points(tmp_path: Path) -> None:
    # SQuAD's F1 is in points in results.json already: shown as it is
    report = build_report([write_sweep(tmp_path / "squad", TABLE3_SWEEP, task="squad", scale=100.0,
                                       metric="f1")])
    section = paper_section(report, plain_delta(report))
    assert "## As in the paper's Table 2" not in section
    measured, delta = rows_of(section, "As in the paper's Table 3")
    assert measured[:3] == ["squad (mix=all, λ=0.001)", "SQuAD", "`test/f1`"]
    assert measured[3:] == ["71.0 ± 1.0 (paper: 80.8)", "78.0 ± 1.0 (paper: 85.1)", "79.0 ± 1.0 (paper: 85.6)",
                            "73.0 ± 1.0 (paper: 84.8)"]
    assert delta[4:] == ["+7.00 [+6.99, +7.01] (paper: +4.3)", "+8.00 [+7.99, +8.01] (paper: +4.8)",
                         "+2.00 [+1.99, +2.01] (paper: +4.0)"]
    (row,) = rows_of(section, "The paper's Table 1 row")
    assert row[1] == "SQuAD" and row[-3:] == ["81.1", "85.8", "+4.7"]


def test_both_layouts_missing_columns_and_tasks_without_a_paper_row(tmp_path: Path) -> None:
    sweep = {k: v for k, v in TABLE2_SWEEP.items() if k[1:] != ("all", 1.0)}  # no λ=1 column
    sweep.update(TABLE3_SWEEP)
    report = build_report([write_sweep(tmp_path / "mr", sweep)])
    section = paper_section(report, lambda config: None)  # e.g. too few values for any Δ
    table2, delta2 = rows_of(section, "As in the paper's Table 2")
    assert table2[1] == "—" and table2[5] == "— (paper: —)"  # the missing column
    assert delta2[4:] == ["— (paper: —)"] * 3
    table3, _ = rows_of(section, "As in the paper's Table 3")
    assert [cell.endswith("(paper: —)") for cell in table3[3:]] == [True] * 4
    assert "## The paper's Table 1 row" not in section  # MR is not in the paper


def test_one_row_per_biLM_named_in_its_label(tmp_path: Path) -> None:
    write_sweep(tmp_path / "sweep", TABLE3_SWEEP)
    write_sweep(tmp_path / "sweep", {k: v for k, v in TABLE3_SWEEP.items() if k[0] != "none"}, spec="elmo_small")
    report = build_report([tmp_path / "sweep"])  # the none baseline serves both biLMs
    rows = rows_of(paper_section(report, plain_delta(report)), "As in the paper's Table 3")
    assert [r[0] for r in rows] == ["mr (mix=all, λ=0.001, biLM=default)", "mr (mix=all, λ=0.001, biLM=default): "
                                    "Δ vs baseline", "mr (mix=all, λ=0.001, biLM=elmo_small)",
                                    "mr (mix=all, λ=0.001, biLM=elmo_small): Δ vs baseline"]


def test_no_layout_gives_none_and_welch_supplies_intervals(tmp_path: Path) -> None:
    only_input = {k: v for k, v in TABLE3_SWEEP.items() if k[0] in ("none", "input")}
    report = build_report([write_sweep(tmp_path / "ner", only_input, task="conll2003", metric="f1")])
    assert paper_section(report, plain_delta(report)) is None
    report = build_report([write_sweep(tmp_path / "sst", TABLE3_SWEEP, task="sst", dataset="sst")])
    delta_ci = welch_delta_ci(report)
    config = next(c for c in report.configs if c.placement == "input")
    d, (low, high) = delta_ci(config)
    assert d == pytest.approx(0.07) and low < d < high
    assert "+7.00 [" in paper_section(report, delta_ci)


def test_the_metric_must_be_the_papers(tmp_path: Path) -> None:
    # SQuAD reported on EM: the paper's tables give F1, so no paper values
    report = build_report([write_sweep(tmp_path / "squad", TABLE3_SWEEP, task="squad", scale=100.0,
                                       metric="em")])
    measured, _ = rows_of(paper_section(report, plain_delta(report)), "As in the paper's Table 3")
    assert measured[1] == "—" and all(cell.endswith("(paper: —)") for cell in measured[3:])


# ------------------------------------------------------------------------------------------- the experiments
def test_table2_composes_its_four_columns_for_sst() -> None:
    cfg = compose_train(["experiment=table2", "task=sst"])
    assert dict(cfg.hydra.sweeper.params) == {"table2": "baseline,top,all_lambda1,all_lambda0.001", "seed": "0,1,2"}
    expected = {"baseline": ("none", "all", 0.001), "top": ("both", "top", 0.001),
                "all_lambda1": ("both", "all", 1.0), "all_lambda0.001": ("both", "all", 0.001)}
    names = set()
    for column, (placement, mix, l2) in expected.items():
        cfg = compose_train(["experiment=table2", "task=sst", f"table2={column}"])
        assert (cfg.task.name, str(cfg.elmo.placement), str(cfg.elmo.mix), cfg.elmo.l2_coef) == ("sst", placement,
                                                                                                 mix, l2)
        assert column in cfg.run_name
        names.add(cfg.hydra.run.dir)
    assert len(names) == 4
    cfg = compose_train(["experiment=table2", "table2=top", "table3=input"])  # another placement: a Table 3 column
    assert (str(cfg.elmo.placement), cfg.run_name) == ("input", "table2-top-input-seed0")


def test_table3_composes_its_placements() -> None:
    cfg = compose_train(["experiment=table3"])
    assert dict(cfg.hydra.sweeper.params) == {"table3": "baseline,input,both,output", "seed": "0,1,2"}
    for column, placement in (("baseline", "none"), ("input", "input"), ("both", "both"), ("output", "output")):
        cfg = compose_train(["experiment=table3", f"table3={column}"])
        assert (str(cfg.elmo.placement), str(cfg.elmo.mix), cfg.elmo.l2_coef) == (placement, "all", 0.001)
        assert cfg.run_name.startswith(f"table3-{column}-")
    assert str(compose_train(["experiment=table3", "table2=top"]).elmo.mix) == "top"


@pytest.mark.slow
def test_table2_and_table3_sweeps_through_the_cli_and_their_layout(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    settings = [o for o in FAST if not o.startswith("logger")] + ["bilm.cache=false", f"bilm.spec={tiny_bilm_dir}"]
    extra = settings_group(tmp_path / "extra", "tiny", "fast", settings)  # short job folder names
    sweeps = {}
    for experiment, columns in (("table2", ("baseline", "top", "all_lambda1", "all_lambda0.001")),
                                ("table3", ("baseline", "input", "both", "output"))):
        sweeps[experiment] = tmp_path / experiment
        args = ["-m", f"--config-dir={extra}", "+tiny=fast", f"experiment={experiment}", "task=mr",
                "seed=0,1", "logger=csv", f"hydra.sweep.dir={sweeps[experiment]}"]
        result = train_cli(args, tmp_path, timeout=900)
        assert result.returncode == 0, result.stderr[-2000:]
        runs = sorted(p.parent.name for p in sweeps[experiment].glob("*/results.json"))
        assert runs == sorted(f"+tiny=fast,experiment={experiment},seed={s},{experiment}={c},task=mr"
                              for c in columns for s in (0, 1))
    for experiment, other in (("table2", "table3"), ("table3", "table2")):
        report = build_report([sweeps[experiment]])
        section = paper_section(report, welch_delta_ci(report))
        measured, delta = rows_of(section, f"As in the paper's Table {experiment[-1]}")
        assert f"## As in the paper's Table {other[-1]}" not in section
        assert measured[1] == "—"  # MR has no row in the paper: every paper value is "—", every measurement there
        assert all(c.endswith("(paper: —)") and not c.startswith("—") for c in measured[3:])
        assert all(c.endswith("(paper: —)") for c in delta[4:])
    both = paper_section(build_report([sweeps["table2"], sweeps["table3"]]), lambda config: None)
    assert "## As in the paper's Table 2" in both and "## As in the paper's Table 3" in both
