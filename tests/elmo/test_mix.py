"""The scalar mix: γ·Σ softmax(w)_j h_j, its top/average/layer modes, the reference layer norm, and the λ penalty."""
from __future__ import annotations

import pytest
import torch

from elmo_lab.elmo.mix import ScalarMix, masked_layer_norm


def _layers(batch: int = 2, n: int = 3, time: int = 4, dim: int = 5) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(batch, n, time, dim)


def test_all_mode_starts_uniform_with_gamma_one() -> None:
    mix = ScalarMix(3)
    layers, mask = _layers(), torch.ones(2, 4, dtype=torch.bool)
    assert torch.allclose(mix.normalized_weights(), torch.full((3,), 1 / 3))
    assert mix.gamma.item() == 1.0
    assert torch.allclose(mix(layers, mask), layers.mean(1), atol=1e-6)


def test_all_mode_uses_softmax_of_w_and_gamma() -> None:
    mix = ScalarMix(3)
    with torch.no_grad():
        mix.weights.copy_(torch.tensor([1.0, 0.0, -1.0]))
        mix.gamma.fill_(2.0)
    s = torch.softmax(torch.tensor([1.0, 0.0, -1.0]), 0)
    layers = _layers()
    expected = 2.0 * (s.view(1, 3, 1, 1) * layers).sum(1)
    assert torch.allclose(mix(layers, torch.ones(2, 4, dtype=torch.bool)), expected, atol=1e-6)


def test_top_mode_is_the_top_layer_times_learned_gamma() -> None:
    mix = ScalarMix(3, mode="top")
    names = {n for n, _ in mix.named_parameters()}
    assert names == {"gamma"}  # only γ learns
    with torch.no_grad():
        mix.gamma.fill_(0.5)
    layers = _layers()
    assert torch.equal(mix.normalized_weights(), torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(mix(layers, torch.ones(2, 4, dtype=torch.bool)), 0.5 * layers[:, 2])


def test_average_mode_has_fixed_equal_weights() -> None:
    mix = ScalarMix(3, mode="average")
    assert {n for n, _ in mix.named_parameters()} == {"gamma"}
    assert torch.allclose(mix.normalized_weights(), torch.full((3,), 1 / 3))
    assert mix.l2_penalty().item() == 0.0


def test_layer_mode_picks_one_layer_and_checks_the_index() -> None:
    layers = _layers()
    out = ScalarMix(3, mode="layer", layer=1)(layers, torch.ones(2, 4, dtype=torch.bool))
    assert torch.allclose(out, layers[:, 1])
    with pytest.raises(ValueError, match="layer index"):
        ScalarMix(3, mode="layer", layer=3)


def test_layer_norm_uses_one_mean_and_variance_over_unmasked_elements() -> None:
    layer = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -50.0]],
                          [[5.0, 6.0], [0.0, 0.0], [0.0, 0.0]]])  # (batch 2, time 3, dim 2)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # the unmasked elements, by hand
    mean, var = values.mean(), values.var(unbiased=False)
    out = masked_layer_norm(layer, mask)
    assert torch.allclose(out[0, 0], (torch.tensor([1.0, 2.0]) - mean) / torch.sqrt(var), atol=1e-6)
    assert torch.allclose(out[1, 0], (torch.tensor([5.0, 6.0]) - mean) / torch.sqrt(var), atol=1e-6)
    assert torch.equal(out[0, 2], torch.zeros(2)) and torch.equal(out[1, 1:], torch.zeros(2, 2))


def test_mix_with_layer_norm_normalises_each_layer_separately() -> None:
    layers, mask = _layers(), torch.tensor([[True, True, True, False], [True, True, False, False]])
    expected = torch.stack([masked_layer_norm(layers[:, j], mask) for j in range(3)], 1).mean(1)
    assert torch.allclose(ScalarMix(3, layer_norm=True)(layers, mask), expected, atol=1e-6)


def test_l2_penalty_is_the_sum_of_squared_raw_weights() -> None:
    mix = ScalarMix(3)
    with torch.no_grad():
        mix.weights.copy_(torch.tensor([1.0, -2.0, 0.5]))
    assert mix.l2_penalty().item() == pytest.approx(1 + 4 + 0.25)


def _train_mix(l2: float, steps: int = 200) -> torch.Tensor:
    """Fit a mix to a target that only layer 0 explains, with λ·Σw² added to the loss; return s."""
    torch.manual_seed(0)
    mix = ScalarMix(3)
    layers = torch.randn(4, 3, 6, 5)
    mask = torch.ones(4, 6, dtype=torch.bool)
    target = layers[:, 0]
    opt = torch.optim.Adam(mix.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((mix(layers, mask) - target) ** 2).mean() + l2 * mix.l2_penalty()
        loss.backward()
        opt.step()
    return mix.normalized_weights().detach()


def test_large_lambda_keeps_the_weights_near_uniform() -> None:
    free, regularised = _train_mix(0.0), _train_mix(10.0)
    uniform = torch.full((3,), 1 / 3)
    assert free[0] > 0.8  # without λ the mix learns to pick layer 0
    assert (regularised - uniform).abs().max() < 0.1
    assert (regularised - uniform).abs().max() < (free - uniform).abs().max()
