"""A CUDA-graph runner for the fixed-shape, masked projected LSTM recurrence (``recurrence_masked``).

Why: ``recurrence.ProjectedLSTMRecurrence`` computes at step ``t`` only the rows still running (a shrinking prefix of
length-sorted rows): the least arithmetic, but each step launches its own small kernels from Python, so on a GPU the
loop is bound by the host (~1,900 kernel launches per biLM training step).  Here every row is computed at every
step; rows past their length keep their state (``torch.where``) and output zeros.  The step loop then has one shape
per (batch, time), and ``CudaGraphRecurrence`` captures it (forward and hand-written backward) into CUDA graphs
replayed with one launch whatever the number of steps, the time axis padded to a few lengths (``bucket_length``).
Live rows go through the same float operations as in the loop; rows past their length cost wasted, masked work.
``recurrence_masked.recurrence_backend`` picks the path: the loop unless ``ELMO_LAB_RECURRENCE`` says ``masked`` or ``graph``.
"""
from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import torch


from elmo_lab.bilm.recurrence_masked import MaskedProjectedLSTMRecurrence, masked_backward, masked_forward


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
