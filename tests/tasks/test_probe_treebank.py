"""The token probe on treebanks (``task=probe_upos|probe_xpos|probe_deprel``): labels from CoNLL-U files or UD
English-EWT, the typed ``task.dataset``/``task.label`` keys, a probe that learns, bad CoNLL-U through the CLI."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from elmo_lab.config.schema import ConfigError
from tasks.probe import ProbeDataModule, load_probe_splits

from learning_helpers import trained_metrics
from train_helpers import compose_train, in_process_error_line, train_cli, train_main_in_process

# (form, UPOS, XPOS, head, deprel) rows of two CoNLL-U sentences: "dogs bark loudly", "old dogs sleep"
ROWS = [[("dogs", "NOUN", "NNS", 2, "nsubj"), ("bark", "VERB", "VBP", 0, "root"), ("loudly", "ADV", "RB", 2, "advmod")],
        [("old", "ADJ", "JJ", 2, "amod"), ("dogs", "NOUN", "NNS", 3, "nsubj"), ("sleep", "VERB", "VBP", 0, "root")]]


def conllu_text(sentences: list[list[tuple]]) -> str:
    """CoNLL-U: ten tab-separated fields per word, a blank line after each sentence."""
    out = []
    for number, rows in enumerate(sentences, start=1):
        out.append(f"# sent_id = s{number}")
        out += [f"{i}\t{form}\t{form}\t{upos}\t{xpos}\t_\t{head}\t{rel}\t_\t_"
                for i, (form, upos, xpos, head, rel) in enumerate(rows, start=1)]
        out.append("")
    return "\n".join(out) + "\n"


def write_treebank(folder: Path, splits: dict[str, list[list[tuple]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, sentences in splits.items():
        (folder / f"tiny-ud-{split}.conllu").write_text(conllu_text(sentences), encoding="utf-8")
    return folder


def _task(folder: Path, label: str, dataset: str = "conllu") -> dict:
    return dict(name="probe", module="tasks.probe", data_dir=str(folder), dataset=dataset, label=label, column=2,
                download=False, batch_size=8, eval_batch_size=16, num_workers=0, lr=0.01, optimizer="adam")


@pytest.mark.parametrize("label, expected", [("upos", ["ADJ", "ADV", "NOUN", "VERB"]),
                                             ("xpos", ["JJ", "NNS", "RB", "VBP"]),
                                             ("deprel", ["advmod", "amod", "nsubj", "root"])])
def test_labels_come_from_the_treebank(tmp_path: Path, label: str, expected: list[str]) -> None:
    data = write_treebank(tmp_path / "ud", {"train": ROWS, "dev": ROWS[:1], "test": ROWS[1:]})
    dm = ProbeDataModule(_task(data, label), seed=0)
    dm.setup()
    assert dm.label_names == expected
    notes = dm.data_notes()
    assert (notes["dataset"], notes["label"], notes["column"]) == ("conllu", label, None)
    splits = load_probe_splits(str(data), 2, dataset="ud_ewt", label=label)  # ud_ewt with a folder: the same files
    assert splits["test"][0].tokens == ["old", "dogs", "sleep"]


def test_conllu_needs_a_folder() -> None:
    with pytest.raises(ConfigError, match="^task.data_dir: task.dataset=conllu reads a folder of CoNLL-U files"):
        load_probe_splits(None, 2, dataset="conllu", label="upos")


def test_task_configs_choose_dataset_and_label() -> None:
    for name, dataset, label, column in (("probe_upos", "ud_ewt", "upos", 2), ("probe_xpos", "ud_ewt", "xpos", 2),
                                         ("probe_deprel", "ud_ewt", "deprel", 2), ("probe_ner", "conll2003", "upos", 4),
                                         ("probe", "conll2003", "upos", 2)):
        task = compose_train(["experiment=probe_layers", f"task={name}"]).task
        assert (task.name, str(task.dataset), str(task.label), task.column) == (name, dataset, label, column)


@pytest.mark.parametrize("key, expected", [
    ("task.label=lemma", "error: task.label: invalid value 'lemma'; valid choices: upos, xpos, deprel"),
    ("task.dataset=ptb", "error: task.dataset: invalid value 'ptb'; valid choices: conll2003, ud_ewt, conllu"),
])
def test_a_wrong_choice_fails_at_composition(key: str, expected: str, tmp_path: Path, monkeypatch, capsys) -> None:
    status, err = train_main_in_process(["experiment=probe_layers", "task=probe_upos", key], tmp_path, monkeypatch,
                                        capsys)
    assert status == 2 and err.strip().splitlines()[-1] == expected


def _letter_words(letters: str, rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choices(letters, k=rng.randint(3, 5))) for _ in range(n)]


@pytest.mark.learning
def test_a_upos_probe_learns_far_above_the_most_frequent_tag(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    """Four UPOS tags, each spelled with its own letters; the test words never occur in training, so the
    most-frequent-tag baseline falls back to one tag (about 0.25), while the token layer's character filters carry
    the letters over to new words."""
    rng = random.Random(0)
    tags = {"NOUN": ("ab", "NN"), "VERB": ("xy", "VB"), "ADJ": ("mn", "JJ"), "ADV": ("qr", "RB")}
    vocab = {split: {tag: _letter_words(letters, rng, 8) for tag, (letters, _) in tags.items()}
             for split in ("train", "dev", "test")}

    def sentences(split: str, count: int) -> list[list[tuple]]:
        out = []
        for _ in range(count):
            words = [(rng.choice(vocab[split][tag]), tag, tags[tag][1]) for tag in rng.choices(list(tags), k=5)]
            out.append([(w, upos, xpos, 0 if i == 0 else 1, "root" if i == 0 else "dep")
                        for i, (w, upos, xpos) in enumerate(words)])
        return out

    data = write_treebank(tmp_path / "ud", {"train": sentences("train", 80), "dev": sentences("dev", 15),
                                            "test": sentences("test", 20)})
    metrics = trained_metrics(["experiment=probe_layers", "task=probe_upos", "probe=layer0", f"task.data_dir={data}",
                               f"bilm.spec={tiny_bilm_dir}", "task.lr=0.05", "task.batch_size=10",
                               "trainer.max_epochs=8", "elmo.placement=input"], tmp_path / "run")
    notes = json.loads((tmp_path / "run" / "results.json").read_text())["data_notes"]
    baseline = notes["most_frequent_tag_baseline"]["test/acc"]
    assert (notes["dataset"], notes["label"]) == ("ud_ewt", "upos") and baseline < 0.4
    assert metrics["test/acc"] >= 0.8 and metrics["test/acc"] >= baseline + 0.4


@pytest.mark.slow
def test_probe_upos_through_the_cli_and_a_bad_conllu_line(tiny_bilm_dir: Path, tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    """The run as a user starts it; the bad line through ``train.py``'s ``__main__`` in this process (no second
    interpreter to import torch for one error line)."""
    data = write_treebank(tmp_path / "ud", {"train": ROWS * 4, "dev": ROWS, "test": ROWS})
    common = ["experiment=probe_layers", "task=probe_upos", "probe=layer1", f"task.data_dir={data}",
              f"bilm.spec={tiny_bilm_dir}", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
              "logger=csv", "threads=1"]
    good = train_cli(common + [f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert good.returncode == 0, good.stderr[-2000:]
    assert "most-frequent-tag baseline (ud_ewt upos, 4 labels)" in good.stdout
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {"val/acc", "test/acc"} <= set(results["metrics"]) and results["data_notes"]["label"] == "upos"
    with open(data / "tiny-ud-dev.conllu", "a", encoding="utf-8") as f:
        f.write("1\tbad\tbad\tNOUN\tNN\t0\troot\t_\t_\n\n")  # nine fields
    line = in_process_error_line(common + [f"hydra.run.dir={tmp_path / 'bad'}"], tmp_path, monkeypatch, capsys)
    assert line.startswith(f"error: {data / 'tiny-ud-dev.conllu'}:11: expected 10 tab-separated fields (ID FORM LEMMA "
                           "UPOS XPOS FEATS HEAD DEPREL DEPS MISC), got 9")
    assert not [p for p in (tmp_path / "bad").rglob("*") if p.is_file()]  # nothing written
