"""The NER task end to end on a small synthetic CoNLL-2003-format corpus: batches, every placement, the predictions
file (scored by the conlleval definition it gives the reported F1), and the CLI as users call it."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from elmo_lab.data.tagging import spans
from elmo_lab.training.pipeline import train
from tasks.ner import ConllDataModule

from learning_helpers import trained_metrics
from train_helpers import FAST, compose_train, train_cli, train_main_in_process, example_metric

PEOPLE, PLACES, ORGS = ["Smith", "Jones", "Anna Berg", "Li Wei"], ["Paris", "New York", "Oslo"], ["Acme Corp", "UN"]
FRAMES = ["{PER} visited {LOC} .", "{ORG} hired {PER} in {LOC} .", "Officials in {LOC} met {ORG} today .",
          "{PER} said nothing ."]


def _sentence(rng: random.Random) -> list[tuple[str, str]]:
    """One sentence as (token, IOB1 tag) pairs, as in the original CoNLL-2003 distribution."""
    out = []
    for word in rng.choice(FRAMES).split():
        if word.startswith("{"):
            kind = word.strip("{}.")
            name = rng.choice({"PER": PEOPLE, "LOC": PLACES, "ORG": ORGS}[kind]).split()
            out += [(w, f"I-{kind}") for w in name]
        else:
            out.append((word, "O"))
    return out


def write_conll(folder: Path, sizes: dict[str, int] | None = None, seed: int = 0) -> Path:
    """``train.txt``/``valid.txt``/``test.txt`` in the four-column format, IOB1 tags, with -DOCSTART- lines."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (sizes or {"train": 64, "valid": 16, "test": 16}).items():
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(n):
            lines += [f"{w} NN I-NP {t}" for w, t in _sentence(rng)] + [""]
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return folder


def _task(folder: Path) -> dict:
    return dict(name="conll2003", module="tasks.ner", data_dir=str(folder), download=False, scheme="bioes",
                min_count=1, lowercase=True, batch_size=4, eval_batch_size=8, num_workers=0)


def test_batches_carry_tags_gold_and_char_ids_even_without_the_bilm(tmp_path: Path) -> None:
    # placement none: no biLM (so no biLM character ids asked for), but the tagger's own char CNN still needs them
    dm = ConllDataModule(_task(write_conll(tmp_path / "data")), seed=0)
    dm.setup()
    assert dm.tag_names[0] == "O" and {"S-PER", "B-LOC", "E-LOC", "S-ORG"} <= set(dm.tag_names)
    batch = next(iter(dm.train_dataloader()))
    n, time = batch["word_ids"].shape
    assert batch["char_ids"].shape == (n, time + 2, 50) and batch["tags"].shape == (n, time)
    assert [len(g) for g in batch["gold"]] == batch["mask"].sum(1).tolist()
    assert len(set(batch["index"].tolist())) == n  # n distinct sentences
    assert [" ".join(t) for t in batch["tokens"]] == [" ".join(e.tokens) for e in (dm.splits["train"][i]
                                                                                  for i in batch["index"].tolist())]


def _f1_of_predictions(path: Path) -> float:
    """Micro F1 over the ``token gold pred`` file by the conlleval definition."""
    correct = predicted = gold = 0
    for block in path.read_text().strip("\n").split("\n\n"):
        rows = [line.split(" ") for line in block.splitlines()]
        g, p = set(spans([r[1] for r in rows], "bio")), set(spans([r[2] for r in rows], "bio"))
        correct, predicted, gold = correct + len(g & p), predicted + len(p), gold + len(g)
    precision, recall = correct / max(predicted, 1), correct / max(gold, 1)
    return 2 * precision * recall / (precision + recall) if correct else 0.0


@pytest.mark.slow
@pytest.mark.parametrize("placement", ["none", "input", "both"])
def test_tagger_trains_and_its_predictions_file_gives_the_reported_f1(placement: str, tiny_bilm_dir: Path,
                                                                       tmp_path: Path) -> None:
    data = write_conll(tmp_path / "data")
    overrides = [o for o in FAST if not o.startswith("task.hidden_dim")] + [
        "task=conll2003", f"task.data_dir={data}", "task.hidden_dims=[8,8]", "task.char_filters=4",
        f"bilm.spec={tiny_bilm_dir}", f"elmo.placement={placement}", "trainer.max_epochs=2",
        "trainer.limit_train_batches=null", "trainer.limit_val_batches=null", "trainer.limit_test_batches=null"]
    run_dir = tmp_path / "run"
    train(compose_train(overrides, run_dir=run_dir))
    results = json.loads((run_dir / "results.json").read_text())
    assert {"val/f1", "test/f1", "test/precision", "test/recall", "test/f1_PER"} <= set(results["metrics"])
    assert results["objective"] == "val/f1"
    lines = (run_dir / "predictions.txt").read_text().split("\n\n")
    assert len([b for b in lines if b.strip()]) == 16  # every test sentence once, in file order
    assert _f1_of_predictions(run_dir / "predictions.txt") == pytest.approx(results["metrics"]["test/f1"], abs=1e-6)
    assert example_metric(run_dir, "f1") == pytest.approx(results["metrics"]["test/f1"], abs=1e-6)  # span counts
    # every epoch's dev scores, also when the best checkpoint (restored for testing) is an earlier one
    assert [h["epoch"] for h in results["history"]] == [1, 2] and all("val/f1" in h for h in results["history"])
    assert sorted(results["layer_weights"]) == {"none": [], "input": ["input"], "both": ["input", "output"]}[placement]


@pytest.mark.slow
def test_train_py_conll2003_through_the_cli(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    data = write_conll(tmp_path / "data")
    run_dir = tmp_path / "run"
    args = [a for a in FAST if not a.startswith("task.hidden_dim")] + [
        "task=conll2003", f"task.data_dir={data}", f"bilm.spec={tiny_bilm_dir}", "elmo.placement=input",
        "task.hidden_dims=[8]", f"hydra.run.dir={run_dir}"]
    result = train_cli(args, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/f1" in result.stdout and (run_dir / "predictions.txt").is_file()


def test_a_wrong_task_key_fails_at_composition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    status, err = train_main_in_process(["task=conll2003", "task.scheme=iobes2", "logger=csv"], tmp_path, monkeypatch,
                                        capsys)
    assert status == 2 and err == "error: task.scheme: invalid value 'iobes2'; valid choices: bio, bioes\n"


@pytest.mark.learning
def test_tagger_learns_the_names_far_above_chance(tmp_path: Path) -> None:
    data = write_conll(tmp_path / "data", {"train": 80, "valid": 20, "test": 30})
    metrics = trained_metrics(["task=conll2003", f"task.data_dir={data}", "task.hidden_dims=[8]", "task.char_filters=4",
                               "task.dropout=0.0", "task.batch_size=8", "task.lr=0.02", "trainer.max_epochs=6"],
                              tmp_path / "run")
    assert metrics["test/f1"] >= 0.8  # an untrained tagger finds next to no entity
