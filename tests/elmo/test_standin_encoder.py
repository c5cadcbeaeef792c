"""A second encoder kind plugs in without touching ``tasks/``, the datamodule base or the pipeline: a stand-in
(random layers of another depth and width, read from the tokens alone, no characters) registered here trains one
batch of ``task=mr``, ``task=conll2003`` and the probe, through the layer cache."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from elmo_lab.config.encoder_kinds import register_encoder
from elmo_lab.config.schema import ConfigError
from elmo_lab.training.pipeline import train

from standin_encoders import RandomLayers
from train_helpers import FAST, compose_train

ONE_BATCH = [o for o in FAST if not o.startswith(("task.hidden_dim", "trainer.limit_"))] + [
    "trainer.limit_train_batches=1", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
    "bilm.kind=standin", "bilm.spec=standin"]
TAGS = ("O", "B-PER", "I-PER", "B-LOC")


def _conll(folder: Path) -> Path:
    """Tiny CoNLL-2003 files (token, POS, chunk, NER; IOB2 here), 24/8/8 sentences."""
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for name, n in (("train", 24), ("valid", 8), ("test", 8)):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(n):
            lines += [f"w{rng.randrange(30)} {rng.choice(['NN', 'VB', 'DT'])} I-NP {rng.choice(TAGS)}"
                      for _ in range(rng.randrange(2, 7))] + [""]
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return folder


def task_overrides(task: str, tmp_path: Path) -> list[str]:
    """One small run of ``task`` (mr | conll2003 | probe): MR from 64 sentences, the others on ``_conll`` files."""
    overrides = [f"task={task}"]
    if task == "mr":
        overrides += ["task.train_examples=64", "elmo.placement=both"]
    else:
        overrides += [f"task.data_dir={_conll(tmp_path / 'data')}"]
    return overrides + {"conll2003": ["task.hidden_dims=[8]", "elmo.placement=input"],
                        "probe": ["experiment=probe_layers", "probe=mix"]}.get(task, [])


@pytest.fixture
def standin() -> type[RandomLayers]:
    register_encoder("standin", RandomLayers)
    RandomLayers.calls = 0
    return RandomLayers


@pytest.mark.parametrize("task", ["mr", "conll2003", "probe"])
def test_a_standin_encoder_trains_every_kind_of_task_through_the_cache(task: str, standin: type,
                                                                       tmp_path: Path) -> None:
    overrides = ONE_BATCH + task_overrides(task, tmp_path)
    run_dir = tmp_path / "run"
    train(compose_train(overrides, run_dir=run_dir))
    results = json.loads((run_dir / "results.json").read_text())
    weights = results["layer_weights"]
    assert weights and all(len(w["s"]) == 4 for w in weights.values())  # the stand-in's L + 1 = 4, not the biLM's 3
    assert results["config"]["bilm"]["kind"] == "standin"
    calls = standin.calls  # the cache ran the encoder once over every sequence, in fixed batches; training read it
    manifests = list((tmp_path / "layers").glob("*/manifest.json"))
    assert len(manifests) == 1, manifests
    manifest = json.loads(manifests[0].read_text())
    assert manifest["kind"] == "standin" and (manifest["n_layers"], manifest["dim"]) == (4, 6)
    train(compose_train(overrides + ["seed=1"], run_dir=tmp_path / "again"))
    assert standin.calls == calls  # a second run reads the shared entry: the encoder never runs again


def test_a_layer_beyond_the_encoder_is_refused_naming_the_key(standin: type, tmp_path: Path) -> None:
    overrides = ONE_BATCH + ["task=probe", f"task.data_dir={_conll(tmp_path / 'data')}", "experiment=probe_layers",
                             "probe=layer2", "elmo.layer=4"]
    with pytest.raises(ConfigError, match=r"elmo.layer: the encoder has layers 0..3 .*got 4"):
        train(compose_train(overrides, run_dir=tmp_path / "run"))
    assert not (tmp_path / "run" / "results.json").exists()


def test_an_unknown_kind_fails_at_validation_listing_the_kinds(tmp_path: Path) -> None:
    from elmo_lab.config.schema import validate

    with pytest.raises(ConfigError, match=r"bilm.kind: unknown encoder kind 'transformr'; valid kinds: .*lstm"):
        validate(compose_train(["bilm.kind=transformr"]))


def test_the_probe_sweep_has_one_job_per_layer_of_the_encoder(standin: type) -> None:
    cfg = compose_train(["experiment=probe_layers", "bilm.kind=standin"])
    assert cfg.hydra.sweeper.params.probe == "layer0,layer1,layer2,layer3,mix"  # L + 1 = 4 layers, then the mix
    assert compose_train(["experiment=probe_layers"]).hydra.sweeper.params.probe == "layer0,layer1,layer2,mix"
