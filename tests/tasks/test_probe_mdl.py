"""MDL probing (``task.mdl=true``, Voita & Titov 2020) through the training pipeline: labels that the representation
carries (each word's letter set, which the character layer sees) compress clearly better than the control task's
labels (one random label per word type) and than random labels per token; the config check names ``task.mdl``."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from elmo_lab.config.schema import ConfigError
from elmo_lab.training.pipeline import train
from tasks.probe import check_probe_config

from train_helpers import compose_train

OVERRIDES = ["trainer.max_epochs=10", "task.lr=0.05", "trainer.enable_progress_bar=false", "logger=csv", "threads=1",
             "experiment=probe_layers", "probe=layer0"]
LETTERS = {"A": "abcd", "B": "mnop", "C": "wxyz"}


def _write_letter_sets(folder: Path, seed: int = 0) -> Path:
    """Columns: token, its letter set's label (2), a random label per token (3), O.  60 word types a label."""
    rng = random.Random(seed)
    words = [("".join(rng.choice(chars) for _ in range(rng.randint(3, 6))), label)
             for label, chars in LETTERS.items() for _ in range(60)]
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", 150), ("valid", 10), ("test", 10)):
        lines = []
        for _ in range(n):
            lines += [f"{w} {label} {rng.choice('ABC')} O" for w, label in rng.choices(words, k=rng.randint(6, 10))]
            lines.append("")
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return folder


def _compression(data: Path, bilm: Path, run_dir: Path, *extra: str) -> dict:
    train(compose_train([*OVERRIDES, f"task.data_dir={data}", f"bilm.spec={bilm}", "task.mdl=true", *extra],
                        run_dir=run_dir))
    return json.loads((run_dir / "results.json").read_text())["mdl"]


@pytest.mark.slow
def test_labels_the_representation_carries_compress_better(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    data = _write_letter_sets(tmp_path / "data")
    real = _compression(data, tiny_bilm_dir, tmp_path / "real", "task.column=2")
    control = _compression(data, tiny_bilm_dir, tmp_path / "control", "task.column=2", "task.control_task=true")
    noise = _compression(data, tiny_bilm_dir, tmp_path / "random", "task.column=3")
    tokens = sum(b["tokens"] for b in real["blocks"])
    assert real["labels"] == 3 and real["uniform_codelength_kbits"] * 1000 == pytest.approx(tokens * 1.5849625)
    assert real["online_codelength_kbits"] * 1000 == pytest.approx(sum(b["bits"] for b in real["blocks"]))
    assert len(real["blocks"]) >= 6 and real["blocks"][0]["tokens"] < tokens / 50
    assert real["compression"] > 1.5 * control["compression"] and real["compression"] > 1.5 * noise["compression"]
    assert noise["compression"] < 1.1  # random labels cannot be compressed
    without = tmp_path / "without"
    train(compose_train([*OVERRIDES, f"task.data_dir={data}", f"bilm.spec={tiny_bilm_dir}", "task.column=2"],
                        run_dir=without))
    metrics = json.loads((without / "results.json").read_text())["metrics"]
    assert metrics == json.loads((tmp_path / "real" / "results.json").read_text())["metrics"]  # the fit unchanged
    assert "mdl" not in json.loads((without / "results.json").read_text())


def test_mdl_needs_epochs_naming_the_key() -> None:
    config = {"elmo": {"placement": "input"}, "bilm": {"freeze": True}, "task": {"mdl": True},
              "trainer": {"max_epochs": -1}}
    with pytest.raises(ConfigError, match=r"^task.mdl: each block's probe trains for trainer.max_epochs epochs"):
        check_probe_config(config)
    check_probe_config(dict(config, trainer={"max_epochs": 2}))
