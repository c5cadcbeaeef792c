"""A probe-set job (``probe_set.probes``, ``elmo_lab.training.probe_set``): each of its probes gets the run directory and
the numbers of its own single run, a rerun answers from the finished probes, a changed setting is refused, and the
settings it cannot train are refused at composition."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from elmo_lab.config.schema import ConfigError, validate
from elmo_lab.training.pipeline import train
from train_helpers import compose_train, train_cli

PROBE_SET = ["probe_set.probes=[layer0,upto1,mix]", "probe_set.control_task=[false,true]", "probe_set.seeds=[0,1]"]


def _word_tags(folder: Path) -> Path:
    """Four tags, three words each (a tag's words share their letters), six words a sentence in random order."""
    words = {"NN": ["aab", "bba", "abab"], "VB": ["xxy", "yyx", "xyxy"], "JJ": ["mmn", "nnm", "mnmn"],
             "RB": ["qqr", "rrq", "qrqr"]}
    pairs = [(w, tag) for tag, ws in words.items() for w in ws]
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for name, n in (("train", 60), ("valid", 15), ("test", 20)):
        sentences = ["\n".join(f"{w} {t} O O" for w, t in rng.choices(pairs, k=6)) for _ in range(n)]
        (folder / f"{name}.txt").write_text("\n\n".join(sentences) + "\n")
    return folder


def _settings(data: Path, bilm: Path) -> list[str]:
    return ["experiment=probe_suite", "task=probe", f"task.data_dir={data}", "task.column=2", f"bilm.spec={bilm}",
            "task.lr=0.05", "task.batch_size=10", "trainer.max_epochs=3", "trainer.enable_progress_bar=false",
            "logger=csv", "threads=1"]


@pytest.fixture(scope="module")
def probe_set_run(tiny_bilm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """One probe-set job, 3 representations x control task off/on x seeds 0, 1 (12 probes), trained in this process
    (so that ``ELMO_LAB_SABOTAGE`` reaches it)."""
    root = tmp_path_factory.mktemp("probe_set")
    data = _word_tags(root / "data")
    job = root / "suite" / "probe" / "probe-set"
    train(compose_train([*_settings(data, tiny_bilm_dir), *PROBE_SET], run_dir=job))
    return root, data, job


def _results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


@pytest.mark.learning
def test_every_probe_gets_its_own_run_directory_and_learns(probe_set_run: tuple[Path, Path, Path]) -> None:
    root, _, job = probe_set_run
    folder = job.parent
    expected = sorted(f"probe-{rep}{'-control' if control else ''}-seed{seed}" for rep in ("layer0", "upto1", "all")
                      for control in (False, True) for seed in (0, 1))
    assert sorted(p.parent.name for p in folder.glob("*/results.json")) == expected
    summary = json.loads((job / "probe_set.json").read_text())
    assert len(summary["probes"]) == 12 and all(p["trained"] for p in summary["probes"])
    for name in expected:
        results = _results(folder / name)
        assert results["config"]["probe_set"]["probes"] is None  # written as a run of its own
        assert len(results["history"]) == 3 and (folder / name / "predictions.jsonl").is_file()
        if "control" not in name:  # the real tags: far above the majority tag (about 0.25)
            assert results["metrics"]["test/acc"] >= 0.8, name
    layer0, upto1 = (_results(folder / f"probe-{r}-seed0") for r in ("layer0", "upto1"))
    assert layer0["layer_weights"]["input"]["s"] == [1.0, 0.0, 0.0] and len(upto1["layer_weights"]["input"]["s"]) == 2


@pytest.mark.parametrize("probe,control,seed", [("upto1", "true", 1), ("mix", "false", 0)])
def test_each_probe_has_the_numbers_of_its_own_single_run(probe_set_run: tuple[Path, Path, Path],
                                                          tiny_bilm_dir: Path, tmp_path: Path, probe: str,
                                                          control: str, seed: int) -> None:
    """The same initial weights, batches, steps and model selection as ``train.py`` with Lightning's Trainer: the
    accuracies, the mix weights and every prediction agree exactly (losses to float rounding)."""
    _, data, job = probe_set_run
    single = tmp_path / "single"
    train(compose_train([*_settings(data, tiny_bilm_dir), f"probe={probe}", f"task.control_task={control}",
                         f"seed={seed}", "probe_set.probes=null"], run_dir=single))
    name = f"probe-{'all' if probe == 'mix' else probe}{'-control' if control == 'true' else ''}-seed{seed}"
    ours, theirs = _results(job.parent / name), _results(single)
    for key, value in theirs["metrics"].items():
        assert ours["metrics"][key] == (pytest.approx(value, abs=1e-5) if key.endswith("loss") else value), key
    assert [h["val/acc"] for h in ours["history"]] == [h["val/acc"] for h in theirs["history"]]
    assert ours["layer_weights"]["input"]["s"] == theirs["layer_weights"]["input"]["s"]
    assert ((job.parent / name / "predictions.jsonl").read_text() == (single / "predictions.jsonl").read_text())


def test_dev_every_second_epoch_selects_among_those_epochs_as_lightning_does(probe_set_run: tuple[Path, Path, Path],
                                                                          tiny_bilm_dir: Path, tmp_path: Path) -> None:
    _, data, _ = probe_set_run
    every = ["trainer.check_val_every_n_epoch=2", "trainer.max_epochs=4", "probe=mix", "seed=1"]
    job, single = tmp_path / "suite" / "probe" / "probe-set", tmp_path / "single"
    train(compose_train([*_settings(data, tiny_bilm_dir), *every, "probe_set.probes=[mix]",
                         "probe_set.control_task=[false]", "probe_set.seeds=[1]"], run_dir=job))
    train(compose_train([*_settings(data, tiny_bilm_dir), *every, "probe_set.probes=null"], run_dir=single))
    ours, theirs = _results(job.parent / "probe-all-seed1"), _results(single)
    assert [h["epoch"] for h in ours["history"]] == [2, 4]
    assert [h["val/acc"] for h in ours["history"]] == [h["val/acc"] for h in theirs["history"]]
    assert ours["metrics"]["test/acc"] == theirs["metrics"]["test/acc"]
    with pytest.raises(ConfigError, match=r"trainer.check_val_every_n_epoch: .* 1 <= n <= trainer.max_epochs \(3\), "
                                          r"got 4"):
        validate(compose_train([*_settings(data, tiny_bilm_dir), *PROBE_SET, "trainer.check_val_every_n_epoch=4"]))


def test_a_rerun_through_the_cli_answers_from_finished_probes_and_a_changed_setting_is_refused(
        probe_set_run: tuple[Path, Path, Path], tiny_bilm_dir: Path) -> None:
    root, data, job = probe_set_run
    results = sorted(job.parent.glob("*/results.json"))
    before = [p.stat().st_mtime_ns for p in results]
    rerun = train_cli([*_settings(data, tiny_bilm_dir), *PROBE_SET, f"hydra.run.dir={job}"], root, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "probe set: 0 trained, 12 already finished" in rerun.stdout
    assert rerun.stdout.count("run already finished") == 12
    assert [p.stat().st_mtime_ns for p in results] == before
    with pytest.raises(ConfigError, match=r"probe-layer0-seed0 holds a run started with another config \(task.lr: "
                                          r"0.05 -> 0.02\)"):
        train(compose_train([*_settings(data, tiny_bilm_dir), *PROBE_SET, "task.lr=0.02"], run_dir=job))
    assert [p.stat().st_mtime_ns for p in results] == before


@pytest.mark.parametrize("override,message", [
    ("probe_set.probes=[layer0,glove]", "probe_set.probes: 'glove' is not a representation; expected layer<j> or "
                                        "upto<j> (j < 64) or mix"),
    ("probe_set.probes=[mix,mix]", "probe_set: give each representation once"),
    ("trainer.limit_train_batches=3", "trainer.limit_train_batches: a probe-set job trains without Lightning's "
                                      "Trainer and needs None, got 3"),
    ("trainer.precision=bf16-mixed", "trainer.precision: a probe-set job trains without Lightning's Trainer and "
                                     "needs 32-true, got bf16-mixed"),
    ("task.lr_scheduler.name=plateau", "task.lr_scheduler.name: not in a probe-set job"),
    ("+callbacks.early_stopping.patience=2", "callbacks.early_stopping: not in a probe-set job"),
])
def test_what_a_probe_set_cannot_train_is_refused_at_composition(override: str, message: str) -> None:
    cfg = compose_train(["experiment=probe_suite", "task=probe", override])
    with pytest.raises(ConfigError) as refused:
        validate(cfg)
    assert str(refused.value).startswith(message)


def test_the_control_task_needs_a_task_that_has_one() -> None:
    cfg = compose_train(["experiment=probe_suite", "task=mr", "probe_set.control_task=[false,true]"])
    with pytest.raises(ConfigError, match="probe_set.control_task: task mr has no control task"):
        validate(cfg)
