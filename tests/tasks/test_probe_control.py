"""The probing controls: the control task (Hewitt & Liang 2019) gives one label per word type, drawn from the
training label distribution, seeded and the same in every split; the MLP probe; the control run's name."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from scipy import stats as sps

from elmo_lab.config.probes import probe_run_name
from elmo_lab.config.schema import ConfigError
from tasks.probe import ControlTask, LabelledSentence, ProbeDataModule, check_probe_config, probe_classifier

from test_probe_task import _task, _write_pos  # tests/tasks is on sys.path under pytest's default import mode


def _train(labels: dict[str, int]) -> list[LabelledSentence]:
    tokens = [label for label, count in labels.items() for _ in range(count)]
    return [LabelledSentence([f"w{i}" for i in range(len(tokens))], tokens)]


def test_control_labels_follow_the_training_distribution() -> None:
    counts = {"NN": 500, "VB": 300, "DT": 200}
    control = ControlTask(_train(counts), seed=0)
    drawn = Counter(control.label(f"type{i}") for i in range(20000))
    chi2 = sps.chisquare([drawn[k] for k in counts], [20000 * v / 1000 for v in counts.values()])
    assert chi2.pvalue > 1e-3  # the draws follow 50 / 30 / 20 %
    assert set(drawn) == set(counts)


def test_control_labels_are_per_word_type_and_seeded() -> None:
    train = _train({"NN": 5, "VB": 5})
    a, b, other = ControlTask(train, seed=0), ControlTask(train, seed=0), ControlTask(train, seed=1)
    words = [f"word{i}" for i in range(200)]
    assert [a.label(w) for w in words] == [b.label(w) for w in words]  # the same seed, the same labels
    assert [a.label(w) for w in words] != [other.label(w) for w in words]
    sentence = LabelledSentence(["the", "cat", "the"], ["DT", "NN", "DT"])
    relabelled = a.relabel(sentence)
    assert relabelled.tokens == sentence.tokens and relabelled.labels[0] == relabelled.labels[2] == a.label("the")


def test_the_datamodule_relabels_every_split_by_word(tmp_path: Path) -> None:
    data = _write_pos(tmp_path / "pos", {"train": ["the/DT cat/NN sat/VB", "a/DT dog/NN ran/VB"],
                                         "valid": ["the/DT dog/NN sat/VB"], "test": ["a/DT cat/NN ran/VB unseen/NN"]})
    dm = ProbeDataModule(dict(_task(data), column=2, control_task=True, control_seed=3))
    dm.setup()
    word_label: dict[str, str] = {}
    for split in ("train", "dev", "test"):
        for s in dm.splits[split]:
            for w, label in zip(s.tokens, s.labels):
                assert word_label.setdefault(w, label) == label  # one label per word type, across splits
    assert word_label == {w: dm.control.label(w) for w in word_label}
    assert dm.data_notes()["control_task"] is True and dm.data_notes()["control_seed"] == 3
    real = ProbeDataModule(dict(_task(data), column=2))
    real.setup()
    assert [s.labels for s in real.splits["train"]] == [["DT", "NN", "VB"], ["DT", "NN", "VB"]]


def test_mlp_probe_and_its_checks() -> None:
    linear = probe_classifier(8, 3)
    mlp = probe_classifier(8, 3, "mlp", hidden=5, layers=2)
    assert sum(p.numel() for p in linear.parameters()) == 8 * 3 + 3
    assert sum(p.numel() for p in mlp.parameters()) == (8 * 5 + 5) + (5 * 5 + 5) + (5 * 3 + 3)
    config = {"elmo": {"placement": "input"}, "bilm": {"freeze": True}, "task": {"mlp_layers": 0}}
    with pytest.raises(ConfigError, match="task.mlp_layers"):
        check_probe_config(config)


def test_control_runs_get_their_own_name() -> None:
    assert probe_run_name("layer", 1, False, True) == "probe-layer1-control"
    assert probe_run_name("all", None, True, False) == "probe-all-random"
