"""The biLM stage (``ContextualLayers``) and the placed encoders: one place decides whether a biLM loads; a constant
biLM stays out of checkpoints and comes back on load; any token sequence (a question as much as a passage) is served
from the cache; what the data side needs follows from the config alone; mixes and λ are found by walking the model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from elmo_lab.elmo.placements import ElmoSettings, elmo_penalty, placed_mixes
from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.modules.encoders import BiLSTMEncoder

ELMO = dict(placement="both", mix="all", layer=None, layer_norm=False, dropout=0.0, l2_coef=0.1)


def _bilm_cfg(spec: str, **kw) -> dict:
    return dict(spec=spec, freeze=True, stateful=False, cache=True, finetune=dict(enabled=False)) | kw


def _stage(elmo: dict, bilm: dict) -> ContextualLayers:
    return ContextualLayers.from_config(bilm, needed=elmo["placement"] != "none")


def _place(elmo: dict, stage: ContextualLayers) -> nn.Module:
    return ElmoSettings.from_config(elmo).place(4, lambda d: BiLSTMEncoder(d, 3), stage.num_layers, stage.output_dim)


class _Owner(nn.Module):
    """A task model in miniature: it keeps the biLM stage and one placed encoder."""

    def __init__(self, elmo: ContextualLayers) -> None:
        super().__init__()
        self.elmo = elmo
        self.encoder = _place(ELMO, elmo)


def test_placement_none_loads_no_bilm_and_needs_no_chars() -> None:
    none = dict(ELMO, placement="none")
    elmo = _stage(none, _bilm_cfg("/no/such/biLM"))  # never read
    assert elmo.encoder is None and elmo.batch_input is None and elmo.layers([["a"]]) is None
    owner = nn.Module()
    owner.encoder = _place(none, elmo)
    assert elmo.num_layers == 0 and placed_mixes(owner) == {}


def test_cache_decides_whether_batches_need_encoder_input(tiny_bilm_dir: Path) -> None:
    assert not _stage(ELMO, _bilm_cfg(str(tiny_bilm_dir))).batch_input
    for change in (dict(cache=False), dict(stateful=True), dict(freeze=False)):
        assert _stage(ELMO, _bilm_cfg(str(tiny_bilm_dir), **change)).batch_input is not None, change


def test_constant_bilm_is_left_out_of_checkpoints_and_restored_on_load(tiny_bilm_dir: Path) -> None:
    owner = _Owner(_stage(ELMO, _bilm_cfg(str(tiny_bilm_dir))))
    state = owner.state_dict()
    assert not [k for k in state if k.startswith("elmo.encoder.bilm.")]
    assert "encoder.input_mix.weights" in state and "encoder.output_mix.weights" in state
    fresh = _Owner(_stage(ELMO, _bilm_cfg(str(tiny_bilm_dir))))
    fresh.load_state_dict(state, strict=True)  # the missing biLM keys are filled from the loaded biLM
    finetuned = _Owner(_stage(ELMO, _bilm_cfg(str(tiny_bilm_dir), finetune=dict(enabled=True))))
    assert any(k.startswith("elmo.encoder.bilm.") for k in finetuned.state_dict())


def test_every_registered_sequence_is_served_from_the_cache(tiny_bilm_dir: Path) -> None:
    elmo = _stage(ELMO, _bilm_cfg(str(tiny_bilm_dir)))
    passages, questions = [["The", "river", "flows", "."]], [["Where", "does", "it", "flow", "?"]]
    elmo.cache.add(passages + questions)
    fresh = _stage(ELMO, _bilm_cfg(str(tiny_bilm_dir), cache=False))
    calls = []
    elmo.encoder.bilm.register_forward_hook(lambda *args: calls.append(1))
    first = elmo.layers(questions)  # fills the cache: one pass over both registered sequences
    assert len(calls) == 1
    again = elmo.layers(questions + passages)  # (2, L + 1, 5, dim)
    assert len(calls) == 1 and again.shape[:3] == (2, 3, 5)
    assert torch.allclose(first, fresh.layers(questions), atol=2e-3)  # float16 storage
    elmo.layers([["never", "registered"]])  # a miss runs the biLM on that batch
    assert len(calls) == 2


def test_mixes_are_named_by_encoder_when_there_are_several(tiny_bilm_dir: Path) -> None:
    settings = dict(ELMO, placement="input")
    elmo = _stage(settings, _bilm_cfg(str(tiny_bilm_dir)))
    model = nn.Module()  # the encoders are the model's own submodules; nothing registers them anywhere else
    model.tagger = _place(settings, elmo)
    assert list(placed_mixes(model)) == ["input"]
    model.probe = _place(settings, elmo)
    assert list(placed_mixes(model)) == ["tagger.input", "probe.input"]
    with torch.no_grad():
        placed_mixes(model)["probe.input"].weights.fill_(1.0)
    assert elmo_penalty(model).item() == pytest.approx(0.1 * 3)


def test_frozen_bilm_stays_in_eval_mode(tiny_bilm_dir: Path) -> None:
    owner = _Owner(_stage(ELMO, _bilm_cfg(str(tiny_bilm_dir))))
    owner.train()
    assert owner.encoder.training and not owner.elmo.encoder.bilm.training
    assert not any(p.requires_grad for p in owner.elmo.encoder.bilm.parameters())
