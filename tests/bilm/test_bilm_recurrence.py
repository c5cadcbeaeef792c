"""The hand-written BPTT of ``ProjectedLSTMRecurrence`` against autograd through a plain step loop (float64), with
ragged rows, both clips reached, two LSTMs in one loop, and gradients flowing in from the final state too."""
from __future__ import annotations

import pytest
import torch

from elmo_lab.bilm.recurrence import projected_lstm


def _autograd_loop(gates_x, w_h, w_p, c0, h0, lengths, cell_clip, proj_clip):
    """The same recurrence written as plain differentiable torch ops, one LSTM and one row at a time."""
    k, batch, time, _ = gates_x.shape
    outs, cs, hs = [], [], []
    for d in range(k):
        rows, row_c, row_h = [], [], []
        for r in range(batch):
            c, h = c0[d, r], h0[d, r]
            steps = []
            for t in range(int(lengths[r])):
                i, j, f, o = (gates_x[d, r, t] + h @ w_h[d]).chunk(4)
                c = (torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(j)).clamp(-cell_clip, cell_clip)
                h = ((torch.sigmoid(o) * torch.tanh(c)) @ w_p[d]).clamp(-proj_clip, proj_clip)
                steps.append(h)
            steps += [h.new_zeros(h.shape)] * (time - len(steps))
            rows.append(torch.stack(steps))
            row_c.append(c)
            row_h.append(h)
        outs.append(torch.stack(rows))
        cs.append(torch.stack(row_c))
        hs.append(torch.stack(row_h))
    return torch.stack(outs), torch.stack(cs), torch.stack(hs)


def _inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    k, batch, time, dim, proj = 2, 4, 6, 5, 3

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).requires_grad_()

    return (rand(k, batch, time, 4 * dim, scale=2.0), rand(k, proj, 4 * dim), rand(k, dim, proj, scale=1.5),
            rand(k, batch, dim), rand(k, batch, proj), torch.tensor([6, 4, 2, 0]))  # rows longest first


def test_values_and_gradients_match_autograd_through_a_step_loop():
    args = _inputs(0)
    clips = (0.8, 0.5)  # low, so that both clips are reached
    ours = projected_lstm(*args, *clips)
    want = _autograd_loop(*args, *clips)
    for got, expected in zip(ours, want):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    assert (want[0].abs() == 0.5).any(), "the projection clip should be reached"
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(t.shape, generator=g, dtype=torch.float64) for t in want]  # a loss using all 3 outputs
    differentiable = [a for a in args if a.requires_grad]
    got_grads = torch.autograd.grad(sum((o * w).sum() for o, w in zip(ours, weights)), differentiable)
    want_grads = torch.autograd.grad(sum((o * w).sum() for o, w in zip(want, weights)), differentiable)
    for name, got, expected in zip(["gates_x", "w_h", "w_p", "c0", "h0"], got_grads, want_grads):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10, msg=f"gradient of {name}")


def test_gradcheck_without_clips():
    args = _inputs(2)
    assert torch.autograd.gradcheck(lambda *a: projected_lstm(*a, args[-1], None, None), args[:-1])


def test_rows_must_come_longest_first():
    args = list(_inputs(5))
    args[-1] = torch.tensor([2, 6, 4, 0])
    with pytest.raises(ValueError, match=r"rows must be sorted longest first, got lengths \[2, 6, 4, 0\]"):
        projected_lstm(*args, 3.0, 3.0)


def test_no_grad_run_saves_nothing_and_gives_the_same_values():
    args = _inputs(3)
    with torch.no_grad():
        out, c, h = projected_lstm(*args, 3.0, 3.0)
    assert out.grad_fn is None
    torch.testing.assert_close(out, projected_lstm(*args, 3.0, 3.0)[0].detach(), rtol=0, atol=0)


def test_runs_in_float32_under_mixed_precision():
    from elmo_lab.bilm.lstm import LSTMStack, run_stacks

    stacks = [LSTMStack(4, 6, 3, 2, 3.0, 3.0, True) for _ in range(2)]
    x = torch.randn(3, 5, 4, requires_grad=True)
    lengths = torch.tensor([5, 2, 4])
    want = run_stacks(stacks, [x, x], lengths)[1][-1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = run_stacks(stacks, [x, x], lengths)[1][-1]
    got.float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    torch.testing.assert_close(got.float(), want, rtol=0, atol=0.05)  # only the input matmul ran in bfloat16


def test_plain_lstm_without_projection_matches_autograd():
    args = list(_inputs(4))
    k, dim = args[2].shape[0], args[0].shape[-1] // 4
    args[2] = None  # no projection: h = o * tanh(c), so the state is dim wide
    args[1] = torch.randn(k, dim, 4 * dim, dtype=torch.float64, requires_grad=True)
    args[4] = torch.randn(k, args[0].shape[1], dim, dtype=torch.float64, requires_grad=True)
    eye = torch.eye(dim, dtype=torch.float64).expand(k, dim, dim)
    ours = projected_lstm(*args, 0.8, None)
    want = _autograd_loop(*args[:2], eye, *args[3:], 0.8, float("inf"))
    for got, expected in zip(ours, want):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    differentiable = [a for a in args if a is not None and a.requires_grad]
    got_grads = torch.autograd.grad(sum(o.sum() for o in ours), differentiable)
    want_grads = torch.autograd.grad(sum(o.sum() for o in want), differentiable)
    for got, expected in zip(got_grads, want_grads):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
