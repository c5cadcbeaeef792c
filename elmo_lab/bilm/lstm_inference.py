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

from typing import Callable

import torch

from .lstm import FORGET_BIAS, LSTMStack, ProjectedLSTMLayer

# Time steps whose input gates are computed in one matmul: large enough for an efficient matmul, small enough
# that the buffer (2 * BLOCK_STEPS * batch * 4 * dim floats) stays in cache-friendly sizes and avoids page faults.
BLOCK_STEPS = 8


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
    Returns, per direction, one ``(batch, time, projection_dim)`` output per layer (a strided view).
    """
    _, batch, time = index.shape
    states = [stack._initial_state(batch, vectors, stateful) for stack in stacks]  # per direction, per layer
    steps = int(lengths.max()) if batch else 0
    live = torch.arange(time, device=lengths.device).unsqueeze(1) < lengths  # (time, batch)
    rows = index.transpose(1, 2).reshape(2, time * batch)  # (2, time * batch), time-major
    ends = _rows_ending(lengths)
    inputs = None  # (2, time, batch, projection_dim): the previous layer's output
    outputs: list[list[torch.Tensor]] = [[], []]
    finals: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[], []]
    for k, layers in enumerate(zip(*(stack.layers for stack in stacks))):
        if k == 0:  # input gates once per distinct token, gathered block by block
            tables = [layer.input_gates(vectors) for layer in layers]  # 2 x (n, 4 * dim)
            for table, layer in zip(tables, layers):
                table[:, 2 * layer.dim: 3 * layer.dim] += FORGET_BIAS

            def input_gates(t0: int, t1: int, out: torch.Tensor) -> None:
                for d in range(2):
                    torch.index_select(tables[d], 0, rows[d, t0 * batch: t1 * batch], out=out[d])
        else:
            def input_gates(t0: int, t1: int, out: torch.Tensor, x: torch.Tensor = inputs) -> None:
                for d, layer in enumerate(layers):
                    torch.addmm(layer.input_gates.bias, x[d, t0:t1].reshape((t1 - t0) * batch, -1),
                                layer.input_gates.weight.t(), out=out[d])
                out[..., 2 * layers[0].dim: 3 * layers[0].dim] += FORGET_BIAS

        c, h, out = _recurrence(layers, input_gates, steps, time, [state[k] for state in states], ends)
        for d in range(2):
            finals[d].append((c[d], h[d]))
        out.masked_fill_(~live.view(1, time, batch, 1), 0.0)  # (2, time, batch, proj)
        if stacks[0].use_skip_connections and k > 0:
            out.add_(inputs)
        for d in range(2):
            outputs[d].append(out[d].transpose(0, 1))  # (batch, time, proj)
        inputs = out
    if stateful:
        for stack, final in zip(stacks, finals):
            stack._store_state(final)
    return outputs[0], outputs[1]


def _rows_ending(lengths: torch.Tensor) -> dict[int, torch.Tensor]:
    """Step → the rows whose last real step it is (rows of length 0 have none: they keep their initial state)."""
    return {n - 1: (lengths == n).nonzero().squeeze(1) for n in torch.unique(lengths).tolist() if n > 0}


def _recurrence(layers: tuple[ProjectedLSTMLayer, ProjectedLSTMLayer], input_gates: Callable[..., None], steps: int,
                time: int, states: list[tuple[torch.Tensor, torch.Tensor]], ends: dict[int, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The time loop of one layer, both directions, from ``states`` (per direction ``(c, h)``).

    ``input_gates(t0, t1, out)`` writes the input half of the gates of steps ``t0 .. t1 - 1`` into ``out``
    ``(2, (t1 - t0) * batch, 4 * dim)``; it is called for blocks of ``BLOCK_STEPS`` steps, so that the matmul is large
    but the buffer stays small.  Returns the cells ``(2, batch, dim)`` and outputs ``(2, batch, proj)`` at each
    row's last real step, and the projected outputs ``(2, time, batch, proj)`` of every step (0 past ``steps``,
    meaningless past a row's own length).
    """
    dim, proj = layers[0].dim, layers[0].projection_dim
    cell_clip, proj_clip = layers[0].cell_clip, layers[0].proj_clip
    w_h = [layer.hidden_gates.weight.t() for layer in layers]  # 2 x (proj, 4 * dim)
    w_p = [layer.projection.weight.t() for layer in layers]  # 2 x (dim, proj)
    c_final = torch.stack([states[0][0], states[1][0]])  # (2, batch, dim)
    h_final = torch.stack([states[0][1], states[1][1]])  # (2, batch, proj)
    batch = c_final.size(1)
    c = c_final.clone()  # (2, batch, dim)
    h = [h_final[0], h_final[1]]  # 2 x (batch, proj)
    out = c.new_zeros(2, time, batch, proj)  # (2, time, batch, proj)
    block = c.new_empty(2, min(BLOCK_STEPS, steps) * batch, 4 * dim)  # (2, block steps * batch, 4 * dim)
    gates = c.new_empty(2, batch, 4 * dim)  # (2, batch, 4 * dim)
    scratch = c.new_empty(2, batch, dim)  # (2, batch, dim)
    i, j, f, o = gates.chunk(4, dim=-1)  # each (2, batch, dim), views
    for t in range(steps):
        b = t % BLOCK_STEPS
        if b == 0:
            input_gates(t, min(t + BLOCK_STEPS, steps), block[:, : (min(t + BLOCK_STEPS, steps) - t) * batch])
        for d in range(2):
            torch.addmm(block[d, b * batch: (b + 1) * batch], h[d], w_h[d], out=gates[d])
        i.sigmoid_()
        gates[..., 2 * dim:].sigmoid_()  # f and o
        j.tanh_()
        c.mul_(f).add_(torch.mul(i, j, out=scratch))
        if cell_clip is not None:
            c.clamp_(-cell_clip, cell_clip)
        torch.tanh(c, out=scratch).mul_(o)
        for d in range(2):
            h[d] = torch.mm(scratch[d], w_p[d], out=out[d, t])  # (batch, proj)
        if proj_clip is not None:
            out[:, t].clamp_(-proj_clip, proj_clip)
        if t in ends:
            rows = ends[t]
            c_final[:, rows] = c[:, rows]
            h_final[:, rows] = out[:, t, rows]
    return c_final, h_final, out
