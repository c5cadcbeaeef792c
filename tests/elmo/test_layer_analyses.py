"""Layer analyses of a mix: the center of gravity E_s, the norm-weighted shares measured on data, the mix of layers
0..k (cumulative scoring) and E_Δ — each against a hand computation."""
from __future__ import annotations

import pytest
import torch

from elmo_lab.elmo.mix import ScalarMix
from elmo_lab.metrics.layer_scores import (center_of_gravity, cumulative_deltas, delta_center_of_gravity,
                                           norm_shares)


def test_center_of_gravity_by_hand() -> None:
    assert center_of_gravity([0.2, 0.3, 0.5]) == pytest.approx(0 * 0.2 + 1 * 0.3 + 2 * 0.5)  # 1.3
    assert center_of_gravity([1.0, 0.0, 0.0]) == 0.0
    assert center_of_gravity([0.0, 0.0, 0.0, 1.0]) == 3.0


def test_delta_center_of_gravity_by_hand() -> None:
    # score(0..0) = 80, score(0..1) = 90, score(0..2) = 92: Δ(1) = 10, Δ(2) = 2, E_Δ = (1·10 + 2·2) / 12 = 14/12
    scores = {0: 80.0, 1: 90.0, 2: 92.0}
    assert cumulative_deltas(scores) == pytest.approx({1: 10.0, 2: 2.0})
    assert delta_center_of_gravity(scores) == pytest.approx(14 / 12)
    assert delta_center_of_gravity({0: 80.0, 1: 79.0}) is None  # nothing gained: no center
    with pytest.raises(ValueError, match="missing \\[1\\]"):
        delta_center_of_gravity({0: 80.0, 2: 92.0})


def test_norm_shares_when_one_layer_has_ten_times_the_norm() -> None:
    # hand-built layers: every token of layer 1 has norm 10, of layers 0 and 2 norm 1; equal weights s = 1/3
    batch, time, dim = 2, 3, 4
    layers = torch.zeros(batch, 3, time, dim)
    layers[:, 0, :, 0] = 1.0
    layers[:, 1, :, 1] = -10.0
    layers[:, 2, :, 2] = 1.0
    mask = torch.tensor([[True, True, True], [True, True, False]])
    layers[1, :, 2] = 99.0  # padding: must not count
    mix = ScalarMix(3)
    meter = mix.measure_norms()
    mix(layers, mask)
    assert meter.tokens == 5
    assert meter.mean_norms() == pytest.approx([1.0, 10.0, 1.0])
    s = mix.normalized_weights().tolist()
    assert norm_shares(s, meter.mean_norms()) == pytest.approx([1 / 12, 10 / 12, 1 / 12])
    assert s == pytest.approx([1 / 3] * 3)  # the raw weights say "equal"; the shares say layer 1 is 10/12 of it
    # a weight of 0.1 against 0.45 each for the others still leaves layer 1 the largest share: 1 / (0.45+1+0.45)
    assert norm_shares([0.45, 0.1, 0.45], [1.0, 10.0, 1.0])[1] == pytest.approx(1.0 / 1.9)


def test_mix_of_layers_up_to_k_reads_only_those_layers() -> None:
    torch.manual_seed(0)
    layers, mask = torch.randn(2, 4, 3, 5), torch.ones(2, 3, dtype=torch.bool)
    mix = ScalarMix(4, max_layer=1)
    assert mix.weights.shape == (2,)
    assert torch.allclose(mix(layers, mask), layers[:, :2].mean(1), atol=1e-6)
    layers[:, 2:] = float("nan")  # the layers above k never reach the output
    assert not mix(layers, mask).isnan().any()
    assert torch.equal(ScalarMix(4, mode="top", max_layer=2).normalized_weights(), torch.tensor([0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="max_layer"):
        ScalarMix(4, max_layer=4)
    with pytest.raises(ValueError, match="max_layer"):
        ScalarMix(4, mode="layer", layer=1, max_layer=2)


def test_layer_mode_shortcut_equals_the_one_hot_sum_bit_for_bit() -> None:
    torch.manual_seed(1)
    layers, mask = torch.randn(3, 3, 6, 8), torch.ones(3, 6, dtype=torch.bool)
    mix = ScalarMix(3, mode="layer", layer=2)
    with torch.no_grad():
        mix.gamma.fill_(1.7)
    fast = mix(layers, mask)
    mix.measure_norms()  # takes the general path
    assert torch.equal(fast, mix(layers, mask))
