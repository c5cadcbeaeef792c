"""The CUDA-graph recurrence (``elmo_lab/bilm/recurrence_graph.py``) on a GPU: values and gradients against the CPU
loop on random shapes (two LSTMs at once, ragged and empty rows, carried state), graphs reused with new data and
kept apart while a backward is pending, the LRU bound, the reference outputs with graphs forced, bf16 autocast, and
a host cost per call that does not grow with the number of steps.

Skipped where torch sees no GPU (CI has none); run them on a GPU machine with ``pytest tests/gpu``.
"""
from __future__ import annotations

import copy
import json
import random
import warnings

import h5py
import numpy as np
import pytest
import torch

from elmo_lab.bilm import BiLM, BiLMOptions, batch_to_char_ids, load_bilm
from elmo_lab.bilm.lstm import run_stacks
from elmo_lab.bilm.recurrence import projected_lstm
from elmo_lab.bilm.recurrence_graph import GRAPHS, CudaGraphRecurrence, bucket_length
from elmo_lab.bilm.recurrence_masked import ENV_VAR, MaskedProjectedLSTMRecurrence

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture(autouse=True)
def exact_float32():
    """No TF32 in matmuls and convolutions, so GPU and CPU can agree."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _case(seed: int, batch: int | None = None, time: int | None = None, lengths: list[int] | None = None):
    """Random inputs (float64, CPU) of ``projected_lstm`` for K = 2: rows longest first, some maybe empty, the time
    axis maybe longer than every row, a nonzero initial state, maybe no projection; and random clips."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    batch = batch or rng.randint(1, 9)
    time = time or rng.randint(1, 40)
    dim = rng.choice([3, 8, 16])
    proj = rng.choice([None, 2, max(dim // 2, 1)])
    if lengths is None:
        longest = rng.randint(1, time)
        lengths = sorted([longest] + [rng.randint(0, longest) for _ in range(batch - 1)], reverse=True)
    width = proj or dim

    def rand(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * scale

    args = (rand(2, batch, time, 4 * dim, scale=2.0), rand(2, width, 4 * dim), rand(2, dim, proj) if proj else None,
            rand(2, batch, dim), rand(2, batch, width), torch.tensor(lengths))
    return args, rng.choice([(None, None), (0.5, 0.3), (3.0, 3.0)])


def _run(fn, args, device: str, dtype: torch.dtype, seed: int = 0):
    """``fn`` on copies of ``args`` on ``device``: its three results and the gradients of a loss using them all
    (``None`` for absent inputs), back on the CPU in float64."""
    leaves = [None if a is None else a.to(device, dtype).requires_grad_() for a in args[:5]]
    outs = fn(*leaves, args[5])
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o.shape, generator=g, dtype=torch.float64).to(device, dtype) for o in outs]
    present = [x for x in leaves if x is not None]
    grads = iter(torch.autograd.grad(sum((o * w).sum() for o, w in zip(outs, weights)), present))
    return ([o.detach().cpu().double() for o in outs],
            [None if x is None else next(grads).cpu().double() for x in leaves])


def _assert_close(got, want, rtol: float, atol: float) -> None:
    for n, (a, b) in enumerate(zip(got[0] + got[1], want[0] + want[1])):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=f"value/gradient #{n}")


@pytest.mark.parametrize("dtype, rtol, atol", [(torch.float64, 0, 1e-10), (torch.float32, 1e-4, 1e-5)])
@pytest.mark.parametrize("seed", range(6))
def test_graph_path_matches_the_cpu_loop(seed, dtype, rtol, atol, monkeypatch):
    args, clips = _case(seed)
    monkeypatch.setenv(ENV_VAR, "loop")
    want = _run(lambda *a: projected_lstm(*a, *clips), args, "cpu", dtype)
    monkeypatch.setenv(ENV_VAR, "graph")
    for _ in range(2):  # the first call captures, the second replays
        got = _run(lambda *a: projected_lstm(*a, *clips), args, "cuda", dtype)
        _assert_close(got, want, rtol, atol)
    key = dict(batch=args[0].shape[1], bucket=bucket_length(int(args[5].max())), dtype=dtype, train=True)
    assert any(all(getattr(s.key, k) == v for k, v in key.items()) for s in GRAPHS.cache.slots.values())


def test_graphs_replay_new_data_and_hand_out_copies():
    runner = CudaGraphRecurrence(capacity=4)
    first, clips = _case(10, batch=5, time=20, lengths=[20, 18, 9, 3, 0])
    second = (*[None if a is None else a + 0.1 * torch.randn_like(a) for a in first[:5]],
              torch.tensor([17, 17, 16, 1, 1]))  # the same shapes and bucket (24), other values
    cuda = [[None if a is None else a.cuda() for a in args[:5]] + [args[5]] for args in (first, second)]
    with torch.no_grad():
        a = runner(*cuda[0], *clips)
        kept = [x.clone() for x in a]
        b = runner(*cuda[1], *clips)
        want_b = MaskedProjectedLSTMRecurrence.apply(*cuda[1][:5], cuda[1][5].cuda(), *clips)
    assert len(runner.cache.slots) == 1 and not next(iter(runner.cache.slots.values())).busy
    for x, y in zip(a, kept):
        assert torch.equal(x, y), "outputs are copies: the next replay must not change them"
    for x, y in zip(b, want_b):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-12)


def test_each_pending_backward_keeps_its_own_graphs():
    """Two layers of the same shapes run forward before either runs backward: each needs its own saved state."""
    runner = CudaGraphRecurrence(capacity=4)
    (first, clips), (second, _) = _case(20, batch=4, time=12), _case(20, batch=4, time=12)
    second = tuple(a if a is None or a.dtype != torch.float64 else a + 0.1 for a in second)
    want = [_run(lambda *a: MaskedProjectedLSTMRecurrence.apply(*a[:5], a[5].cuda(), *clips), args, "cuda",
                 torch.float64, seed) for seed, args in enumerate((first, second))]
    leaves = [[None if a is None else a.cuda().requires_grad_() for a in args[:5]] for args in (first, second)]
    outs = [runner(*x, args[5], *clips) for x, args in zip(leaves, (first, second))]
    assert len(runner.cache.slots) == 2 and all(s.busy for s in runner.cache.slots.values())
    loss = 0
    for seed, out in enumerate(outs):
        g = torch.Generator().manual_seed(seed)
        loss = loss + sum((o * torch.randn(o.shape, generator=g, dtype=torch.float64).cuda()).sum() for o in out)
    present = [x for xs in leaves for x in xs if x is not None]
    grads = iter(torch.autograd.grad(loss, present))
    for n, (out, xs) in enumerate(zip(outs, leaves)):
        got = ([o.detach().cpu() for o in out], [None if x is None else next(grads).cpu() for x in xs])
        _assert_close(got, want[n], 0, 1e-12)
    assert not any(s.busy for s in runner.cache.slots.values()), "a backward frees its graphs for the next forward"


def test_the_cache_is_bounded_and_falls_back_when_every_graph_is_busy():
    runner = CudaGraphRecurrence(capacity=2)
    with torch.no_grad():
        for time in (5, 10, 20, 30):  # four buckets
            args, clips = _case(30, batch=3, time=time, lengths=[time, 2, 1])
            runner(*[None if a is None else a.cuda() for a in args[:5]], args[5], *clips)
    assert [s.key.bucket for s in runner.cache.slots.values()] == [24, 32]
    runner = CudaGraphRecurrence(capacity=1)
    args, clips = _case(31, batch=3, time=6)
    leaves = [[None if a is None else a.cuda().requires_grad_() for a in args[:5]] for _ in range(2)]
    graphed = runner(*leaves[0], args[5], *clips)[0]
    eager = runner(*leaves[1], args[5], *clips)[0]
    assert type(graphed.grad_fn).__name__.startswith("_GraphedRecurrence")
    assert type(eager.grad_fn).__name__.startswith("MaskedProjectedLSTMRecurrence")
    torch.testing.assert_close(graphed, eager, rtol=0, atol=1e-12)


def test_stateful_bilm_on_graphs_matches_the_cpu_loop(monkeypatch):
    torch.manual_seed(0)
    cpu = BiLM(BiLMOptions(filters=[[1, 4], [2, 8]], char_embedding_dim=4, n_highway=1, lstm_dim=16,
                           projection_dim=8, n_layers=2, cell_clip=0.5, proj_clip=0.5,
                           use_skip_connections=True)).double()
    gpu = copy.deepcopy(cpu).cuda()
    batches = [batch_to_char_ids([["A", "short", "one", "."], ["Hi"], ["Three", "more", "words"], ["."]]),
               batch_to_char_ids([["Carried", "state"], ["and", "a", "longer", "row", "here", "now"], ["x"]])]
    results = []
    for backend, model, device in (("loop", cpu, "cpu"), ("graph", gpu, "cuda")):
        monkeypatch.setenv(ENV_VAR, backend)
        outs = [model(ids.to(device), stateful=True).layers for ids in batches]  # state carried into batch 2
        sum((o * o.detach().sin()).sum() for o in outs).backward()
        results.append(([o.detach().cpu() for o in outs],
                        [None if p.grad is None else p.grad.cpu() for p in model.parameters()]))
    assert sum(g is not None for g in results[0][1]) > 10
    _assert_close(results[1], results[0], 0, 1e-10)


def test_official_fixture_matches_reference_outputs_with_graphs(bilm_tf_dir, monkeypatch):
    texts = json.loads((bilm_tf_dir / "lm_embeddings_sentences.json").read_text())
    expected = [h5py.File(bilm_tf_dir / f"lm_embeddings_{k}.hdf5", "r") for k in range(3)]
    tops = {}
    for backend in ("loop", "graph"):
        monkeypatch.setenv(ENV_VAR, backend)
        bilm = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5").cuda()
        tops[backend] = []
        for i in range(10):  # state carried across the batches, as the reference ran them
            batch = [texts[k][i].split() for k in range(3)]
            with torch.no_grad():
                out = bilm(batch_to_char_ids(batch).cuda(), stateful=True)
            tops[backend].append([torch.stack([out.forward_top[k, :len(t)], out.backward_top[k, :len(t)]]).cpu()
                                  for k, t in enumerate(batch)])
    worst = max(float(np.abs(got.numpy() - expected[k][str(i)][...]).max())
                for i, row in enumerate(tops["graph"]) for k, got in enumerate(row))
    between = max(float((a - b).abs().max()) for ra, rb in zip(tops["graph"], tops["loop"]) for a, b in zip(ra, rb))
    print(f"graphs on CUDA: {worst:.2e} from the reference, {between:.2e} from the loop on CUDA")
    assert worst < 1e-5 and between < 1e-6


def test_bf16_autocast_keeps_the_graphed_recurrence_in_float32(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "graph")
    (gates_x, w_h, w_p, c0, h0, lengths), clips = _case(40, batch=4, time=10)
    leaves = [None if a is None else a.float().cuda().requires_grad_() for a in (gates_x, w_h, w_p, c0, h0)]
    want = projected_lstm(*leaves, lengths, *clips)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        got = projected_lstm(leaves[0].bfloat16(), *leaves[1:], lengths, *clips)
    assert all(x.dtype == torch.float32 for x in got)
    sum(o.sum() for o in got).backward()
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in leaves if x is not None)
    torch.testing.assert_close(got[0], want[0], rtol=0, atol=0.05)  # only gates_x was rounded to bfloat16
    assert any(s.key.dtype == torch.float32 and s.key.batch == 4 for s in GRAPHS.cache.slots.values())


def _launches(fn) -> tuple[int, int]:
    """Kernel launches and graph launches that ``fn`` asks of the CUDA runtime."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    counts = {e.key: e.count for e in prof.key_averages()}
    return (sum(n for name, n in counts.items() if "LaunchKernel" in name),
            sum(n for name, n in counts.items() if "GraphLaunch" in name))


def test_host_cost_per_call_does_not_grow_with_the_number_of_steps(monkeypatch):
    def step(args, clips):
        leaves = [None if a is None else a.float().cuda().requires_grad_() for a in args[:5]]
        return lambda: sum(o.sum() for o in projected_lstm(*leaves, args[5], *clips)).backward()

    cases = [_case(50, batch=8, time=time, lengths=[time] * 8) for time in (10, 40)]
    counts = {}
    for backend in ("loop", "graph"):
        monkeypatch.setenv(ENV_VAR, backend)
        for (args, clips), time in zip(cases, (10, 40)):
            step(args, clips)()  # captures the graphs
            counts[backend, time] = _launches(step(args, clips))
    print(f"(kernel, graph) launches per training call: {counts}")
    assert counts["graph", 10] == counts["graph", 40] and counts["graph", 10][1] == 2  # forward and backward
    assert counts["loop", 40][0] > counts["loop", 10][0] > counts["graph", 10][0]


def test_one_device_read_of_the_row_lengths_per_lstm_call_once_graphs_are_captured(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "graph")
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions(filters=[[1, 4], [2, 8]], char_embedding_dim=4, n_highway=1, lstm_dim=16,
                            projection_dim=8, n_layers=2, cell_clip=3.0, proj_clip=3.0,
                            use_skip_connections=True)).cuda()
    ids = batch_to_char_ids([["Some", "words", "here"], ["and"], ["more", "words"]]).cuda()
    tokens = bilm.token_encoder(ids)  # (batch, time, projection_dim)
    lengths = (ids > 0).any(-1).sum(-1)  # (batch,) on the GPU
    stacks = [bilm.forward_lstm, bilm.backward_lstm]
    run_stacks(stacks, [tokens, tokens.flip(1)], lengths)  # captures (a one-off that synchronizes)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run_stacks(stacks, [tokens, tokens.flip(1)], lengths)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message) for w in caught if "called a synchronizing" in str(w.message)]
    assert len(syncs) == 1, syncs
