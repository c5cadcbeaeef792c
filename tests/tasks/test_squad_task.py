"""The SQuAD task end to end on the hand-written SQuAD-format fixtures: every placement trains, both token sequences
go through the biLM cache, and the EM/F1 recomputed from ``predictions.json`` by the official definition equal the
logged ones."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.metrics.squad import evaluate
from elmo_lab.training.pipeline import train
from tasks.squad import SquadDataModule

from learning_helpers import FILLER, trained_metrics
from train_helpers import FAST, REPO, compose_train, in_process_error_line, train_cli, example_metric

FIXTURES = REPO / "tests" / "data" / "fixtures" / "squad"
SETTINGS = [o for o in FAST if not o.startswith("task.hidden_dim")] + [
    "task=squad", f"task.data_dir={FIXTURES}", "task.download=false", "task.val_fraction=0.25", "task.hidden_dim=4",
    "task.modeling_dim=4", "task.char_filters=4", "task.batch_size=4", "trainer.max_epochs=2",
    "trainer.limit_train_batches=null", "trainer.limit_val_batches=null", "trainer.limit_test_batches=null"]


def _task() -> dict:
    return dict(name="squad", module="tasks.squad", data_dir=str(FIXTURES), download=False, val_fraction=0.25,
                split_seed=0, max_train_questions=None, max_passage_tokens=None, min_count=1, lowercase=True,
                batch_size=4, eval_batch_size=8, num_workers=0)


def test_questions_and_passages_are_both_cached_and_batched(tiny_bilm_dir: Path) -> None:
    elmo = ContextualLayers.from_config(dict(spec=str(tiny_bilm_dir), freeze=True, stateful=False, cache=True,
                                       finetune=dict(enabled=False)), needed=True)
    dm = SquadDataModule(_task(), seed=0, encoder_input=elmo.batch_input)
    dm.setup()
    elmo.cache.add(dm.all_sequences())  # as the pipeline does
    batch = next(iter(dm.val_dataloader()))
    assert set(batch) == {"question", "passage", "spans", "examples", "index"}
    assert batch["passage"]["char_ids"].shape[0] == batch["spans"].shape[0]  # the task's own char CNN reads them
    calls = []
    elmo.encoder.bilm.register_forward_hook(lambda *args: calls.append(1))
    elmo.layers(batch["passage"]["tokens"])  # fills the cache: every question and passage of every split
    passes = len(calls)
    elmo.layers(batch["question"]["tokens"])
    assert len(calls) == passes  # a question is served from the cache like a passage
    assert "official dev-v1.1.json" in dm.data_notes()["splits"]


@pytest.mark.slow
@pytest.mark.parametrize("placement", ["none", "input", "output", "both"])
def test_bidaf_trains_and_predictions_json_gives_the_logged_em_f1(placement: str, tiny_bilm_dir: Path,
                                                                   tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(compose_train(SETTINGS + [f"bilm.spec={tiny_bilm_dir}", f"elmo.placement={placement}"], run_dir=run_dir))
    results = json.loads((run_dir / "results.json").read_text())
    predictions = json.loads((run_dir / "predictions.json").read_text())
    gold = json.loads((FIXTURES / "dev-v1.1.json").read_text())
    assert len(predictions) == 5  # every question of the official dev file (the test split)
    official = evaluate(gold, predictions)
    assert official["exact_match"] == pytest.approx(results["metrics"]["test/em"], abs=1e-4)
    assert official["f1"] == pytest.approx(results["metrics"]["test/f1"], abs=1e-4)
    assert example_metric(run_dir, "em") == pytest.approx(results["metrics"]["test/em"], abs=1e-4)
    assert example_metric(run_dir, "f1") == pytest.approx(results["metrics"]["test/f1"], abs=1e-4)
    contexts = {p["context"] for a in gold["data"] for p in a["paragraphs"]}
    assert all(any(text in c for c in contexts) for text in predictions.values())  # substrings of the context
    expected = {"none": [], "input": ["input"], "output": ["output"], "both": ["input", "output"]}[placement]
    assert sorted(results["layer_weights"]) == expected
    assert (run_dir / "layer_weights.png").is_file() == (placement != "none")
    assert results["objective"] == "val/f1" and "splits" in results["data_notes"]


@pytest.mark.slow
def test_train_py_squad_through_the_cli(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = train_cli([*SETTINGS, f"bilm.spec={tiny_bilm_dir}", "elmo.placement=both", f"hydra.run.dir={run_dir}"],
                       tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/f1" in result.stdout and (run_dir / "predictions.json").is_file()


def test_missing_squad_files_are_one_clear_line(tmp_path: Path, monkeypatch, capsys) -> None:
    line = in_process_error_line(["task=squad", f"task.data_dir={tmp_path}", "elmo.placement=none", "logger=csv"],
                                 tmp_path, monkeypatch, capsys)
    assert line.startswith("error: ") and "train-v1.1.json" in line


def _write_keyed_squad(folder: Path) -> Path:
    """``train-v1.1.json`` and ``dev-v1.1.json`` in the official layout: each passage is filler words with one
    ``key WORD`` in it, the question asks for the key, the answer is the word after ``key``."""
    import random

    rng = random.Random(0)
    answers = "apple river stone cloud lemon tiger piano maple".split()
    for name, articles in (("train-v1.1.json", 12), ("dev-v1.1.json", 4)):
        data = []
        for a in range(articles):
            paragraphs = []
            for p in range(6):
                words = rng.choices(FILLER, k=rng.randint(6, 10))
                at = rng.randint(0, len(words))
                answer = rng.choice(answers)
                context = " ".join(words[:at] + ["key", answer] + words[at:])
                start = len(" ".join(words[:at] + ["key"])) + 1
                assert context[start:start + len(answer)] == answer
                paragraphs.append({"context": context, "qas": [{"id": f"{name[:3]}{a}-{p}", "question": "what is the key ?",
                                                                "answers": [{"answer_start": start, "text": answer}]}]})
            data.append({"title": f"article {a}", "paragraphs": paragraphs})
        (folder / name).write_text(json.dumps({"version": "1.1", "data": data}))
    return folder


@pytest.mark.learning
def test_bidaf_learns_to_point_at_the_answer_far_above_chance(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    data = _write_keyed_squad(tmp_path / "data")
    metrics = trained_metrics(["task=squad", f"task.data_dir={data}", "task.download=false", "task.val_fraction=0.25",
                               "task.hidden_dim=8", "task.modeling_dim=8", "task.modeling_layers=1",
                               "task.char_filters=4", "task.dropout=0.0", "task.batch_size=8", "task.lr=0.02",
                               "trainer.max_epochs=4"], tmp_path / "run")
    assert metrics["test/em"] >= 70  # a random span of up to 17 tokens out of ~10: a few per cent
