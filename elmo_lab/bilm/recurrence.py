"""The recurrent part of the projected, clipped LSTM, with a hand-written backward pass (BPTT).

Why by hand: under autograd each time step records ~25 small operations (gate slices, non-linearities, clips, masks)
and their backward replays them one by one, plus a weight-gradient matmul per step.  Here the forward loop runs
without autograd and saves only the activations; the backward loop does ~9 operations per step, and the weight
gradients are two large matmuls over all steps at the end.  ``K`` independent LSTMs of the same shapes (the forward
and backward directions of a biLM layer) run in the same loop with batched matmuls, which halves the number of
per-step calls again and gives the two CPU threads one direction each.  ``torch.nn.LSTM``'s fused kernel is not an
option: it cannot clip the cell or the projected state inside the recurrence (see ``lstm.py``).

The forward arithmetic is the same sequence of float operations as a plain loop would do, so inference outputs are
unchanged; ``tests/bilm/test_bilm_recurrence.py`` checks values and gradients against autograd.
"""
from __future__ import annotations

from typing import Any

import torch

from elmo_lab.bilm.recurrence_graph import GRAPHS
from elmo_lab.bilm.recurrence_masked import recurrence_backend


def _clip_mask(x: torch.Tensor, clip: float | None) -> torch.Tensor | None:
    """Where ``clamp`` passes the gradient (``-clip <= x <= clip``, as torch's own ``clamp`` backward)."""
    return None if clip is None else (x >= -clip) & (x <= clip)


class ProjectedLSTMRecurrence(torch.autograd.Function):
    """``K`` projected LSTMs over left-aligned rows **sorted by length, longest first**; inputs already multiplied
    into gates.  At step ``t`` only the rows still running (a prefix of the batch) are computed, as cuDNN does with
    packed sequences; the others keep their state.

    gates_x : ``(K, batch, time, 4 * dim)`` input half of the gates, biases (and the forget bias) included; gate
        order ``i, j, f, o`` (TensorFlow's).
    w_h : ``(K, projection_dim, 4 * dim)``; w_p : ``(K, dim, projection_dim)``, or ``None`` for plain LSTMs
        (``h = o * tanh(c)``, ``projection_dim == dim``).
    c0, h0 : ``(K, batch, dim)``, ``(K, batch, projection_dim)``.
    live : ``live[t]`` = number of rows longer than ``t`` (non-increasing; ``len(live)`` = longest row).
    Returns outputs ``(K, batch, time, projection_dim)`` (zero past each row's length) and the state ``c, h`` after
    each row's last real step.
    """

    @staticmethod
    def forward(ctx: Any, gates_x: torch.Tensor, w_h: torch.Tensor, w_p: torch.Tensor | None, c0: torch.Tensor,
                h0: torch.Tensor, live: list[int], cell_clip: float | None, proj_clip: float | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k, batch, time, four_dim = gates_x.shape
        dim, proj, steps = four_dim // 4, w_h.size(1), len(live)
        save = any(ctx.needs_input_grad)
        out = gates_x.new_zeros(k, batch, time, proj)  # (K, batch, time, proj)
        # Activated gates i, j, f, o of every step (kept for the backward pass), or one scratch step.
        acts = gates_x.new_empty(steps if save else min(steps, 1), k, batch, four_dim)
        c, h = c0.clone(), h0.clone()  # (K, batch, dim), (K, batch, proj): updated in place, row prefix by prefix
        if save:
            cells = gates_x.new_zeros(steps + 1, k, batch, dim)  # c before step t is cells[t]
            cells[0] = c0
            tanh_c = gates_x.new_zeros(steps, k, batch, dim)
            c_masks, h_masks = [], []
        for t, n in enumerate(live):
            gates = acts[t if save else 0, :, :n]  # (K, n, 4 * dim)
            torch.baddbmm(gates_x[:, :n, t], h[:, :n], w_h, out=gates)
            i, j, f, o = gates.chunk(4, dim=-1)
            i.sigmoid_()
            j.tanh_()
            gates[..., 2 * dim:].sigmoid_()  # f and o
            new_c = f * c[:, :n] + i * j  # (K, n, dim)
            if save:
                c_masks.append(_clip_mask(new_c, cell_clip))
            if cell_clip is not None:
                new_c.clamp_(-cell_clip, cell_clip)
            tc = torch.tanh(new_c, out=tanh_c[t, :, :n]) if save else torch.tanh(new_c)
            new_h = torch.bmm(o * tc, w_p) if w_p is not None else o * tc  # (K, n, proj)
            if save:
                h_masks.append(_clip_mask(new_h, proj_clip))
            if proj_clip is not None:
                new_h.clamp_(-proj_clip, proj_clip)
            c[:, :n] = new_c
            h[:, :n] = new_h
            out[:, :n, t] = new_h
            if save:
                cells[t + 1] = c
        if save:
            if steps and live[-1] < batch:  # rows never run in the ragged tail: their (unused) gates must be finite
                for t, n in enumerate(live):
                    acts[t, :, n:] = 0
            ctx.save_for_backward(w_h, w_p, h0, acts, cells, tanh_c, out)
            ctx.masks = (c_masks, h_masks)
            ctx.live = live
        return out, c, h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, d_out: torch.Tensor, d_c: torch.Tensor, d_h: torch.Tensor) -> tuple[Any, ...]:
        w_h, w_p, h0, acts, cells, tanh_c, out = ctx.saved_tensors
        c_masks, h_masks = ctx.masks
        k, batch, time, proj = out.shape
        steps, dim = acts.size(0), cells.size(-1)
        w_h_t = w_h.transpose(1, 2)  # (K, 4 * dim, proj)
        w_p_t = None if w_p is None else w_p.transpose(1, 2)  # (K, proj, dim)
        # Local derivatives of all steps at once: d gates = [dc, dc, dc, dm] * factors.
        i, j, f, o = acts.chunk(4, dim=-1)  # each (steps, K, batch, dim)
        factors = acts.new_empty(steps, k, batch, 4, dim)
        torch.mul(j, i * (1 - i), out=factors[..., 0, :])
        torch.mul(i, 1 - j * j, out=factors[..., 1, :])
        torch.mul(cells[:-1], f * (1 - f), out=factors[..., 2, :])
        torch.mul(tanh_c, o * (1 - o), out=factors[..., 3, :])
        dc_from_h = o * (1 - tanh_c * tanh_c)  # (steps, K, batch, dim): d c / d m through tanh, times o
        # Laid out as gates_x, so that it goes out without a copy; zeroed only where no step writes.
        d_gates_x = acts.new_empty(k, batch, time, 4, dim)
        d_gates_x[:, :, steps:] = 0
        d_raw_h = acts.new_zeros(steps, k, batch, proj)
        d_c, d_h = d_c.clone(), d_h.clone()  # rows that have not started yet (going backwards) pass through
        for t in range(steps - 1, -1, -1):
            n = ctx.live[t]
            if n < batch:
                d_gates_x[:, n:, t] = 0
            dh = d_h[:, :n] + d_out[:, :n, t]  # (K, n, proj)
            if h_masks[t] is not None:
                dh = dh * h_masks[t]
            d_raw_h[t, :, :n] = dh
            d_m = torch.bmm(dh, w_p_t) if w_p_t is not None else dh  # (K, n, dim)
            dc = torch.addcmul(d_c[:, :n], d_m, dc_from_h[t, :, :n])
            if c_masks[t] is not None:
                dc = dc * c_masks[t]
            d_gates_t = d_gates_x[:, :n, t]  # (K, n, 4, dim)
            torch.mul(factors[t, :, :n, :3], dc.unsqueeze(2), out=d_gates_t[:, :, :3])
            torch.mul(factors[t, :, :n, 3], d_m, out=d_gates_t[:, :, 3])
            torch.bmm(d_gates_t.flatten(2), w_h_t, out=d_h[:, :n])  # (K, n, proj)
            torch.mul(dc, f[t, :, :n], out=d_c[:, :n])
        d_gates_x = d_gates_x.view(k, batch, time, 4 * dim)
        # A row is live at t-1 whenever it is at t (rows are left-aligned), so out[t-1] is h_{t-1} wherever it counts;
        # elsewhere the gate gradients are zero.
        h_prev = torch.cat([h0.unsqueeze(2), out[:, :, :-1]], 2)  # (K, batch, time, proj)
        d_w_h = torch.bmm(h_prev.flatten(1, 2).transpose(1, 2), d_gates_x.flatten(1, 2))  # (K, proj, 4 * dim)
        d_w_p = None if w_p is None else torch.einsum("tkbd,tkbp->kdp", o * tanh_c, d_raw_h)  # (K, dim, proj)
        return d_gates_x, d_w_h, d_w_p, d_c, d_h, None, None, None


def projected_lstm(gates_x: torch.Tensor, w_h: torch.Tensor, w_p: torch.Tensor | None, c0: torch.Tensor,
                   h0: torch.Tensor, lengths: torch.Tensor, cell_clip: float | None, proj_clip: float | None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``ProjectedLSTMRecurrence`` (shapes in its docstring) on rows sorted longest first: ``lengths``
    ``(batch,)`` must not increase (``lstm.run_layers`` sorts the rows).  ``recurrence_masked.recurrence_backend``
    picks this loop (the default) or the fixed-shape masked recurrence (eager, or CUDA graphs on CUDA)."""
    if torch.is_autocast_enabled(gates_x.device.type):  # mixed precision: the recurrence itself runs in float32
        with torch.autocast(gates_x.device.type, enabled=False):
            return projected_lstm(gates_x.float(), w_h.float(), None if w_p is None else w_p.float(), c0.float(),
                                  h0.float(), lengths, cell_clip, proj_clip)
    longest_first = lengths.tolist()
    if longest_first != sorted(longest_first, reverse=True):
        raise ValueError(f"rows must be sorted longest first, got lengths {longest_first}")
    backend = recurrence_backend(gates_x.device)  # "loop" unless ELMO_LAB_RECURRENCE says otherwise
    if backend != "loop":  # fixed shapes, every row every step (recurrence_graph.py): CUDA graphs or eager
        return GRAPHS(gates_x, w_h, w_p, c0, h0, lengths, cell_clip, proj_clip, graph=backend == "graph")
    live = [sum(1 for n in longest_first if n > t) for t in range(longest_first[0] if longest_first else 0)]
    return ProjectedLSTMRecurrence.apply(gates_x, w_h, w_p, c0, h0, live, cell_clip, proj_clip)
