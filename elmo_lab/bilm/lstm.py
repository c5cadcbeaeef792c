"""LSTM layers with a projection and clipping, as in TensorFlow's ``LSTMCell(num_proj=..., cell_clip, proj_clip)``.

Why not ``torch.nn.LSTM(proj_size=...)``: its fused kernel cannot clip the cell and projected state inside the
recurrence, and every published ELMo model clips both at 3.  The loop below keeps the work that is not recurrent out of
it: the input half of the gate matmul is one large matmul over all time steps, so each step costs one
``(batch, proj) @ (proj, 4 * dim)`` matmul, the gate non-linearities and the projection.

Gate layout follows the official weights: ``gates = [x; h] @ W_0 + B`` split as ``i, j, f, o`` with a forget bias of
1.0 that TensorFlow adds but does not store.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FORGET_BIAS = 1.0


class ProjectedLSTMLayer(nn.Module):
    """One direction of one layer.

    # Parameters
    input_dim : size of the input vectors.
    dim : LSTM cells.
    projection_dim : size of the (projected) hidden state and of the output.
    cell_clip, proj_clip : clip values or ``None``.
    """

    def __init__(self, input_dim: int, dim: int, projection_dim: int,
                 cell_clip: float | None, proj_clip: float | None) -> None:
        super().__init__()
        self.dim, self.projection_dim = dim, projection_dim
        self.cell_clip, self.proj_clip = cell_clip, proj_clip
        self.input_gates = nn.Linear(input_dim, 4 * dim)  # W_0[:input_dim], B
        self.hidden_gates = nn.Linear(projection_dim, 4 * dim, bias=False)  # W_0[input_dim:]
        self.projection = nn.Linear(dim, projection_dim, bias=False)  # W_P_0

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run over ``inputs`` ``(batch, time, input_dim)``, left-aligned rows of ``lengths`` real steps.

        ``state`` is ``(c, h)``: ``(batch, dim)`` and ``(batch, projection_dim)``.  Returns outputs
        ``(batch, time, projection_dim)`` (zero past each row's length) and the state after each row's last real step.
        """
        batch, time, _ = inputs.shape
        gates_x = self.input_gates(inputs)  # (batch, time, 4 * dim)
        gates_x[..., 2 * self.dim: 3 * self.dim] += FORGET_BIAS
        w_h = self.hidden_gates.weight.t()  # (projection_dim, 4 * dim)
        w_p = self.projection.weight.t()  # (dim, projection_dim)
        c, h = state
        steps = int(lengths.max()) if batch else 0
        n_full = int(lengths.min()) if batch else 0  # steps at which every row is real
        # One unbind and one stack, rather than reading gates_x[:, t] and writing outputs[:, t] at every step: under
        # autograd each of those costs a zero-filled gradient or a copy the size of the whole tensor (O(time²)).
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
        if steps < time:  # columns past every row's length
            out = torch.cat([out, out.new_zeros(batch, time - steps, self.projection_dim)], 1)
        return out, (c, h)  # (batch, time, projection_dim)


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
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ProjectedLSTMLayer(input_dim if k == 0 else projection_dim, dim, projection_dim, cell_clip, proj_clip)
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
        state = self._initial_state(inputs.size(0), inputs, stateful)
        outputs, final = [], []
        x = inputs  # (batch, time, input_dim)
        for k, layer in enumerate(self.layers):
            layer_in = F.dropout(x, self.dropout, self.training) if self.dropout else x
            out, layer_state = layer(layer_in, lengths, state[k])  # (batch, time, projection_dim)
            if self.use_skip_connections and k > 0:
                out = out + x
            outputs.append(out)
            final.append(layer_state)
            x = out
        if stateful:
            self._store_state(final)
        return outputs
