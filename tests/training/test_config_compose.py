"""Every config group composes through Hydra's compose API, and the typed schema rejects bad values."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ValidationError
from hydra.errors import ConfigCompositionException

from elmo_lab.config.schema import ConfigError, Mix, Placement, validate

from conftest import CONF, compose_train


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


@pytest.mark.parametrize("group", ["task", "bilm", "elmo", "trainer", "logger", "callbacks", "experiment"])
def test_every_option_of_every_group_composes(group: str, tmp_path) -> None:
    options = _options(group)
    assert options, f"conf/{group} is empty"
    for option in options:
        cfg = compose_train([f"{group}={option}"], run_dir=tmp_path)
        validate(cfg)
        assert cfg.paths.output_dir == str(tmp_path)
        OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


@pytest.mark.parametrize("launcher, key", [("basic", None), ("joblib", "n_jobs"), ("local", "n_jobs"),
                                           ("slurm", "timeout_min")])
def test_launchers_compose(launcher: str, key: str | None) -> None:
    cfg = compose_train([f"hydra/launcher={launcher}"])
    if key:
        assert key in cfg.hydra.launcher


def test_defaults_are_typed() -> None:
    cfg = compose_train([])
    assert cfg.task.name == "mr" and cfg.bilm.spec == "default" and cfg.bilm.freeze
    assert cfg.elmo.placement == Placement.input and cfg.elmo.mix == Mix.all
    assert cfg.hydra.run.dir == "outputs/mr/default/input-all-l2_0.001-seed0"
    assert compose_train(["bilm.spec=/data/lms/my_lm/"]).hydra.run.dir == "outputs/mr/my_lm/input-all-l2_0.001-seed0"


def test_experiment_sets_the_paper_sst5_setting() -> None:
    cfg = compose_train(["experiment=sst5_paper"])
    assert cfg.task.name == "sst" and cfg.task.encoder == "bcn" and cfg.task.min_phrase_tokens == 4
    assert cfg.elmo.placement == Placement.both and cfg.elmo.l2_coef == 0.001


@pytest.mark.parametrize("override, cause, message", [
    ("elmo.placement=bogus", ValidationError, "Invalid value 'bogus', expected one of [none, input, output, both]"),
    ("elmo.mix=everything", ValidationError, "Invalid value 'everything', expected one of [all, top, average, layer]"),
    ("elmo.placment=both", ConfigAttributeError, "Key 'placment' not in 'ElmoConfig'"),
    ("bilm.freeze=maybe", ValidationError, "Value 'maybe' is not a valid bool"),
])
def test_schema_rejects_bad_values_at_composition(override: str, cause: type, message: str) -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_train([override])
    assert type(info.value.__cause__) is cause and message in str(info.value.__cause__)
    assert f"full_key: {override.split('=')[0]}" in str(info.value.__cause__)  # it names the key


@pytest.mark.parametrize("override, message", [
    ("elmo.l2_coef=-1", "elmo.l2_coef: must be >= 0, got -1.0"),
    ("elmo.mix_lr=0", "elmo.mix_lr: must be > 0 (or null: task.lr), got 0.0"),
    ("elmo.dropout=1.0", "elmo.dropout: must be in [0, 1)"),
    ("elmo.layer=1", "elmo.layer: only used with elmo.mix=layer"),
    ("elmo.mix=layer", "elmo.layer: mix=layer needs a layer index"),
    ("task.batch_size=0", "task.batch_size: must be >= 1, got 0"),
])
def test_validate_names_the_key_and_the_rule(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(compose_train([override]))
    assert message in str(info.value)
