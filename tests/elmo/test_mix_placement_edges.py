"""The scalar mix and the placements at their edges: exact error messages, defaults, settings passed through,
penalties and mix names with several placed encoders (what the mutation score found unchecked)."""
from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from elmo_lab.elmo.mix import ScalarMix, masked_layer_norm
from elmo_lab.elmo.placements import ElmoPlacedEncoder, ElmoSettings, elmo_penalty, placed_mixes


class Identity(nn.Module):
    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.output_dim = in_dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x


def test_mix_errors_name_the_choices_and_the_range() -> None:
    with pytest.raises(ValueError, match=re.escape("mix mode must be one of all, top, average, layer, got 'sum'")):
        ScalarMix(3, mode="sum")
    with pytest.raises(ValueError, match=re.escape("mix mode 'layer' needs a layer index in [0, 2], got 3")):
        ScalarMix(3, mode="layer", layer=3)
    with pytest.raises(ValueError, match=re.escape("needs a layer index in [0, 2], got -4")):
        ScalarMix(3, mode="layer", layer=-4)
    assert ScalarMix(3, mode="layer", layer=-3).fixed_weights.tolist() == [1.0, 0.0, 0.0]  # python indexing
    with pytest.raises(ValueError, match=re.escape("ScalarMix built for 3 layers got 2")):
        ScalarMix(3)(torch.zeros(4, 2, 5, 6), torch.ones(4, 5, dtype=torch.bool))


def test_mix_weights_each_layer_of_each_row() -> None:
    layers = torch.arange(2 * 3 * 1 * 2, dtype=torch.float).view(2, 3, 1, 2)  # (batch 2, layers 3, time 1, dim 2)
    mix = ScalarMix(3, mode="layer", layer=1)
    assert torch.equal(mix(layers, torch.ones(2, 1, dtype=torch.bool)), layers[:, 1])


def test_masked_layer_norm_on_one_element_and_an_integer_mask() -> None:
    out = masked_layer_norm(torch.tensor([[[0.5]]]), torch.tensor([[1]]))  # one unmasked element, a long mask
    assert out.dtype == torch.float32 and torch.equal(out, torch.zeros(1, 1, 1))
    x = torch.tensor([[[1.0, 3.0]]])
    assert torch.allclose(masked_layer_norm(x, torch.tensor([[True]])), torch.tensor([[[-1.0, 1.0]]]))
    assert torch.isfinite(masked_layer_norm(torch.ones(1, 1, 2), torch.tensor([[True]]))).all()  # var 0, +eps


def test_placed_encoder_defaults_and_errors() -> None:
    enc = ElmoPlacedEncoder(4, 3, 6, Identity)
    assert enc.placement == "none" and enc.l2_coef == 0.0 and enc.dropout.p == 0.0 and enc.mixes() == {}
    assert enc.output_dim == 4
    penalty = enc.regularization_loss()
    assert penalty.shape == () and penalty.item() == 0.0 and penalty.device == torch.device("cpu")
    with pytest.raises(ValueError, match=re.escape("placement must be one of none, input, output, both, got 'top'")):
        ElmoPlacedEncoder(4, 3, 6, Identity, placement="top")
    both = ElmoPlacedEncoder(4, 3, 6, Identity, placement="both")
    assert both.input_mix.mode == "all" and not both.input_mix.layer_norm


def test_settings_reach_every_mix_and_the_encoder() -> None:
    settings = ElmoSettings(placement="both", mix="layer", layer=2, layer_norm=True, dropout=0.25, l2_coef=0.5)
    enc = settings.place(4, Identity, 3, 6)
    for mix in (enc.input_mix, enc.output_mix):
        assert mix.mode == "layer" and mix.layer_norm and mix.fixed_weights.tolist() == [0.0, 0.0, 1.0]
    assert enc.dropout.p == 0.25 and enc.l2_coef == 0.5 and enc.output_dim == 4 + 6 + 6
    none = ElmoSettings(placement="none").place(4, Identity, 3, 6)
    assert none.output_dim == 4 and none.input_mix is None


def test_mixes_see_the_mask_when_they_normalise() -> None:
    enc = ElmoSettings(placement="both", layer_norm=True, dropout=0.0).place(2, Identity, 1, 2)
    layers = torch.tensor([[[[1.0, 3.0], [100.0, -50.0]]]])  # (batch 1, layers 1, time 2, dim 2): the 2nd is padding
    mask = torch.tensor([[True, False]])
    out = enc(torch.zeros(1, 2, 2), mask, layers)  # (1, 2, 2 + 2 + 2)
    assert torch.allclose(out[0, 0, 2:4], torch.tensor([-1.0, 1.0])) and torch.equal(out[0, 0, 2:4], out[0, 0, 4:])


class TwoEncoders(nn.Module):
    def __init__(self, l2: float) -> None:
        super().__init__()
        self.a = ElmoSettings(placement="input", l2_coef=l2).place(2, Identity, 3, 2)
        self.b = ElmoSettings(placement="output", l2_coef=l2).place(2, Identity, 3, 2)


def test_several_placed_encoders_are_named_and_their_penalties_summed() -> None:
    model = TwoEncoders(0.5)
    assert sorted(placed_mixes(model)) == ["a.input", "b.output"]
    one = nn.Sequential(ElmoSettings(placement="input").place(2, Identity, 3, 2))
    assert list(placed_mixes(one)) == ["input"]
    with torch.no_grad():
        model.a.input_mix.weights.copy_(torch.tensor([1.0, 0.0, 0.0]))
        model.b.output_mix.weights.copy_(torch.tensor([0.0, 2.0, 0.0]))
    assert elmo_penalty(model).item() == pytest.approx(0.5 * 1 + 0.5 * 4)
    empty = elmo_penalty(nn.Linear(2, 2))
    assert empty.shape == () and empty.item() == 0.0
