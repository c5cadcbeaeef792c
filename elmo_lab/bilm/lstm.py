"""LSTM layers with a projection and clipping, as in TensorFlow's ``LSTMCell(num_proj=..., cell_clip, proj_clip)``.

Why not ``torch.nn.LSTM(proj_size=...)``: its fused kernel cannot clip the cell and projected state inside the
recurrence, and every published ELMo model clips both at 3.  ``run_layers`` keeps the work that is not recurrent out
of the step loop (the input half of the gate matmul is one batched matmul over all steps) and runs the loop itself in
``recurrence.py``: both directions of a biLM layer together, with a hand-written backward pass, which trains faster
than autograd through a per-direction loop (docs/benchmarks.md, "Measurements behind the code").

Gate layout follows the official weights: ``gates = [x; h] @ W_0 + B`` split as ``i, j, f, o`` with a forget bias of
1.0 that TensorFlow adds but does not store.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from elmo_lab.bilm.recurrence import projected_lstm

FORGET_BIAS = 1.0


class ProjectedLSTMLayer(nn.Module):
    """One direction of one layer.

    # Parameters
    input_dim : size of the input vectors.
    dim : LSTM cells.
    projection_dim : size of the (projected) hidden state and of the output.
    cell_clip, proj_clip : clip values or ``None``.
    use_projection : False = a plain LSTM (``projection_dim`` must equal ``dim``; ``proj_clip`` is ignored, as in
        TensorFlow without ``num_proj``): what bilm-tf builds when ``projection_dim >= dim``.
    """

    def __init__(self, input_dim: int, dim: int, projection_dim: int,
                 cell_clip: float | None, proj_clip: float | None, use_projection: bool = True) -> None:
        super().__init__()
        if not use_projection and projection_dim != dim:
            raise ValueError(f"an LSTM without projection outputs its {dim} cells, not {projection_dim}")
        self.dim, self.projection_dim = dim, projection_dim
        self.cell_clip, self.proj_clip = cell_clip, proj_clip if use_projection else None
        self.input_gates = nn.Linear(input_dim, 4 * dim)  # W_0[:input_dim], B
        self.hidden_gates = nn.Linear(projection_dim, 4 * dim, bias=False)  # W_0[input_dim:]
        self.projection = nn.Linear(dim, projection_dim, bias=False) if use_projection else None  # W_P_0

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run over ``inputs`` ``(batch, time, input_dim)``, left-aligned rows of ``lengths`` real steps.

        ``state`` is ``(c, h)``: ``(batch, dim)`` and ``(batch, projection_dim)``.  Returns outputs
        ``(batch, time, projection_dim)`` (zero past each row's length) and the state after each row's last real step.
        """
        (out,), (state,) = run_layers([self], [inputs], lengths, [state])
        return out, state


def run_layers(layers: Sequence[ProjectedLSTMLayer], inputs: Sequence[torch.Tensor], lengths: torch.Tensor,
               states: Sequence[tuple[torch.Tensor, torch.Tensor]], cpu_lengths: torch.Tensor | None = None
               ) -> tuple[list[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]]:
    """Run independent layers of the same shapes (e.g. a biLM layer's two directions) in one recurrence loop.

    ``inputs[k]`` ``(batch, time, input_dim)`` goes through ``layers[k]`` from ``states[k]``; all share ``lengths``
    (on the inputs' device; ``cpu_lengths``, their host copy, if the caller has one: the step loop needs them on
    the host, and reading them from a GPU waits for it).
    Returns each layer's outputs ``(batch, time, projection_dim)`` and final ``(c, h)``.
    """
    first = layers[0]
    k, (batch, time, _) = len(layers), inputs[0].shape
    # The recurrence runs on rows sorted longest first (see ``recurrence``): sort the narrow inputs and states here
    # (not the 4 * dim wide gates) and put the outputs back in order at the end.
    if cpu_lengths is None:
        cpu_lengths = lengths.cpu()  # (batch,)
    # The same stable order on both sides: on the device without a host-to-device copy (which would wait for it).
    order = torch.argsort(lengths, descending=True, stable=True).to(inputs[0].device)  # (batch,)
    live_lengths = torch.sort(cpu_lengths, descending=True).values  # (batch,) on the host
    x = torch.stack(list(inputs)).index_select(1, order).flatten(1, 2)  # (K, batch * time, input_dim)
    c0 = torch.stack([c for c, _ in states]).index_select(1, order)  # (K, batch, dim)
    h0 = torch.stack([h for _, h in states]).index_select(1, order)  # (K, batch, projection_dim)
    # The non-recurrent half of the gates of every step and every layer in one batched matmul.
    w_x = torch.stack([layer.input_gates.weight.t() for layer in layers])  # (K, input_dim, 4 * dim)
    b_x = torch.stack([layer.input_gates.bias for layer in layers]).unsqueeze(1)  # (K, 1, 4 * dim)
    gates_x = torch.baddbmm(b_x, x, w_x).view(k, batch, time, 4 * first.dim)  # (K, batch, time, 4 * dim)
    with torch.no_grad():  # a constant: invisible to autograd, which would otherwise copy the whole gradient back
        gates_x[..., 2 * first.dim: 3 * first.dim] += FORGET_BIAS
    w_h = torch.stack([layer.hidden_gates.weight.t() for layer in layers])  # (K, projection_dim, 4 * dim)
    w_p = (None if first.projection is None  # (K, dim, projection_dim)
           else torch.stack([layer.projection.weight.t() for layer in layers]))
    out, c, h = projected_lstm(gates_x, w_h, w_p, c0, h0, live_lengths,
                               first.cell_clip, first.proj_clip)  # (K, batch, time, projection_dim)
    inverse = torch.argsort(order)
    out, c, h = out.index_select(1, inverse), c.index_select(1, inverse), h.index_select(1, inverse)
    return list(out.unbind(0)), list(zip(c.unbind(0), h.unbind(0)))


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` steps of each row of ``x`` ``(batch, time, dim)``; padding stays in place."""
    batch, time = x.shape[:2]
    steps = torch.arange(time, device=x.device).expand(batch, time)  # (batch, time)
    rev = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)  # (batch, time)
    return x.gather(1, rev.unsqueeze(-1).expand_as(x))


class LSTMStack(nn.Module):
    """``n_layers`` projected LSTM layers of one direction, with optional residual connections and state.

    Returns one output per layer ``(batch, time, projection_dim)``.  With ``use_skip_connections`` every layer after
    the first adds its input (the previous layer's output) to its own output, and that sum is the layer's output.
    """

    def __init__(self, input_dim: int, dim: int, projection_dim: int, n_layers: int,
                 cell_clip: float | None, proj_clip: float | None, use_skip_connections: bool,
                 dropout: float = 0.0, use_projection: bool = True) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ProjectedLSTMLayer(input_dim if k == 0 else projection_dim, dim, projection_dim, cell_clip, proj_clip,
                               use_projection)
            for k in range(n_layers)
        )
        self.use_skip_connections = use_skip_connections
        self.dropout = dropout
        self._state: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def reset_state(self) -> None:
        """Forget the carried state; the next stateful call starts from zeros."""
        self._state = None

    def _initial_state(self, batch: int, like: torch.Tensor, stateful: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
        zeros = [(like.new_zeros(batch, layer.dim), like.new_zeros(batch, layer.projection_dim))
                 for layer in self.layers]
        if not stateful or self._state is None:
            return zeros
        c_first = self._state[0][0]
        if c_first.device != like.device or c_first.dtype != like.dtype:  # moved (e.g. to the CPU after a GPU fit)
            self._state = [(c.to(like), h.to(like)) for c, h in self._state]
        carried = []
        for (c0, h0), (c, h) in zip(zeros, self._state):
            n = min(batch, c.size(0))
            carried.append((torch.cat([c[:n], c0[n:]]), torch.cat([h[:n], h0[n:]])))
        return carried

    def _store_state(self, new: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        # Rows beyond this batch keep what they had, so a short final batch does not wipe the other rows.
        if self._state is not None:
            merged = []
            for (c, h), (old_c, old_h) in zip(new, self._state):
                n = c.size(0)
                merged.append((torch.cat([c, old_c[n:]]), torch.cat([h, old_h[n:]])))
            new = merged
        self._state = [(c.detach(), h.detach()) for c, h in new]

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor, stateful: bool = False) -> list[torch.Tensor]:
        return run_stacks([self], [inputs], lengths, stateful)[0]


def run_stacks(stacks: Sequence[LSTMStack], inputs: Sequence[torch.Tensor], lengths: torch.Tensor,
               stateful: bool = False) -> list[list[torch.Tensor]]:
    """Run independent stacks of the same shapes (a biLM's forward and backward LSTMs) layer by layer, each layer of
    all stacks in one recurrence loop (``run_layers``).  Returns per stack one output per layer."""
    batch = inputs[0].size(0)
    cpu_lengths = lengths.cpu()  # (batch,): read from the device once per call, not once per layer
    states = [stack._initial_state(batch, inputs[0], stateful) for stack in stacks]
    outputs: list[list[torch.Tensor]] = [[] for _ in stacks]
    finals: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in stacks]
    xs = list(inputs)  # (batch, time, input_dim) each
    for k in range(len(stacks[0].layers)):
        layer_in = [F.dropout(x, s.dropout, s.training) if s.dropout else x for s, x in zip(stacks, xs)]
        outs, layer_states = run_layers([s.layers[k] for s in stacks], layer_in, lengths, [st[k] for st in states],
                                        cpu_lengths)
        for d, stack in enumerate(stacks):
            out = outs[d] + xs[d] if stack.use_skip_connections and k > 0 else outs[d]
            outputs[d].append(out)  # (batch, time, projection_dim)
            finals[d].append(layer_states[d])
            xs[d] = out
    if stateful:
        for stack, final in zip(stacks, finals):
            stack._store_state(final)
    return outputs
