"""A training-friendly time loop for ``elmo_lab.bilm.lstm.ProjectedLSTMLayer`` (same math, same outputs).

Why: the layer's loop reads ``gates_x[:, t]`` and writes ``outputs[:, t] = ...``.  Under autograd each read's
backward allocates and zero-fills a gradient the size of the whole ``(batch, time, 4 * dim)`` tensor, and each write
copies the whole output, so a backward pass costs O(time²) memory traffic: profiled at 82% of a training step
(``aten::fill_`` from ``select_backward``) for a 64-token window.  Here the inputs are ``unbind``-ed once and the
outputs ``stack``-ed once, which autograd handles in O(time).

``patch_for_training(bilm)`` rebinds ``forward`` on the biLM's layer *instances* (the class and inference code are
untouched) when the layers have the expected attributes; ``tests/lm/test_lm_autograd_lstm.py`` checks that outputs
and gradients equal the original loop's.  Remove once the layer's own loop is autograd-friendly.

A hand-written BPTT (``autograd.Function`` with the weight gradients batched over all steps) was tried and measured:
no faster (the step is matmul-bound on CPU: 2 x 1024-cell layers at batch 32 spend ~80% in ``mm``/``addmm``), so the
simpler autograd version stays.
"""
from __future__ import annotations

import types

import torch
from torch import nn

from elmo_lab.bilm import lstm as bilm_lstm

_NEEDED = ("input_gates", "hidden_gates", "projection", "dim", "projection_dim", "cell_clip", "proj_clip")


State = tuple[torch.Tensor, torch.Tensor]


def training_forward(self: nn.Module, inputs: torch.Tensor, lengths: torch.Tensor,
                     state: State) -> tuple[torch.Tensor, State]:
    """``ProjectedLSTMLayer.forward`` with O(time) autograd: see the module docstring."""
    batch, time, _ = inputs.shape
    bias = self.input_gates.bias.clone()
    bias_f = torch.zeros_like(bias)
    bias_f[2 * self.dim: 3 * self.dim] = bilm_lstm.FORGET_BIAS
    gates_x = nn.functional.linear(inputs, self.input_gates.weight, bias + bias_f)  # (batch, time, 4 * dim)
    w_h = self.hidden_gates.weight.t()  # (projection_dim, 4 * dim)
    w_p = self.projection.weight.t()  # (dim, projection_dim)
    c, h = state
    steps = int(lengths.max()) if batch else 0
    n_full = int(lengths.min()) if batch else 0
    per_step = gates_x.unbind(1)  # time x (batch, 4 * dim)
    outputs = []
    for t in range(steps):
        gates = torch.addmm(per_step[t], h, w_h)  # (batch, 4 * dim)
        i, j, f, o = gates.chunk(4, dim=-1)
        new_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(j)  # (batch, dim)
        if self.cell_clip is not None:
            new_c = new_c.clamp(-self.cell_clip, self.cell_clip)
        new_h = (torch.sigmoid(o) * torch.tanh(new_c)) @ w_p  # (batch, projection_dim)
        if self.proj_clip is not None:
            new_h = new_h.clamp(-self.proj_clip, self.proj_clip)
        if t >= n_full:
            live = (lengths > t).unsqueeze(-1)  # (batch, 1)
            new_c = torch.where(live, new_c, c)
            new_h = torch.where(live, new_h, h)
            outputs.append(new_h * live)
        else:
            outputs.append(new_h)
        c, h = new_c, new_h
    out = torch.stack(outputs, 1) if outputs else inputs.new_zeros(batch, 0, self.projection_dim)
    if steps < time:
        out = torch.cat([out, out.new_zeros(batch, time - steps, self.projection_dim)], 1)  # (batch, time, proj)
    return out, (c, h)


def patch_for_training(bilm: nn.Module) -> int:
    """Give every ``ProjectedLSTMLayer`` of ``bilm`` the O(time) loop; returns how many layers were patched."""
    n = 0
    for module in bilm.modules():
        if isinstance(module, bilm_lstm.ProjectedLSTMLayer) and all(hasattr(module, a) for a in _NEEDED):
            module.forward = types.MethodType(training_forward, module)
            n += 1
    return n
