"""Gradient-free fast path for the forward and backward ``LSTMStack`` of a biLM: the same sums, less overhead.

``LSTMStack.forward`` is the straightforward (autograd) computation.  When no gradient is needed this path computes
exactly the same values (every product, sum and clip in the same order) with less per-step cost:

* Both directions of a layer advance in the same time loop, so each step issues half as many tensor operations, on
  tensors twice as large.  All the tensors are time-major, so each step reads and writes contiguous blocks.
* Steps work in place in preallocated buffers (no allocation per step).
* No masking inside the loop: rows shorter than the longest keep running on padding; their outputs are zeroed and
  their final states are read at their last real step once the loop is done.
* The first layer's input gates are computed once per distinct token (``vectors``) and gathered, rather than once
  per position: a matmul row does not depend on the other rows, so the values are the same.
"""
from __future__ import annotations

import torch

from .lstm import FORGET_BIAS, LSTMStack, ProjectedLSTMLayer


def needs_autograd(stacks: tuple[LSTMStack, ...]) -> bool:
    """True when the straightforward path must run: gradients are being recorded, or dropout is active."""
    if any(stack.training and stack.dropout for stack in stacks):
        return True
    return torch.is_grad_enabled() and any(p.requires_grad for stack in stacks for p in stack.parameters())


@torch.no_grad()
def run_bidirectional(stacks: tuple[LSTMStack, LSTMStack], vectors: torch.Tensor, index: torch.Tensor,
                      lengths: torch.Tensor, stateful: bool = False) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Run a forward and a backward stack; same result as ``stack_d(vectors[index[d]], lengths, stateful)``.

    vectors : ``(n, input_dim)`` distinct token vectors.
    index : ``(2, batch, time)`` row of ``vectors`` at each position, per direction (the backward direction's
        rows already reversed within each sentence, as ``LSTMStack`` expects its input).
    Returns, per direction, one ``(batch, time, projection_dim)`` output per layer (a time-major view).
    """
    _, batch, time = index.shape
    states = [stack._initial_state(batch, vectors, stateful) for stack in stacks]  # per direction, per layer
    steps = int(lengths.max()) if batch else 0
    live = torch.arange(time, device=lengths.device).unsqueeze(1) < lengths  # (time, batch)
    rows = index.transpose(1, 2).reshape(2, time * batch)  # (2, time * batch), time-major
    x = None  # (2, time, batch, projection_dim): the previous layer's output
    outputs: list[list[torch.Tensor]] = [[], []]
    finals: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[], []]
    for k, layers in enumerate(zip(*(stack.layers for stack in stacks))):
        dim = layers[0].dim
        gates_x = vectors.new_empty(2, time * batch, 4 * dim)  # (2, time * batch, 4 * dim)
        for d, layer in enumerate(layers):
            if k == 0:
                per_token = layer.input_gates(vectors)  # (n, 4 * dim)
                per_token[:, 2 * dim: 3 * dim] += FORGET_BIAS
                torch.index_select(per_token, 0, rows[d], out=gates_x[d])
            else:
                torch.addmm(layer.input_gates.bias, x[d].view(time * batch, -1), layer.input_gates.weight.t(),
                            out=gates_x[d])
        if k > 0:
            gates_x[..., 2 * dim: 3 * dim] += FORGET_BIAS
        gates_x = gates_x.view(2, time, batch, 4 * dim)
        cells, out = _recurrence(layers, gates_x, steps, [state[k] for state in states])
        last = (lengths - 1).clamp(min=0)  # (batch,)
        cols = torch.arange(batch, device=lengths.device)
        has_steps = (lengths > 0).unsqueeze(-1)  # (batch, 1)
        for d in range(2):
            c0, h0 = states[d][k]
            c_last = torch.where(has_steps, cells[last, d, cols], c0) if steps else c0  # (batch, dim)
            h_last = torch.where(has_steps, out[d, last, cols], h0) if steps else h0  # (batch, proj)
            finals[d].append((c_last, h_last))
        out.masked_fill_(~live.view(1, time, batch, 1), 0.0)
        if stacks[0].use_skip_connections and k > 0:
            out.add_(x)
        for d in range(2):
            outputs[d].append(out[d].transpose(0, 1))  # (batch, time, proj)
        x = out
    if stateful:
        for stack, final in zip(stacks, finals):
            stack._store_state(final)
    return outputs[0], outputs[1]


def _recurrence(layers: tuple[ProjectedLSTMLayer, ProjectedLSTMLayer], gates_x: torch.Tensor, steps: int,
                states: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The time loop of one layer, both directions, from ``states`` (per direction ``(c, h)``).

    ``gates_x`` ``(2, time, batch, 4 * dim)`` holds the input half of the gates and is overwritten.  Returns the cells
    ``(time, 2, batch, dim)`` and projected outputs ``(2, time, batch, proj)`` of every step; past ``steps`` the
    outputs are 0 and the cells undefined, and past a row's own length both are meaningless.
    """
    _, time, batch, four_dim = gates_x.shape
    dim, proj = four_dim // 4, layers[0].projection_dim
    cell_clip, proj_clip = layers[0].cell_clip, layers[0].proj_clip
    w_h = [layer.hidden_gates.weight.t() for layer in layers]  # 2 x (proj, 4 * dim)
    w_p = [layer.projection.weight.t() for layer in layers]  # 2 x (dim, proj)
    c = torch.stack([states[0][0], states[1][0]])  # (2, batch, dim)
    h = [states[0][1], states[1][1]]  # 2 x (batch, proj)
    cells = gates_x.new_empty(time, 2, batch, dim)  # (time, 2, batch, dim)
    out = gates_x.new_zeros(2, time, batch, proj)  # (2, time, batch, proj)
    scratch = gates_x.new_empty(2, batch, dim)  # (2, batch, dim)
    for t in range(steps):
        gates = gates_x[:, t]  # (2, batch, 4 * dim), view
        for d in range(2):
            gates[d].addmm_(h[d], w_h[d])
        i, j, f, o = gates.chunk(4, dim=-1)  # each (2, batch, dim)
        i.sigmoid_()
        gates[..., 2 * dim:].sigmoid_()  # f and o
        j.tanh_()
        c = torch.mul(f, c, out=cells[t])  # (2, batch, dim)
        c.add_(torch.mul(i, j, out=scratch))
        if cell_clip is not None:
            c.clamp_(-cell_clip, cell_clip)
        torch.tanh(c, out=scratch).mul_(o)
        for d in range(2):
            h[d] = torch.mm(scratch[d], w_p[d], out=out[d, t])  # (batch, proj)
        if proj_clip is not None:
            out[:, t].clamp_(-proj_clip, proj_clip)
    return cells, out
