"""The ``Elmo`` component: one place decides whether a biLM loads; a constant biLM stays out of checkpoints and
comes back on load; any token sequence (a question as much as a passage) is served from the cache; what the data
side needs follows from the config alone."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from elmo_lab.elmo import Elmo
from tasks.encoders import BiLSTMEncoder

ELMO = dict(placement="both", mix="all", layer=None, layer_norm=False, dropout=0.0, l2_coef=0.1)


def _bilm_cfg(spec: str, **kw) -> dict:
    return dict(spec=spec, freeze=True, stateful=False, cache=True, finetune=dict(enabled=False)) | kw


class _Owner(nn.Module):
    """A task model in miniature: it keeps the component and one placed encoder."""

    def __init__(self, elmo: Elmo) -> None:
        super().__init__()
        self.elmo = elmo
        self.encoder = elmo.placed_encoder(4, lambda d: BiLSTMEncoder(d, 3))


def test_placement_none_loads_no_bilm_and_needs_no_chars() -> None:
    elmo = Elmo.from_config(dict(ELMO, placement="none"), _bilm_cfg("/no/such/biLM"))  # never read
    assert elmo.bilm is None and not elmo.needs_char_ids and elmo.layers([["a"]]) is None
    assert elmo.max_characters_per_token == 50 and elmo.mixes() == {}


def test_cache_decides_whether_batches_need_char_ids(tiny_bilm_dir: Path) -> None:
    assert not Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir))).needs_char_ids
    for change in (dict(cache=False), dict(stateful=True), dict(freeze=False)):
        assert Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir), **change)).needs_char_ids, change


def test_constant_bilm_is_left_out_of_checkpoints_and_restored_on_load(tiny_bilm_dir: Path) -> None:
    owner = _Owner(Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir))))
    state = owner.state_dict()
    assert not [k for k in state if k.startswith("elmo.bilm.")]
    assert "encoder.input_mix.weights" in state and "encoder.output_mix.weights" in state
    fresh = _Owner(Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir))))
    fresh.load_state_dict(state, strict=True)  # the missing biLM keys are filled from the loaded biLM
    finetuned = _Owner(Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir), finetune=dict(enabled=True))))
    assert any(k.startswith("elmo.bilm.") for k in finetuned.state_dict())


def test_every_registered_sequence_is_served_from_the_cache(tiny_bilm_dir: Path) -> None:
    elmo = Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir)))
    passages, questions = [["The", "river", "flows", "."]], [["Where", "does", "it", "flow", "?"]]
    elmo.cache_sequences(passages + questions)
    fresh = Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir), cache=False))
    calls = []
    elmo.bilm.register_forward_hook(lambda *args: calls.append(1))
    first = elmo.layers(questions)  # fills the cache: one pass over both registered sequences
    assert len(calls) == 1
    again = elmo.layers(questions + passages)  # (2, L + 1, 5, dim)
    assert len(calls) == 1 and again.shape[:3] == (2, 3, 5)
    assert torch.allclose(first, fresh.layers(questions), atol=2e-3)  # float16 storage
    elmo.layers([["never", "registered"]])  # a miss runs the biLM on that batch
    assert len(calls) == 2


def test_mixes_are_named_by_encoder_when_there_are_several(tiny_bilm_dir: Path) -> None:
    elmo = Elmo.from_config(dict(ELMO, placement="input"), _bilm_cfg(str(tiny_bilm_dir)))
    elmo.placed_encoder(4, lambda d: BiLSTMEncoder(d, 3), name="tagger")
    assert list(elmo.mixes()) == ["input"]
    elmo.placed_encoder(4, lambda d: BiLSTMEncoder(d, 3), name="probe")
    assert list(elmo.mixes()) == ["tagger.input", "probe.input"]
    with torch.no_grad():
        elmo.mixes()["probe.input"].weights.fill_(1.0)
    assert elmo.regularization_loss().item() == pytest.approx(0.1 * 3)
    with pytest.raises(ValueError, match="exists already"):
        elmo.placed_encoder(4, lambda d: BiLSTMEncoder(d, 3), name="probe")


def test_frozen_bilm_stays_in_eval_mode(tiny_bilm_dir: Path) -> None:
    owner = _Owner(Elmo.from_config(ELMO, _bilm_cfg(str(tiny_bilm_dir))))
    owner.train()
    assert owner.encoder.training and not owner.elmo.bilm.training
    assert not any(p.requires_grad for p in owner.elmo.bilm.parameters())
