"""One projected LSTM cell against TensorFlow's LSTMCell formula, computed by hand in numpy.

TF ``LSTMCell(num_units, num_proj, cell_clip, proj_clip)`` with the default ``forget_bias=1.0``:
    i, j, f, o = split([x; h] @ W_0 + B)
    c = sigmoid(f + 1.0) * c_prev + sigmoid(i) * tanh(j);  c = clip(c, ±cell_clip)
    h = (sigmoid(o) * tanh(c)) @ W_P;                      h = clip(h, ±proj_clip)
The weights below drive both clips past their limits, so the clipping is really exercised.
"""
from __future__ import annotations

import numpy as np
import torch

from elmo_lab.bilm.lstm import ProjectedLSTMLayer

# W_0 rows: x1, x2, h_prev; columns: gates i, j, f, o (the file layout)
W0 = np.array([[0.5, 1.5, 1.0, 0.7],
               [0.3, 0.8, 0.6, -0.4],
               [-0.2, 0.4, 0.5, 0.9]])
B = np.array([0.1, 0.2, 0.3, 0.5])
WP = np.array([[1.6]])
CELL_CLIP, PROJ_CLIP = 1.2, 1.0
X = np.array([[[1.0, 0.5], [0.8, -0.2], [2.0, 1.0], [-1.5, -1.0], [-0.5, 1.0]],
              [[-1.0, 0.4], [0.2, 0.1], [9.0, 9.0], [9.0, 9.0], [9.0, 9.0]]])  # row 1: 2 real steps, then padding
LENGTHS = [5, 2]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def tf_lstm(x, forget_bias=1.0):
    """Reference recurrence for one row; returns outputs, final (c, h) and the pre-clip |c|, |h| of each step."""
    c, h = np.zeros(1), np.zeros(1)
    outputs, pre_c, pre_h = [], [], []
    for x_t in x:
        i, j, f, o = np.split(np.concatenate([x_t, h]) @ W0 + B, 4)
        c = _sigmoid(f + forget_bias) * c + _sigmoid(i) * np.tanh(j)
        pre_c.append(float(np.abs(c).max()))
        c = np.clip(c, -CELL_CLIP, CELL_CLIP)
        h = (_sigmoid(o) * np.tanh(c)) @ WP
        pre_h.append(float(np.abs(h).max()))
        h = np.clip(h, -PROJ_CLIP, PROJ_CLIP)
        outputs.append(h)
    return np.stack(outputs), (c, h), pre_c, pre_h


def _layer() -> ProjectedLSTMLayer:
    layer = ProjectedLSTMLayer(input_dim=2, dim=1, projection_dim=1, cell_clip=CELL_CLIP, proj_clip=PROJ_CLIP)
    with torch.no_grad():
        layer.input_gates.weight.copy_(torch.tensor(W0[:2].T))  # (4 * dim, input_dim)
        layer.input_gates.bias.copy_(torch.tensor(B))
        layer.hidden_gates.weight.copy_(torch.tensor(W0[2:].T))  # (4 * dim, projection_dim)
        layer.projection.weight.copy_(torch.tensor(WP.T))  # (projection_dim, dim)
    return layer


def test_reference_really_clips():
    """Both clips fire on some steps and not on others, so neither the clip nor the formula is a no-op."""
    _, _, pre_c, pre_h = tf_lstm(X[0])
    assert max(pre_c) > CELL_CLIP and min(pre_c) < CELL_CLIP
    assert max(pre_h) > PROJ_CLIP and min(pre_h) < PROJ_CLIP


def test_projected_lstm_matches_tf_formula_with_clipping_and_lengths():
    layer = _layer()
    inputs = torch.tensor(X, dtype=torch.float32)  # (batch, time, input_dim)
    state = (torch.zeros(2, 1), torch.zeros(2, 1))
    with torch.no_grad():
        out, (c, h) = layer(inputs, torch.tensor(LENGTHS), state)
    for row, n in enumerate(LENGTHS):
        want, (want_c, want_h), _, _ = tf_lstm(X[row, :n])
        np.testing.assert_allclose(out[row, :n].numpy(), want, rtol=0, atol=1e-6)
        assert not out[row, n:].any(), "outputs past the row's length must be zero"
        np.testing.assert_allclose(c[row].numpy(), want_c, rtol=0, atol=1e-6)  # state at the last real step
        np.testing.assert_allclose(h[row].numpy(), want_h, rtol=0, atol=1e-6)
    # the forget bias of 1.0 matters: without it the reference is clearly different
    no_bias, _, _, _ = tf_lstm(X[0], forget_bias=0.0)
    assert np.abs(out[0].numpy() - no_bias).max() > 1e-3


def test_initial_state_is_used():
    layer = _layer()
    c0, h0 = torch.tensor([[0.9], [-0.3]]), torch.tensor([[0.2], [1.1]])
    with torch.no_grad():
        out, _ = layer(torch.tensor(X[:, :1], dtype=torch.float32), torch.tensor([1, 1]), (c0, h0))
    for row in range(2):
        i, j, f, o = np.split(np.concatenate([X[row, 0], h0[row].numpy()]) @ W0 + B, 4)
        c = np.clip(_sigmoid(f + 1.0) * c0[row].numpy() + _sigmoid(i) * np.tanh(j), -CELL_CLIP, CELL_CLIP)
        h = np.clip((_sigmoid(o) * np.tanh(c)) @ WP, -PROJ_CLIP, PROJ_CLIP)
        np.testing.assert_allclose(out[row, 0].numpy(), h, rtol=0, atol=1e-6)
