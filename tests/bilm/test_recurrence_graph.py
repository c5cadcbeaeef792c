"""The fixed-shape, masked recurrence (``recurrence_graph.py``) against the row-prefix loop of ``recurrence.py``:
values and gradients (clips reached, no projection, two LSTMs at once, ragged and empty rows, carried state, rows in
any order), gradcheck, the CPU-testable parts of the CUDA-graph runner (buckets, padding, keys, LRU cache), the
``ELMO_LAB_RECURRENCE`` switch, and a biLM that gives the same outputs and gradients on either path."""
from __future__ import annotations

import gc
import json

import h5py
import numpy as np
import pytest
import torch

from elmo_lab.bilm.recurrence import projected_lstm
from elmo_lab.bilm.recurrence_graph import (CudaGraphRecurrence, GraphCache, _Lease, bucket_length, copy_padded,
                                            fit_time, graph_key)
from elmo_lab.bilm.recurrence_masked import ENV_VAR, MaskedProjectedLSTMRecurrence, recurrence_backend


@pytest.fixture(autouse=True)
def default_backend(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _inputs(seed: int, k: int = 2, lengths: tuple[int, ...] = (6, 4, 4, 2, 0), time: int = 6, dim: int = 5,
            proj: int | None = 3, dtype: torch.dtype = torch.float64):
    """gates_x, w_h, w_p (None without projection), c0, h0 (nonzero: a carried state), lengths."""
    g = torch.Generator().manual_seed(seed)
    batch, width = len(lengths), proj or dim

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=dtype) * scale).requires_grad_()

    w_p = rand(k, dim, proj, scale=1.5) if proj else None
    return (rand(k, batch, time, 4 * dim, scale=2.0), rand(k, width, 4 * dim), w_p, rand(k, batch, dim),
            rand(k, batch, width), torch.tensor(lengths))


def _values_and_grads(fn, args, seed: int = 1):
    """Outputs of ``fn(*args)`` and the gradients of a loss that uses all three (outputs, final c and h)."""
    outs = fn(*args)
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o.shape, generator=g, dtype=o.dtype) for o in outs]
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    grads = torch.autograd.grad(sum((o * w).sum() for o, w in zip(outs, weights)), inputs)
    return [o.detach() for o in outs], list(grads)


def _assert_same(got, want, atol):
    for name, (a, b) in enumerate(zip(got[0] + got[1], want[0] + want[1])):
        torch.testing.assert_close(a, b, rtol=0, atol=atol, msg=f"value/gradient #{name}")


CASES = {  # name: (_inputs keywords, clips)
    "both clips reached": (dict(), (0.8, 0.5)),
    "no clips": (dict(), (None, None)),
    "plain LSTM": (dict(proj=None), (0.8, None)),
    "one LSTM, one row": (dict(k=1, lengths=(3,), time=3), (3.0, 3.0)),
    "time longer than every row": (dict(lengths=(4, 3, 1), time=7), (0.8, 0.5)),
    "no row has a step": (dict(lengths=(0, 0), time=3), (0.8, 0.5)),
}


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("case", list(CASES))
def test_masked_recurrence_matches_the_loop(case, dtype, atol):
    kwargs, clips = CASES[case]
    args = _inputs(0, dtype=dtype, **kwargs)
    want = _values_and_grads(lambda *a: projected_lstm(*a, *clips), args)
    got = _values_and_grads(lambda *a: MaskedProjectedLSTMRecurrence.apply(*a, *clips), args)
    _assert_same(got, want, atol)
    if case == "both clips reached":
        assert (want[0][0].abs() == 0.5).any() and (want[0][1].abs() == 0.8).any(), "both clips should be reached"


def test_rows_in_any_order_give_the_sorted_rows_results():
    args = _inputs(3, lengths=(6, 4, 4, 2, 0))
    order = torch.tensor([3, 0, 4, 2, 1])  # unsorted lengths (2, 6, 0, 4, 4)
    shuffled = [x if n in (1, 2) else x[:, order].detach().requires_grad_() for n, x in enumerate(args[:5])]
    want = projected_lstm(*args, 0.8, 0.5)
    got = MaskedProjectedLSTMRecurrence.apply(*shuffled, args[5][order], 0.8, 0.5)
    weights = [torch.randn(x.shape, dtype=x.dtype) for x in want]
    want_grads = torch.autograd.grad(sum((x * w).sum() for x, w in zip(want, weights)), args[:5])
    got_grads = torch.autograd.grad(sum((x * w[:, order]).sum() for x, w in zip(got, weights)), shuffled)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w[:, order], rtol=0, atol=1e-10)
    for name, g, w in zip(["gates_x", "w_h", "w_p", "c0", "h0"], got_grads, want_grads):
        torch.testing.assert_close(g, w if name.startswith("w_") else w[:, order], rtol=0, atol=1e-10, msg=name)


@pytest.mark.parametrize("proj", [3, None])
def test_gradcheck_of_the_masked_function(proj):
    *args, lengths = _inputs(2, lengths=(3, 0, 2), time=3, dim=2, proj=proj)
    args = [a for a in args if a is not None]
    if proj:
        fn = lambda g, w_h, w_p, c, h: MaskedProjectedLSTMRecurrence.apply(g, w_h, w_p, c, h, lengths, 50.0, 50.0)
    else:
        fn = lambda g, w_h, c, h: MaskedProjectedLSTMRecurrence.apply(g, w_h, None, c, h, lengths, None, None)
    assert torch.autograd.gradcheck(fn, args)


def test_padding_that_is_not_finite_changes_nothing():
    """Steps past a row's length are computed and thrown away: NaN or inf there must not reach any result."""
    args = list(_inputs(4, lengths=(5, 3, 0), time=6))
    want = _values_and_grads(lambda *a: projected_lstm(*a, 0.8, 0.5), args)
    with torch.no_grad():
        args[0][:, 1, 3:] = float("nan")
        args[0][:, 2] = float("inf")
        args[0][:, 0, 5] = -float("inf")
    got = _values_and_grads(lambda *a: MaskedProjectedLSTMRecurrence.apply(*a, 0.8, 0.5), args)
    assert got[1][0][:, 1, 3:].eq(0).all() and got[1][0][:, 2].eq(0).all()
    _assert_same(got, want, 1e-10)


def test_no_grad_run_gives_the_same_values():
    args = _inputs(5)
    with torch.no_grad():
        out, c, h = MaskedProjectedLSTMRecurrence.apply(*args, 0.8, 0.5)
    assert out.grad_fn is None
    for a, b in zip((out, c, h), projected_lstm(*args, 0.8, 0.5)):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=1e-12)


def test_bucket_lengths():
    assert [bucket_length(n) for n in (0, 1, 8, 9, 12, 13, 17, 24, 25, 33, 48, 49, 65, 97, 129)] == \
           [0, 8, 8, 12, 12, 16, 24, 24, 32, 48, 48, 64, 96, 128, 192]
    buckets = [bucket_length(n) for n in range(1, 600)]
    assert all(b >= n for n, b in zip(range(1, 600), buckets)) and buckets == sorted(buckets)
    assert all(n / bucket_length(n) > 2 / 3 for n in range(9, 600)), "at most a third of a replay is padding"
    assert len(set(bucket_length(n) for n in range(1, 257))) == 11


def test_padding_to_a_bucket_and_back_round_trips():
    x = torch.randn(2, 3, 5, 4)
    static = torch.full((2, 3, bucket_length(5), 4), 7.0)  # stale values from an earlier, longer batch
    copy_padded(static, x, 5)
    assert torch.equal(static[:, :, :5], x) and not static[:, :, 5:].any()
    assert torch.equal(fit_time(static, 5), x)
    longer = fit_time(x, 9)
    assert longer.shape == (2, 3, 9, 4) and torch.equal(longer[:, :, :5], x) and not longer[:, :, 5:].any()
    shorter_rows = torch.randn(2, 3, 8, 4)
    copy_padded(static, shorter_rows, 2)  # only the real steps are copied
    assert torch.equal(static[:, :, :2], shorter_rows[:, :, :2]) and not static[:, :, 2:].any()
    assert fit_time(x, 5).data_ptr() != x.data_ptr(), "a copy: the static buffer is overwritten by the next replay"


def test_graph_keys_share_a_bucket_and_tell_shapes_apart():
    gates_x, w_h, w_p, *_ = _inputs(0, lengths=(6, 4), time=20)
    key = graph_key(gates_x, w_h, w_p, 20, 3.0, 3.0, True)
    assert key == graph_key(gates_x, w_h, w_p, 17, 3.0, 3.0, True) and key.bucket == 24
    assert key.k == 2 and key.batch == 2 and key.dim == 5 and key.proj == 3 and key.dtype == torch.float64
    for other in [graph_key(gates_x, w_h, w_p, 25, 3.0, 3.0, True), graph_key(gates_x, w_h, w_p, 20, 3.0, 3.0, False),
                  graph_key(gates_x, w_h, None, 20, 3.0, 3.0, True), graph_key(gates_x, w_h, w_p, 20, None, 3.0, True),
                  graph_key(gates_x.float(), w_h, w_p, 20, 3.0, 3.0, True)]:
        assert other != key


def test_graph_cache_evicts_the_least_recently_used_idle_entry():
    built = []
    cache = GraphCache(3, lambda key: built.append(key) or f"graphs for {key}")
    a, b = cache.acquire("a"), cache.acquire("b")
    a_again = cache.acquire("a")  # "a" is busy (forward done, backward pending): a second entry for the same key
    assert built == ["a", "b", "a"] and a_again is not a
    assert cache.acquire("c") is None, "full and every entry busy: the caller runs eagerly"
    for slot in (a, b, a_again):
        slot.busy = False
    assert cache.acquire("b") is b and built == ["a", "b", "a"]  # reused, now the most recent
    b.busy = False
    c = cache.acquire("c")  # evicts the least recently used idle entry: the first "a"
    assert built[-1] == "c" and a not in cache.slots.values() and a_again in cache.slots.values()
    assert c.value == "graphs for c" and [s.key for s in cache.slots.values()] == ["a", "b", "c"]


def test_a_lease_frees_its_entry_when_released_or_dropped():
    cache = GraphCache(1, lambda key: key)
    slot = cache.acquire("a")
    lease = _Lease(slot)
    lease.release()
    assert not slot.busy and lease.slot is None
    slot = cache.acquire("a")
    lease = _Lease(slot)
    del lease  # an autograd graph freed without its backward
    gc.collect()
    assert not slot.busy


def test_backend_selection(monkeypatch):
    assert recurrence_backend(torch.device("cpu")) == "loop"
    assert recurrence_backend("cuda") == "loop"  # the graph path is opt-in until measured on a GPU
    for choice in ("loop", "masked", "graph"):
        monkeypatch.setenv(ENV_VAR, choice)
        assert recurrence_backend("cpu") == recurrence_backend("cuda") == choice
    monkeypatch.setenv(ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"^ELMO_LAB_RECURRENCE='fast' is not valid; choose one of loop, masked, "
                                         r"graph$"):
        recurrence_backend("cpu")


@pytest.mark.parametrize("choice", ["masked", "graph"])
def test_projected_lstm_follows_the_switch(monkeypatch, choice):
    args = _inputs(6)
    want = _values_and_grads(lambda *a: projected_lstm(*a, 0.8, 0.5), args)
    monkeypatch.setenv(ENV_VAR, choice)  # "graph" off CUDA runs the eager masked recurrence
    got = _values_and_grads(lambda *a: projected_lstm(*a, 0.8, 0.5), args)
    out = projected_lstm(*args, 0.8, 0.5)[0]
    assert type(out.grad_fn).__name__.startswith("MaskedProjectedLSTMRecurrence")
    _assert_same(got, want, 1e-10)


def test_graph_runner_off_cuda_runs_eagerly_and_captures_nothing():
    runner = CudaGraphRecurrence(capacity=2)
    args = _inputs(7)
    got = _values_and_grads(lambda *a: runner(*a, 0.8, 0.5), args)
    _assert_same(got, _values_and_grads(lambda *a: projected_lstm(*a, 0.8, 0.5), args), 1e-10)
    assert not runner.cache.slots
    with pytest.raises(ValueError, match="a row of 6 steps does not fit in 4 time steps"):
        runner(args[0][:, :, :4], *args[1:], 0.8, 0.5)


def _copy_into(old, new):
    """Write ``new``'s tensors into ``old``'s (through tuples and named tuples); returns ``old``."""
    if isinstance(old, torch.Tensor):
        return old.copy_(new)
    if isinstance(old, tuple):
        items = [_copy_into(o, n) for o, n in zip(old, new)]
        return type(old)(*items) if hasattr(old, "_fields") else tuple(items)
    return old


class _StandInGraph:
    """A CUDA graph's behaviour on the CPU: a replay re-runs the captured code and writes its results into the
    tensors of the capture run, as a real replay does (so whatever the runner hands out must be a copy)."""

    def __init__(self, run) -> None:
        self.run, self.owner = run, run.__self__
        run()  # the capture
        self.static = {n: getattr(self.owner, n) for n in ("out", "c", "h", "saved", "grads") if hasattr(self.owner, n)}

    def replay(self) -> None:
        self.run()
        for name, old in self.static.items():
            if getattr(self.owner, name) is not old:
                setattr(self.owner, name, _copy_into(old, getattr(self.owner, name)))


@pytest.fixture
def stand_in_graphs(monkeypatch):
    """The graph runner on the CPU, with ``_StandInGraph`` for ``torch.cuda.CUDAGraph``."""
    from elmo_lab.bilm import recurrence_graph

    monkeypatch.setattr(recurrence_graph, "graphable", lambda x: True)
    monkeypatch.setattr(recurrence_graph, "capture_graphs", lambda runs, device: [_StandInGraph(r) for r in runs])
    return CudaGraphRecurrence(capacity=3)


def test_graph_runner_pads_to_buckets_keeps_pending_backwards_apart_and_hands_out_copies(stand_in_graphs):
    runner = stand_in_graphs
    layers = [_inputs(seed, lengths=(7, 5, 5, 2, 0), time=10) for seed in (20, 21)]  # bucket 8 < time 10
    want = [_values_and_grads(lambda *a: projected_lstm(*a, 0.8, 0.5), args, seed=n) for n, args in enumerate(layers)]
    outs = [runner(*args, 0.8, 0.5) for args in layers]  # two forwards of one shape before any backward
    assert [s.key.bucket for s in runner.cache.slots.values()] == [8, 8]
    assert all(s.busy for s in runner.cache.slots.values())
    loss = 0
    for n, out in enumerate(outs):
        g = torch.Generator().manual_seed(n)
        loss = loss + sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in out)
    grads = torch.autograd.grad(loss, [x for args in layers for x in args[:5]])
    for n, out in enumerate(outs):
        _assert_same(([o.detach() for o in out], list(grads[5 * n: 5 * n + 5])), want[n], 1e-10)
    assert not any(s.busy for s in runner.cache.slots.values()), "a backward frees its graphs"
    with torch.no_grad():  # replays for inference: a third graph, then new data through it
        first = runner(*layers[0], 0.8, 0.5)
        kept = [x.clone() for x in first]
        second = runner(*layers[1], 0.8, 0.5)
    assert len(runner.cache.slots) == 3 and not any(s.busy for s in runner.cache.slots.values())
    for got, held, expected in zip(first, kept, want[0][0]):
        assert torch.equal(got, held), "the next replay must not change what was handed out"
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    for got, expected in zip(second, want[1][0]):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_graph_runner_without_projection_and_with_a_forward_that_is_never_backpropagated(stand_in_graphs):
    runner = stand_in_graphs
    args = _inputs(22, lengths=(3, 3, 1), time=3, proj=None)
    want = _values_and_grads(lambda *a: projected_lstm(*a, 0.8, None), args)
    dropped = runner(*args, 0.8, None)  # an autograd graph freed without its backward frees its graphs too
    slot = next(iter(runner.cache.slots.values()))
    assert slot.busy
    del dropped
    gc.collect()
    assert not slot.busy
    _assert_same(_values_and_grads(lambda *a: runner(*a, 0.8, None), args), want, 1e-10)
    assert list(runner.cache.slots.values()) == [slot], "the same graphs served the second call"


def test_graphs_first_made_in_inference_mode_serve_outside_it(stand_in_graphs):
    """Lightning validates under ``torch.inference_mode``; the same graphs then serve ``torch.no_grad`` calls."""
    args = _inputs(23)
    with torch.inference_mode():
        first = stand_in_graphs(*args, 0.8, 0.5)
    with torch.no_grad():
        second = stand_in_graphs(*args, 0.8, 0.5)
    assert len(stand_in_graphs.cache.slots) == 1
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_rows_longer_than_max_steps_run_eagerly(stand_in_graphs):
    stand_in_graphs.max_steps = 5
    out = stand_in_graphs(*_inputs(24), 0.8, 0.5)[0]  # the longest row has 6 steps
    assert not stand_in_graphs.cache.slots and type(out.grad_fn).__name__.startswith("MaskedProjectedLSTMRecurrence")


def test_bilm_gives_the_same_outputs_and_gradients_on_the_masked_path(monkeypatch):
    from elmo_lab.bilm import BiLM, BiLMOptions, batch_to_char_ids

    batches = [batch_to_char_ids([["A", "short", "one", "."], ["Hi"], ["Three", "more", "words"]]),
               batch_to_char_ids([["Carried", "state"], ["and", "a", "longer", "row", "here"], ["x"]])]

    def run(choice: str | None):
        if choice:
            monkeypatch.setenv(ENV_VAR, choice)
        torch.manual_seed(3)
        bilm = BiLM(BiLMOptions(filters=[[1, 4], [2, 8]], char_embedding_dim=4, n_highway=1, lstm_dim=6,
                                projection_dim=4, n_layers=2, cell_clip=3.0, proj_clip=3.0,
                                use_skip_connections=True)).double()
        for layer in [*bilm.forward_lstm.layers, *bilm.backward_lstm.layers]:
            layer.cell_clip = layer.proj_clip = 0.5  # low enough to be reached
        outs = [bilm(ids, stateful=True).layers for ids in batches]  # the state carried into the second batch
        sum((o * o.detach().sin()).sum() for o in outs).backward()
        monkeypatch.delenv(ENV_VAR, raising=False)
        return outs, {n: p.grad for n, p in bilm.named_parameters() if p.grad is not None}

    want_outs, want_grads = run(None)
    got_outs, got_grads = run("masked")
    for got, want in zip(got_outs, want_outs):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    assert got_grads.keys() == want_grads.keys() and any("hidden_gates" in n for n in got_grads)
    for name, grad in want_grads.items():
        torch.testing.assert_close(got_grads[name], grad, rtol=0, atol=1e-10, msg=name)


def test_official_fixture_matches_reference_outputs_on_the_masked_path(bilm_tf_dir, monkeypatch):
    from elmo_lab.bilm import batch_to_char_ids, load_bilm

    monkeypatch.setenv(ENV_VAR, "masked")
    bilm = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")
    sentences = json.loads((bilm_tf_dir / "lm_embeddings_sentences.json").read_text())
    expected = [h5py.File(bilm_tf_dir / f"lm_embeddings_{k}.hdf5", "r") for k in range(3)]
    for i in range(10):  # state carried across the batches, as the reference ran them
        batch = [sentences[k][i].split() for k in range(3)]
        with torch.no_grad():
            out = bilm(batch_to_char_ids(batch), stateful=True)
        for k, tokens in enumerate(batch):
            got = torch.stack([out.forward_top[k, :len(tokens)], out.backward_top[k, :len(tokens)]]).numpy()
            np.testing.assert_allclose(got, expected[k][str(i)][...], rtol=0, atol=1e-6)


def test_masked_path_runs_in_float32_under_mixed_precision(monkeypatch):
    args = _inputs(8, dtype=torch.float32)
    want = projected_lstm(*args, 0.8, 0.5)
    monkeypatch.setenv(ENV_VAR, "masked")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = projected_lstm(args[0].bfloat16(), *args[1:], 0.8, 0.5)
    assert all(x.dtype == torch.float32 for x in got)
    torch.testing.assert_close(got[0], want[0], rtol=0, atol=0.05)  # only gates_x was rounded to bfloat16
