"""The structural probe (``task=structural_distance``, ``task=structural_depth``) through ``train.py``: it learns
trees that the token layer can tell, far above the LINEAR baseline; its controls; bad trees in one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from elmo_lab.config.schema import ConfigError
from elmo_lab.probing.controls import TreeControl
from elmo_lab.probing.structural import tree_depths
from learning_helpers import trained_metrics
from train_helpers import compose_train
from tasks.structural_probe import check_structural_config
from treebank_fixtures import write_treebank

PROBE = ["experiment=probe_layers", "probe=layer0", "elmo.placement=input"]


def train_tree_probe(task: str, bilm: Path, tmp_path: Path, *overrides: str) -> tuple[dict, dict]:
    """Train ``task`` on the layer-0 probe of a small chain treebank; (test metrics, ``data_notes``)."""
    data = write_treebank(tmp_path / "ud")
    metrics = trained_metrics(PROBE + [f"task={task}", f"task.data_dir={data}", f"bilm.spec={bilm}", *overrides],
                              tmp_path / "run")
    return metrics, json.loads((tmp_path / "run" / "results.json").read_text())["data_notes"]


@pytest.mark.learning
def test_distance_probe_learns_the_trees(wide_bilm_dir: Path, tmp_path: Path) -> None:
    metrics, notes = train_tree_probe("structural_distance", wide_bilm_dir, tmp_path, "task.lr=0.03",
                                      "task.batch_size=5", "trainer.max_epochs=10")
    linear = notes["linear_baseline"]
    # measured on the wide tiny biLM: uuas 0.98 and dspr 0.98 against the LINEAR 0.37 and 0.47; the untrained probe
    # (ELMO_LAB_SABOTAGE=frozen) 0.81 and 0.52 (the token layer's own geometry already ties most levels right),
    # trained on random trees (permuted) 0.62 and 0.71
    assert metrics["test/uuas"] >= 0.9 and metrics["test/uuas"] >= linear["test/uuas"] + 0.3
    assert metrics["test/dspr"] >= 0.9 and metrics["test/dspr"] >= linear["test/dspr"] + 0.3
    assert notes["punctuation_words"]["test"] == 20 and notes["control_task"] is False


@pytest.mark.learning
def test_depth_probe_learns_the_depths(wide_bilm_dir: Path, tmp_path: Path) -> None:
    metrics, notes = train_tree_probe("structural_depth", wide_bilm_dir, tmp_path, "task.lr=0.03",
                                      "task.batch_size=10", "trainer.max_epochs=8")
    linear = notes["linear_baseline"]
    # measured: root_acc 1.0, nspr 0.95; untrained 0.0 and -0.41; trained on random trees 0.2 and 0.30
    assert metrics["test/root_acc"] >= 0.8 and metrics["test/root_acc"] >= linear["test/root_acc"] + 0.3
    assert metrics["test/nspr"] >= 0.85 and metrics["test/nspr"] >= linear["test/nspr"] + 0.3


def test_control_trees_are_trees_that_word_types_decide() -> None:
    control = TreeControl(seed=0)
    tokens = ["a", "b", "c", "b", "d"]
    heads = control.heads(tokens)
    # the first word is the root, the last attaches to it, the others to the first (1) or the last (5) word
    assert heads[0] == 0 and heads[-1] == 1
    assert heads[1:-1] == [1 if control.behaviour(t) == "first" else 5 for t in tokens[1:-1]] and heads[1] == heads[3]
    assert tree_depths(heads).max() <= 2 and control.heads(["x"]) == [0]
    behaviours = [control.behaviour(f"w{i}") for i in range(200)]
    assert 60 < behaviours.count("first") < 140  # about half


def test_objective_must_be_the_targets_metric() -> None:
    config = {"elmo": {"placement": "input"}, "bilm": {"freeze": True}}
    check_structural_config({**config, "task": {"target": "depth", "objective": "val/nspr"}})
    with pytest.raises(ConfigError, match="task.objective: task.target=depth logs val/root_acc and val/nspr"):
        check_structural_config({**config, "task": {"target": "depth", "objective": "val/dspr"}})
    with pytest.raises(ConfigError, match="task.rank: must be >= 1"):
        check_structural_config({**config, "task": {"rank": 0}})
    with pytest.raises(ConfigError, match="elmo.placement: the probe reads the encoder's vector"):
        check_structural_config({**config, "elmo": {"placement": "output"}})


def test_random_weights_mix_and_control_trees_run_through(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    metrics, notes = train_tree_probe("structural_depth", tiny_bilm_dir, tmp_path, "probe=mix",
                                      "bilm.random_weights=true", "task.control_task=true", "trainer.max_epochs=1")
    assert 0.0 <= metrics["test/root_acc"] <= 1.0 and notes["control_task"] is True
    # the LINEAR baseline on the control trees: their root is the first word, position 0
    assert notes["linear_baseline"]["test/root_acc"] == 1.0
