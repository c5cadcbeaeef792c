"""The projected, clipped LSTM layer against a row-by-row, step-by-step float64 transcription of TensorFlow's
``LSTMCell`` formula; and its gradients (the same loop trains the biLM)."""
from __future__ import annotations

import torch

from elmo_lab.bilm.lstm import FORGET_BIAS, ProjectedLSTMLayer


def _reference(layer: ProjectedLSTMLayer, x: torch.Tensor, lengths: torch.Tensor, state):
    """gates = [x; h] W + B split i, j, f, o; c = σ(f + 1) c + σ(i) tanh(j), clipped; h = (σ(o) tanh(c)) W_P,
    clipped.  Returns the outputs, the final c and h, and whether any clip was reached."""
    w = torch.cat([layer.input_gates.weight, layer.hidden_gates.weight], 1).double().t()
    b, w_p = layer.input_gates.bias.double(), layer.projection.weight.double().t()
    out = torch.zeros(x.shape[0], x.shape[1], layer.projection_dim, dtype=torch.float64)
    finals, clipped = [], False
    for r in range(x.shape[0]):
        c, h = state[0][r].double(), state[1][r].double()
        for t in range(int(lengths[r])):
            i, j, f, o = (torch.cat([x[r, t].double(), h]) @ w + b).chunk(4)
            c = torch.sigmoid(f + FORGET_BIAS) * c + torch.sigmoid(i) * torch.tanh(j)
            clipped |= bool((c.abs() > layer.cell_clip).any())
            c = c.clamp(-layer.cell_clip, layer.cell_clip)
            h = (torch.sigmoid(o) * torch.tanh(c)) @ w_p
            clipped |= bool((h.abs() > layer.proj_clip).any())
            h = h.clamp(-layer.proj_clip, layer.proj_clip)
            out[r, t] = h
        finals.append((c, h))
    return out, torch.stack([c for c, _ in finals]), torch.stack([h for _, h in finals]), clipped


def test_layer_matches_stepwise_reference_with_ragged_rows_and_state():
    torch.manual_seed(0)
    layer = ProjectedLSTMLayer(6, 10, 4, cell_clip=1.0, proj_clip=0.3)  # low clips, so that both are reached
    x = torch.randn(5, 7, 6)
    lengths = torch.tensor([7, 3, 0, 5, 1])
    state = (torch.randn(5, 10), torch.randn(5, 4))
    with torch.no_grad():
        out, (c, h) = layer(x, lengths, state)
    want, want_c, want_h, clipped = _reference(layer, x, lengths, state)
    assert clipped, "the test should exercise the clips"
    torch.testing.assert_close(out.double(), want, rtol=0, atol=1e-5)
    torch.testing.assert_close(c.double(), want_c, rtol=0, atol=1e-5)
    torch.testing.assert_close(h.double(), want_h, rtol=0, atol=1e-5)
    assert torch.equal(c[2], state[0][2]) and torch.equal(h[2], state[1][2]), "a row of length 0 keeps its state"


def test_layer_output_shape_when_the_time_axis_is_longer_than_every_row():
    layer = ProjectedLSTMLayer(3, 4, 2, cell_clip=None, proj_clip=None)
    out, _ = layer(torch.randn(2, 6, 3), torch.tensor([2, 4]), (torch.zeros(2, 4), torch.zeros(2, 2)))
    assert out.shape == (2, 6, 2)
    assert not out[0, 2:].any() and not out[1, 4:].any()


def test_layer_gradients_are_exact():
    torch.manual_seed(1)
    layer = ProjectedLSTMLayer(2, 3, 2, cell_clip=3.0, proj_clip=3.0).double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])

    def run(x, c0, *weights):
        out, (c, h) = torch.func.functional_call(layer, dict(zip(names, weights)),
                                                 (x, lengths, (c0, torch.zeros(2, 2, dtype=torch.float64))))
        return out, c, h

    names = [name for name, _ in layer.named_parameters()]
    weights = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(run, (x, c0, *weights))
