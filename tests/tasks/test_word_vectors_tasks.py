"""``task.word_vectors`` through every task with word embeddings (sentiment, classify, pairs, NER, SQuAD, and the
probe's GloVe-style baseline), on a small vectors file written here: the model starts from (and, frozen, keeps)
exactly the file's vectors, coverage is in results.json; pretrained vectors let a classifier label words it never
saw in training; bad vectors files and names end in one line through the CLI, with nothing written."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from elmo_lab.training.pipeline import train
from tabular_helpers import SNLI, mr_dataset, write_rows
from test_ner_task import write_conll  # tests/tasks is on sys.path under pytest's default import mode
from train_helpers import FAST, REPO, compose_train, in_process_error_line, one_error_line, train_cli

COMMON = ["the", "a", "of", "and", "to", "in", "is", ",", ".", "it", "that", "was", "visited", "paris", "smith",
          "film", "movie", "man", "dog", "zzz-never-seen"]
NO_DIM = [o for o in FAST if not o.startswith("task.word_dim")]
SQUAD = REPO / "tests" / "data" / "fixtures" / "squad"


def _vectors_file(path: Path, dim: int = 6) -> dict[str, list[float]]:
    rng = random.Random(0)
    vectors = {w: [round(rng.uniform(-1, 1), 4) for _ in range(dim)] for w in COMMON}
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()), encoding="utf-8")
    return vectors


def _task_overrides(task: str, tmp_path: Path) -> list[str]:
    if task == "mr":
        return ["task=mr", "task.train_examples=64"]
    if task == "classify":
        return ["task=classify", f"task.data_dir={mr_dataset(tmp_path / 'data')}"]
    if task == "pairs":
        return ["task=pairs", f"task.data_dir={SNLI}"]
    if task == "conll2003":
        return ["task=conll2003", f"task.data_dir={write_conll(tmp_path / 'data')}", "task.hidden_dims=[8,8]",
                "task.char_filters=4"]
    if task == "squad":
        return ["task=squad", f"task.data_dir={SQUAD}", "task.download=false", "task.val_fraction=0.25",
                "task.hidden_dim=4", "task.modeling_dim=4", "task.char_filters=4", "task.batch_size=4"]
    return ["experiment=probe_layers", "probe=glove", f"task.data_dir={write_conll(tmp_path / 'data')}"]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["mr", "classify", "pairs", "conll2003", "squad", "probe"])
def test_every_task_starts_from_the_file_and_reports_coverage(task: str, tmp_path: Path) -> None:
    vectors = _vectors_file(tmp_path / "vectors.txt")
    run = tmp_path / "run"
    base = [o for o in NO_DIM if task not in ("conll2003", "probe") or not o.startswith("task.hidden_dim")]
    train(compose_train(base + _task_overrides(task, tmp_path) + [
        "elmo.placement=none", f"task.word_vectors={tmp_path / 'vectors.txt'}", "task.freeze_word_vectors=true"],
        run_dir=run))
    results = json.loads((run / "results.json").read_text())
    notes = results["data_notes"]["word_vectors"]
    assert results["config"]["task"]["word_dim"] == 6  # the vectors' width
    assert notes["source"] == str(tmp_path / "vectors.txt") and notes["dim"] == 6 and notes["frozen"]
    assert 0 < notes["train_vocabulary_found"] <= notes["train_vocabulary"]
    assert 0 < notes["train_type_coverage"] < 1 and 0 < notes["train_token_coverage"] < 1
    checkpoint = next((run / "checkpoints").glob("*.ckpt"))
    weight = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]["embed.weight"]
    assert weight.shape == (notes["vocabulary"], 6)
    rows = {tuple(round(x, 4) for x in row) for row in weight.tolist()}
    kept = [w for w, v in vectors.items() if tuple(v) in rows]  # frozen: the file's vectors, unchanged
    assert len(kept) == notes["train_vocabulary_found"] + notes["words_added"] and "zzz-never-seen" not in kept


def _synthetic(folder: Path) -> tuple[Path, Path]:
    """Label = the polarity of the words; test sentences use only words that never occur in training, whose
    pretrained vectors carry the polarity in their first component."""
    rng = random.Random(0)
    words = {label: [f"{label}{i}" for i in range(40)] for label in ("pos", "neg")}
    vectors = folder / "vectors.txt"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{w} {1 if label == 'pos' else -1} " + " ".join(f"{rng.gauss(0, 0.3):.3f}" for _ in range(3))
             for label, ws in words.items() for w in ws]
    vectors.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for split, n, pool in (("train", 64, slice(0, 20)), ("dev", 16, slice(0, 20)), ("test", 40, slice(20, 40))):
        rows = []
        for i in range(n):
            label = ("pos", "neg")[i % 2]
            rows.append((" ".join(rng.choice(words[label][pool]) for _ in range(3)), label))
        write_rows(folder / f"{split}.csv", rows)
    return folder, vectors


@pytest.mark.slow
@pytest.mark.learning
def test_pretrained_vectors_label_words_never_seen_in_training(tmp_path: Path) -> None:
    data, vectors = _synthetic(tmp_path / "data")
    common = [o for o in NO_DIM if not o.startswith(("trainer.max_epochs", "trainer.limit_train"))] + [
        "task=classify", f"task.data_dir={data}", "elmo.placement=none", "trainer.max_epochs=12", "task.lr=0.01"]
    accuracy = {}
    for name, extra in (("glove", [f"task.word_vectors={vectors}", "task.freeze_word_vectors=true"]),
                        ("random", ["task.word_dim=4"])):
        run = tmp_path / name
        train(compose_train(common + extra, run_dir=run))
        accuracy[name] = json.loads((run / "results.json").read_text())["metrics"]["test/acc"]
    assert accuracy["glove"] >= 0.9 and accuracy["random"] <= 0.75, accuracy


@pytest.mark.slow
def test_the_ner_command_of_a_new_user_trains_with_a_vectors_file(tmp_path: Path) -> None:
    data = write_conll(tmp_path / "data")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("visited 0.1 0.2 0.3 0.4\nparis 1 2 3 4\n", encoding="utf-8")
    result = train_cli(["task=conll2003", f"task.data_dir={data}", f"task.word_vectors={vectors}", "task.word_dim=4",
                        "task.hidden_dims=[8,8]", "task.char_filters=4", "trainer.max_epochs=1", "logger=csv",
                        "trainer.enable_progress_bar=false"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "word vectors " in result.stdout and "2 of " in result.stdout  # coverage printed


@pytest.mark.slow
@pytest.mark.parametrize("content, key, expected", [
    ("the 1 2 3\nfilm 1 2\n", "task.word_vectors=vectors.txt", "vectors.txt:2: 2 values, expected 3"),
    ("the 1 2 3\nfilm 1 x 3\n", "task.word_vectors=vectors.txt", "vectors.txt:2: 'x' is not a number"),
    ("the 1 2 3\n", "task.word_vectors=vectors.txt task.word_dim=8", "task.word_dim: 8, but task.word_vectors="),
    (None, "task.word_vectors=glove_6b_51d", "task.word_vectors: 'glove_6b_51d' is neither a file nor a known name"),
    (None, "task.word_vectors=vectors.txt", "task.word_vectors: 'vectors.txt' is neither a file nor a known name"),
])
def test_bad_vectors_end_in_one_line_and_write_nothing(content: str | None, key: str, expected: str,
                                                       tmp_path: Path, monkeypatch, capsys) -> None:
    """A name that is no file fails at composition, in a fresh interpreter (before torch loads); a file is read once
    torch has loaded, so those cases run ``train.py``'s ``__main__`` in this process."""
    if content is not None:
        (tmp_path / "vectors.txt").write_text(content, encoding="utf-8")
    data = mr_dataset(tmp_path / "data")
    args = ["task=classify", f"task.data_dir={data}", *key.split(), "logger=csv"]
    line = (one_error_line(train_cli(args, tmp_path, timeout=120)) if content is None else
            in_process_error_line(args, tmp_path, monkeypatch, capsys))
    assert line.startswith("error: ") and expected in line
    assert not [p for p in (tmp_path / "outputs").rglob("*") if p.is_file()]


@pytest.mark.parametrize("experiment, vectors, dim, frozen", [
    ("ner_paper", "glove_6b_50d", 50, False), ("sst5_paper", "glove_840b_300d", 300, True),
    ("squad_paper", "glove_840b_300d", 300, True), ("snli_paper", "glove_840b_300d", 300, False)])
def test_the_paper_experiments_use_glove(experiment: str, vectors: str, dim: int, frozen: bool) -> None:
    from elmo_lab.config.schema import validate

    cfg = compose_train([f"experiment={experiment}"])
    validate(cfg)  # names are resolved from the registry: nothing is downloaded
    assert (cfg.task.word_vectors, cfg.task.word_dim, cfg.task.freeze_word_vectors) == (vectors, dim, frozen)
