import math

import pytest
import torch
import torch.nn.functional as F

from elmo_lab.lm.batching import IGNORE
from elmo_lab.lm.softmax import FullSoftmax, SampledSoftmax, make_softmax


def test_full_softmax_is_summed_cross_entropy_skipping_ignored():
    torch.manual_seed(0)
    sm = FullSoftmax(4, 10)
    h, t = torch.randn(5, 4), torch.tensor([1, 2, IGNORE, 9, 0])
    keep = t != IGNORE
    expected = F.cross_entropy(h[keep] @ sm.weight.T + sm.bias, t[keep], reduction="sum")
    assert torch.allclose(sm(h, t), expected)


def test_sampled_softmax_is_exact_in_eval_mode_and_sampled_in_training():
    torch.manual_seed(0)
    sm = SampledSoftmax(4, 1000, num_samples=50)
    h, t = torch.randn(6, 4), torch.randint(0, 1000, (6,))
    exact = sm.full_nll(h, t)
    assert torch.allclose(sm.eval()(h, t), exact)
    sampled = sm.train()(h, t)
    assert torch.isfinite(sampled) and not torch.allclose(sampled, exact)


def test_log_uniform_sampler_matches_its_distribution():
    torch.manual_seed(0)
    sm = SampledSoftmax(2, 100, num_samples=100)
    draws = torch.cat([sm._sample(torch.device("cpu")) for _ in range(400)])  # 40k draws
    freq0 = float((draws == 0).float().mean())
    assert abs(freq0 - math.log(2) / math.log(101)) < 0.01  # P(0) = log(2)/log(V+1) ≈ 0.150
    assert draws.min() >= 0 and draws.max() < 100


def test_sampled_softmax_training_lowers_the_exact_loss():
    torch.manual_seed(0)
    vocab, dim = 200, 8
    h = torch.randn(64, dim)
    t = (h[:, 0] > 0).long() * 5 + 3  # two target words, decided by the input
    sm = SampledSoftmax(dim, vocab, num_samples=20)
    opt = torch.optim.Adam(sm.parameters(), lr=0.05)
    start = float(sm.full_nll(h, t).detach())
    for _ in range(60):
        opt.zero_grad()
        sm.train()(h, t).backward()
        opt.step()
    assert float(sm.full_nll(h, t).detach()) < 0.5 * start


def test_make_softmax_switches_on_vocabulary_size():
    assert type(make_softmax(4, 100, full_max_vocab=1000)) is FullSoftmax
    assert isinstance(make_softmax(4, 5000, full_max_vocab=1000, num_samples=64), SampledSoftmax)


def test_fused_softmax_nll_matches_autograd_values_and_gradients():
    from elmo_lab.lm.softmax import SoftmaxNLL

    torch.manual_seed(0)
    hidden = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(11, 5, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(11, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 3, 10, 3, 5, 1, 9])
    fused = SoftmaxNLL.apply(hidden, weight, bias, targets) * 2.5  # an upstream gradient other than 1
    fused_grads = torch.autograd.grad(fused, (hidden, weight, bias), retain_graph=True)
    plain = torch.nn.functional.cross_entropy(hidden @ weight.t() + bias, targets, reduction="sum") * 2.5
    plain_grads = torch.autograd.grad(plain, (hidden, weight, bias))
    assert torch.allclose(fused, plain, rtol=1e-12)
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(fused_grads, plain_grads))
    with pytest.raises(RuntimeError, match="second backward pass"):
        torch.autograd.grad(fused, hidden)


def test_full_softmax_uses_the_fused_nll_when_training_on_cpu():
    torch.manual_seed(0)
    softmax = FullSoftmax(6, 13)
    hidden = torch.randn(9, 6, requires_grad=True)
    targets = torch.tensor([1, IGNORE, 4, 12, 0, IGNORE, 7, 7, 2])
    loss = softmax(hidden, targets)
    assert type(loss.grad_fn).__name__ == "SoftmaxNLLBackward"
    loss.backward()
    keep = targets != IGNORE
    logits = hidden.detach()[keep] @ softmax.weight.detach().t() + softmax.bias.detach()
    expected = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="sum")
    assert torch.allclose(loss, expected, rtol=1e-5)
    assert (hidden.grad[~keep] == 0).all() and (hidden.grad[keep] != 0).all()
