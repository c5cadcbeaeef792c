"""The projected LSTM recurrence with fixed shapes: every row computed at every step, masked past its length.

``recurrence.ProjectedLSTMRecurrence`` computes at step ``t`` only the rows still running (a shrinking prefix of
length-sorted rows): the least arithmetic, but one shape per step.  Here rows past their length keep their state
(``torch.where``) and output zeros, so the step loop has one shape per (batch, time) and can be captured as a whole
(``recurrence_graph``).  Live rows go through the same float operations as in the loop.  ``recurrence_backend`` picks
the path: the config value ``bilm.recurrence`` (set for the process by ``set_recurrence``), which the environment
variable ``ELMO_LAB_RECURRENCE`` overrides when set (handy for benchmarks and tests that switch at run time).
"""
from __future__ import annotations

import os
from typing import Any, NamedTuple

import torch

from elmo_lab.config.choices import RECURRENCES as BACKENDS

ENV_VAR = "ELMO_LAB_RECURRENCE"
_configured = "loop"  # bilm.recurrence of this process's run


def set_recurrence(choice: str) -> None:
    """Make ``choice`` (``bilm.recurrence``: one of ``BACKENDS``) this process's recurrence."""
    global _configured
    if str(choice) not in BACKENDS:
        raise ValueError(f"bilm.recurrence: expected one of {', '.join(BACKENDS)}, got {choice!r}")
    _configured = str(choice)


def recurrence_backend(device: torch.device | str) -> str:
    """``ELMO_LAB_RECURRENCE`` when set, else ``bilm.recurrence`` (``"loop"`` by default): one of ``BACKENDS``
    (``"masked"``: the eager masked recurrence, on any device; ``"graph"``: CUDA graphs on CUDA, the eager masked
    recurrence elsewhere).

    The CUDA-graph path is opt-in, not the CUDA default, until its parity and speed have been measured on a GPU
    (``benchmarks/gpu_check.sh``); ``device`` is where the default would be decided then."""
    choice = os.environ.get(ENV_VAR, "").strip()
    if not choice:
        return _configured
    if choice not in BACKENDS:
        raise ValueError(f"{ENV_VAR}={choice!r} is not valid; choose one of {', '.join(BACKENDS)}")
    return choice


class Saved(NamedTuple):
    """What the masked backward needs from the forward, all zero where a row is past its length."""

    acts: torch.Tensor  # (time, K, batch, 4 * dim) activated gates i, j, f, o
    cells: torch.Tensor  # (time + 1, K, batch, dim): c before step t is cells[t]
    tanh_c: torch.Tensor  # (time, K, batch, dim)
    c_mask: torch.Tensor | None  # (time, K, batch, dim) bool: where the cell clip passes the gradient
    h_mask: torch.Tensor | None  # (time, K, batch, projection_dim) bool: the same for the projection clip


def _alive(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """``(time, 1, batch, 1)`` bool: row ``b`` runs step ``t`` (``t < lengths[b]``)."""
    steps = torch.arange(time, device=lengths.device).unsqueeze(1)  # (time, 1)
    return (steps < lengths.unsqueeze(0)).view(time, 1, -1, 1)


def masked_forward(gates_x: torch.Tensor, w_h: torch.Tensor, w_p: torch.Tensor | None, c0: torch.Tensor,
                   h0: torch.Tensor, lengths: torch.Tensor, cell_clip: float | None, proj_clip: float | None,
                   save: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Saved | None]:
    """All rows at every step of ``gates_x``'s time axis (shapes as ``MaskedProjectedLSTMRecurrence``); no host
    reads, so it can be captured into a CUDA graph.  Returns outputs, final ``c, h`` and, if ``save``, ``Saved``."""
    k, batch, time, four_dim = gates_x.shape
    dim, proj = four_dim // 4, w_h.size(1)
    alive = _alive(lengths, time)  # (time, 1, batch, 1)
    out = gates_x.new_empty(k, batch, time, proj)  # (K, batch, time, proj): every step writes all rows
    acts = gates_x.new_empty(time if save else min(time, 1), k, batch, four_dim)  # all steps, or one scratch step
    cells = tanh_c = c_mask = h_mask = None
    if save:
        cells = gates_x.new_empty(time + 1, k, batch, dim)
        cells[0] = c0
        tanh_c = gates_x.new_empty(time, k, batch, dim)
        if cell_clip is not None:
            c_mask = gates_x.new_empty(time, k, batch, dim, dtype=torch.bool)
        if proj_clip is not None:
            h_mask = gates_x.new_empty(time, k, batch, proj, dtype=torch.bool)
    c, h, zero = c0.clone(), h0.clone(), gates_x.new_zeros(())  # (K, batch, dim), (K, batch, proj), ()
    for t in range(time):
        live = alive[t]  # (1, batch, 1)
        gates = acts[t if save else 0]  # (K, batch, 4 * dim)
        torch.baddbmm(gates_x[:, :, t], h, w_h, out=gates)
        i, j, f, o = gates.chunk(4, dim=-1)
        i.sigmoid_()
        j.tanh_()
        gates[..., 2 * dim:].sigmoid_()  # f and o
        new_c = f * c + i * j  # (K, batch, dim)
        if c_mask is not None:
            torch.le(new_c.abs(), cell_clip, out=c_mask[t])  # = -clip <= c <= clip, as clamp's own backward
        if cell_clip is not None:
            new_c.clamp_(-cell_clip, cell_clip)
        tc = torch.tanh(new_c, out=tanh_c[t]) if save else torch.tanh(new_c)
        new_h = torch.bmm(o * tc, w_p) if w_p is not None else o * tc  # (K, batch, proj)
        if h_mask is not None:
            torch.le(new_h.abs(), proj_clip, out=h_mask[t])
        if proj_clip is not None:
            new_h.clamp_(-proj_clip, proj_clip)
        c = torch.where(live, new_c, c, out=cells[t + 1]) if save else torch.where(live, new_c, c)
        h = torch.where(live, new_h, h)
        torch.where(live, new_h, zero, out=out[:, :, t])
    if save:
        acts.masked_fill_(~alive, 0)  # whatever the padding held, the backward multiplies only finite zeros there
        tanh_c.masked_fill_(~alive, 0)
        c = c.clone()  # cells[time] is saved; hand out a copy
    return out, c, h, Saved(acts, cells, tanh_c, c_mask, h_mask) if save else None


def masked_backward(w_h: torch.Tensor, w_p: torch.Tensor | None, h0: torch.Tensor, lengths: torch.Tensor,
                    saved: Saved, out: torch.Tensor, d_out: torch.Tensor, d_c: torch.Tensor, d_h: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """BPTT of ``masked_forward`` with no host reads; returns the gradients of gates_x, w_h, w_p, c0, h0.

    Going backwards, a row past its length has no gradient yet: the gradients of the final state are added at the
    row's last step (``inj_*``, the added input of a ``baddbmm`` / ``addcmul`` that runs anyway): no ``where``.
    """
    acts, cells, tanh_c, c_mask, h_mask = saved
    time, k, batch, four_dim = acts.shape
    dim, proj = four_dim // 4, w_h.size(1)
    w_h_t = w_h.transpose(1, 2)  # (K, 4 * dim, proj)
    w_p_t = None if w_p is None else w_p.transpose(1, 2)  # (K, proj, dim)
    # Local derivatives of all steps at once: d gates = [dc, dc, dc, dm] * factors.
    i, j, f, o = acts.chunk(4, dim=-1)  # each (time, K, batch, dim)
    factors = acts.new_empty(time, k, batch, 4, dim)
    torch.mul(j, i * (1 - i), out=factors[..., 0, :])
    torch.mul(i, 1 - j * j, out=factors[..., 1, :])
    torch.mul(cells[:-1], f * (1 - f), out=factors[..., 2, :])
    torch.mul(tanh_c, o * (1 - o), out=factors[..., 3, :])
    dc_from_h = o * (1 - tanh_c * tanh_c)  # (time, K, batch, dim): d c / d m through tanh, times o
    # inj_c[:, b, s] = d_c[:, b] where s = lengths[b] (the state after s steps is row b's final one), else 0.
    at_end = lengths.long().view(1, batch, 1, 1)
    inj_c = acts.new_zeros(k, batch, time + 1, dim).scatter_(2, at_end.expand(k, batch, 1, dim), d_c.unsqueeze(2))
    inj_h = acts.new_zeros(k, batch, time + 1, proj).scatter_(2, at_end.expand(k, batch, 1, proj),
                                                               d_h.unsqueeze(2))
    d_out = d_out.masked_fill(~_alive(lengths, time).permute(1, 2, 0, 3), 0)  # outputs past the end are constant
    d_gates_x = acts.new_empty(k, batch, time, 4, dim)  # laid out as gates_x; every step writes all rows
    d_raw_h = acts.new_empty(time, k, batch, proj)
    d_c, d_h = inj_c[:, :, time].clone(), inj_h[:, :, time].clone()  # (K, batch, dim), (K, batch, proj)
    for t in range(time - 1, -1, -1):
        dh = torch.add(d_h, d_out[:, :, t], out=d_raw_h[t])  # (K, batch, proj)
        if h_mask is not None:
            dh.mul_(h_mask[t])
        d_m = torch.bmm(dh, w_p_t) if w_p_t is not None else dh  # (K, batch, dim)
        dc = torch.addcmul(d_c, d_m, dc_from_h[t])
        if c_mask is not None:
            dc.mul_(c_mask[t])
        d_gates_t = d_gates_x[:, :, t]  # (K, batch, 4, dim)
        torch.mul(factors[t, :, :, :3], dc.unsqueeze(2), out=d_gates_t[:, :, :3])
        torch.mul(factors[t, :, :, 3], d_m, out=d_gates_t[:, :, 3])
        torch.baddbmm(inj_h[:, :, t], d_gates_t.flatten(2), w_h_t, out=d_h)  # (K, batch, proj)
        torch.addcmul(inj_c[:, :, t], dc, f[t], out=d_c)
    d_gates_x = d_gates_x.view(k, batch, time, four_dim)
    # Where a row runs step t it ran t - 1, so out[t - 1] is h before step t; elsewhere d gates is zero.
    h_prev = torch.cat([h0.unsqueeze(2), out], 2)[:, :, :time]  # (K, batch, time, proj)
    d_w_h = torch.bmm(h_prev.reshape(k, batch * time, proj).transpose(1, 2),
                      d_gates_x.reshape(k, batch * time, four_dim))  # (K, proj, 4 * dim)
    d_w_p = None if w_p is None else torch.einsum("tkbd,tkbp->kdp", o * tanh_c, d_raw_h)  # (K, dim, proj)
    return d_gates_x, d_w_h, d_w_p, d_c, d_h


class MaskedProjectedLSTMRecurrence(torch.autograd.Function):
    """``ProjectedLSTMRecurrence`` with fixed shapes: ``lengths`` ``(batch,)`` (integer tensor on the inputs'
    device, any order, each <= time) instead of ``live``; every row is computed at every step of the time axis.

    gates_x ``(K, batch, time, 4 * dim)``, w_h ``(K, proj, 4 * dim)``, w_p ``(K, dim, proj)`` or ``None``,
    c0 ``(K, batch, dim)``, h0 ``(K, batch, proj)``.  Returns outputs ``(K, batch, time, proj)`` (zero past each
    row's length) and the state ``c, h`` after each row's last real step, as the loop does.
    """

    @staticmethod
    def forward(ctx: Any, gates_x: torch.Tensor, w_h: torch.Tensor, w_p: torch.Tensor | None, c0: torch.Tensor,
                h0: torch.Tensor, lengths: torch.Tensor, cell_clip: float | None, proj_clip: float | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        save = any(ctx.needs_input_grad)
        out, c, h, saved = masked_forward(gates_x, w_h, w_p, c0, h0, lengths, cell_clip, proj_clip, save)
        if save:
            ctx.save_for_backward(w_h, w_p, h0, lengths, out, *saved)
        return out, c, h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, d_out: torch.Tensor, d_c: torch.Tensor, d_h: torch.Tensor) -> tuple[Any, ...]:
        w_h, w_p, h0, lengths, out, *saved = ctx.saved_tensors
        grads = masked_backward(w_h, w_p, h0, lengths, Saved(*saved), out, d_out, d_c, d_h)
        return *grads, None, None, None
