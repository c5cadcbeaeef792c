"""A fixed-shape, masked variant of the projected LSTM recurrence, and a CUDA-graph runner for it.

Why: ``recurrence.ProjectedLSTMRecurrence`` computes at step ``t`` only the rows still running (a shrinking prefix of
length-sorted rows): the least arithmetic, but each step launches its own small kernels from Python, so on a GPU the
loop is bound by the host (~1,900 kernel launches per biLM training step).  Here every row is computed at every
step; rows past their length keep their state (``torch.where``) and output zeros.  The step loop then has one shape
per (batch, time), and ``CudaGraphRecurrence`` captures it (forward and hand-written backward) into CUDA graphs
replayed with one launch whatever the number of steps, the time axis padded to a few lengths (``bucket_length``).
Live rows go through the same float operations as in the loop; rows past their length cost wasted, masked work.
``recurrence_backend`` picks the path: the loop unless ``ELMO_LAB_RECURRENCE`` says ``masked`` or ``graph``.
"""
from __future__ import annotations

import functools
import itertools
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import torch

ENV_VAR = "ELMO_LAB_RECURRENCE"
BACKENDS = ("loop", "masked", "graph")


def recurrence_backend(device: torch.device | str) -> str:
    """``"loop"`` unless ``ELMO_LAB_RECURRENCE`` names one of ``BACKENDS`` (``"masked"``: the eager masked
    recurrence, on any device; ``"graph"``: CUDA graphs on CUDA, the eager masked recurrence elsewhere).

    The CUDA-graph path is opt-in, not the CUDA default, until its parity and speed have been measured on a GPU
    (``benchmarks/gpu_check.sh``); ``device`` is where the default would be decided then."""
    choice = os.environ.get(ENV_VAR, "").strip()
    if not choice:
        return "loop"
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


def bucket_length(steps: int) -> int:
    """The time length a graph is captured for: the smallest of 8, 12, 16, 24, 32, 48, 64, ... (powers of two and
    1.5 x powers of two) that holds ``steps``, so beyond 8 steps at most a third of a replay is padding, and
    lengths up to 256 need 11 graphs per shape.  0 for no steps."""
    size = 8
    while steps > 0:
        if steps <= size:
            return size
        if steps <= size * 3 // 2:
            return size * 3 // 2
        size *= 2
    return 0


class GraphKey(NamedTuple):
    """Everything a captured graph is specific to."""

    k: int
    batch: int
    bucket: int
    dim: int
    proj: int
    projection: bool  # w_p is not None
    cell_clip: float | None
    proj_clip: float | None
    dtype: torch.dtype
    device: torch.device
    train: bool  # forward saves activations and a backward graph exists
    tf32: bool  # matmul kernels are chosen at capture


def graph_key(gates_x: torch.Tensor, w_h: torch.Tensor, w_p: torch.Tensor | None, steps: int,
              cell_clip: float | None, proj_clip: float | None, train: bool) -> GraphKey:
    k, batch, _, four_dim = gates_x.shape
    return GraphKey(k, batch, bucket_length(steps), four_dim // 4, w_h.size(1), w_p is not None, cell_clip,
                    proj_clip, gates_x.dtype, gates_x.device, train, torch.backends.cuda.matmul.allow_tf32)


def copy_padded(dst: torch.Tensor, src: torch.Tensor, steps: int) -> None:
    """Copy the first ``steps`` of ``src``'s time axis (dim 2) into ``dst``; zeros in the rest of ``dst``."""
    dst[:, :, :steps].copy_(src[:, :, :steps])
    dst[:, :, steps:].zero_()


def fit_time(x: torch.Tensor, time: int) -> torch.Tensor:
    """A new tensor: ``x`` with its time axis (dim 2) cut, or zero-padded, to ``time``."""
    if x.size(2) >= time:
        return x[:, :, :time].clone()
    return torch.cat([x, x.new_zeros(*x.shape[:2], time - x.size(2), *x.shape[3:])], 2)


@dataclass(eq=False)
class Slot:
    """One cache entry; ``busy`` between a training forward and its backward (its buffers hold saved state)."""

    key: Any
    value: Any
    busy: bool = False


class GraphCache:
    """At most ``capacity`` entries made by ``build(key)``, least recently used evicted first.  A key can have
    several entries: the layers of a stack share shapes, and each forward keeps its own until its backward.  Busy
    entries are never evicted; when all are busy and the cache is full ``acquire`` returns ``None``."""

    def __init__(self, capacity: int, build: Callable[[Any], Any]) -> None:
        self.capacity, self.build = capacity, build
        self.slots: OrderedDict[int, Slot] = OrderedDict()  # least recently used first
        self._ids = itertools.count()

    def acquire(self, key: Any) -> Slot | None:
        for slot_id, slot in self.slots.items():
            if slot.key == key and not slot.busy:
                self.slots.move_to_end(slot_id)
                slot.busy = True
                return slot
        if len(self.slots) >= self.capacity:
            idle = next((slot_id for slot_id, slot in self.slots.items() if not slot.busy), None)
            if idle is None:
                return None
            del self.slots[idle]
        self.slots[next(self._ids)] = slot = Slot(key, self.build(key), busy=True)
        return slot


class _Lease:
    """Keeps a slot busy until ``release`` (after the backward) or until the autograd graph holding it is freed."""

    def __init__(self, slot: Slot) -> None:
        self.slot: Slot | None = slot

    def release(self) -> None:
        if self.slot is not None:
            self.slot.busy = False
            self.slot = None

    __del__ = release


def capture_graphs(runs: list[Callable[[], None]], device: torch.device, warmup: int = 2) -> list[Any]:
    """Run ``runs`` in order ``warmup`` times on a side stream (lazy library set-up must not happen during a
    capture), then capture each into a ``torch.cuda.CUDAGraph``, all in one memory pool: they replay in this order,
    and what one writes for the next (the forward's saved activations) stays alive in Python."""
    with torch.cuda.device(device):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(warmup):
                for run in runs:
                    run()
        torch.cuda.current_stream().wait_stream(side)
        pool, graphs = torch.cuda.graph_pool_handle(), [torch.cuda.CUDAGraph() for _ in runs]
        for run, graph in zip(runs, graphs):  # thread_local: other threads' CUDA calls (pinning) are not errors
            with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"), torch.no_grad():
                run()
    return graphs


class _Graphs:
    """Static buffers and the captured forward (and, for training, backward) graphs for one ``GraphKey``."""

    @torch.inference_mode(False)  # normal tensors, usable in and out of inference mode
    def __init__(self, key: GraphKey) -> None:
        self.key = key
        k, b, t, dim, proj = key.k, key.batch, key.bucket, key.dim, key.proj
        zeros = functools.partial(torch.zeros, dtype=key.dtype, device=key.device)
        self.gates_x, self.w_h = zeros(k, b, t, 4 * dim), zeros(k, proj, 4 * dim)
        self.w_p = zeros(k, dim, proj) if key.projection else None
        self.c0, self.h0 = zeros(k, b, dim), zeros(k, b, proj)
        self.lengths = torch.full((b,), t, dtype=torch.long, device=key.device)  # any value: nothing reads it on host
        self.d_out, self.d_c, self.d_h = zeros(k, b, t, proj), zeros(k, b, dim), zeros(k, b, proj)
        runs = [self._run_forward, self._run_backward] if key.train else [self._run_forward]
        self.forward_graph, self.backward_graph = [*capture_graphs(runs, key.device), None][:2]

    def _run_forward(self) -> None:
        key = self.key
        self.out, self.c, self.h, self.saved = masked_forward(
            self.gates_x, self.w_h, self.w_p, self.c0, self.h0, self.lengths, key.cell_clip, key.proj_clip,
            key.train)

    def _run_backward(self) -> None:
        self.grads = masked_backward(self.w_h, self.w_p, self.h0, self.lengths, self.saved, self.out, self.d_out,
                                     self.d_c, self.d_h)


class _GraphedRecurrence(torch.autograd.Function):
    """Replays a slot's graphs: copies the inputs into its static buffers, hands out copies of the results."""

    @staticmethod
    def forward(ctx: Any, gates_x: torch.Tensor, w_h: torch.Tensor, w_p: torch.Tensor | None, c0: torch.Tensor,
                h0: torch.Tensor, lease: _Lease, lengths: torch.Tensor, steps: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        graphs: _Graphs = lease.slot.value
        copy_padded(graphs.gates_x, gates_x, steps)
        for static, x in ((graphs.w_h, w_h), (graphs.w_p, w_p), (graphs.c0, c0), (graphs.h0, h0)):
            if x is not None:
                static.copy_(x)
        graphs.lengths.copy_(lengths, non_blocking=True)  # host to device: no wait for the device
        graphs.forward_graph.replay()
        out, c, h = fit_time(graphs.out, gates_x.size(2)), graphs.c.clone(), graphs.h.clone()
        if graphs.key.train:
            ctx.lease, ctx.time, ctx.steps = lease, gates_x.size(2), steps
        else:
            lease.release()
        return out, c, h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, d_out: torch.Tensor, d_c: torch.Tensor, d_h: torch.Tensor) -> tuple[Any, ...]:
        if ctx.lease.slot is None:
            raise RuntimeError("the graphed recurrence's saved activations are gone: backward runs once per forward")
        graphs: _Graphs = ctx.lease.slot.value
        copy_padded(graphs.d_out, d_out, ctx.steps)
        graphs.d_c.copy_(d_c)
        graphs.d_h.copy_(d_h)
        graphs.backward_graph.replay()
        d_gates_x, d_w_h, d_w_p, d_c0, d_h0 = graphs.grads
        grads = (fit_time(d_gates_x, ctx.time), d_w_h.clone(), None if d_w_p is None else d_w_p.clone(),
                 d_c0.clone(), d_h0.clone())
        ctx.lease.release()
        return *grads, None, None, None


def graphable(x: torch.Tensor) -> bool:
    """On CUDA, and not inside someone else's graph capture (where the eager recurrence is captured as it is)."""
    return x.is_cuda and not torch.cuda.is_current_stream_capturing()


class CudaGraphRecurrence:
    """Runs the masked recurrence through CUDA graphs captured per ``GraphKey`` (at most ``capacity`` kept, LRU);
    eagerly (``MaskedProjectedLSTMRecurrence``) off CUDA, with ``graph=False``, during another capture, for rows
    over ``max_steps`` (rare long shapes are not worth a capture) or when all graphs are busy and the cache full."""

    def __init__(self, capacity: int = 8, max_steps: int = 512) -> None:
        self.cache, self.max_steps = GraphCache(capacity, _Graphs), max_steps

    def __call__(self, gates_x: torch.Tensor, w_h: torch.Tensor, w_p: torch.Tensor | None, c0: torch.Tensor,
                 h0: torch.Tensor, lengths: torch.Tensor, cell_clip: float | None, proj_clip: float | None,
                 graph: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Shapes as ``MaskedProjectedLSTMRecurrence``; ``lengths`` ``(batch,)`` on the host (the longest row
        chooses the bucket; reading it from a GPU would wait for it)."""
        steps = int(lengths.max()) if lengths.numel() else 0
        if steps > gates_x.size(2):
            raise ValueError(f"a row of {steps} steps does not fit in {gates_x.size(2)} time steps")
        slot = None
        if graph and 0 < steps <= self.max_steps and graphable(gates_x):
            train = torch.is_grad_enabled() and any(x is not None and x.requires_grad
                                                    for x in (gates_x, w_h, w_p, c0, h0))
            slot = self.cache.acquire(graph_key(gates_x, w_h, w_p, steps, cell_clip, proj_clip, train))
        if slot is None:
            return MaskedProjectedLSTMRecurrence.apply(gates_x, w_h, w_p, c0, h0,
                                                       lengths.to(gates_x.device, non_blocking=True), cell_clip,
                                                       proj_clip)
        return _GraphedRecurrence.apply(gates_x, w_h, w_p, c0, h0, _Lease(slot), lengths, steps)


GRAPHS = CudaGraphRecurrence()  # the process's graphs, used by ``recurrence.projected_lstm``
