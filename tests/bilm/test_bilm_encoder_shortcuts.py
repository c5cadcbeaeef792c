"""The fast char-CNN encoder (distinct tokens once, span buckets, only needed positions) equals the straightforward
one (every token, all 50 positions), in values and in gradients."""
from __future__ import annotations

import itertools
import random

import pytest
import torch

from elmo_lab.bilm import BiLM, BiLMOptions, batch_to_char_ids
from elmo_lab.bilm.token_encoder import CharCNNEncoder, span_buckets, token_spans

TINY = dict(filters=[[1, 4], [2, 8], [3, 8], [7, 16]], char_embedding_dim=4, n_highway=1, lstm_dim=16,
            projection_dim=8, n_layers=2, cell_clip=3.0, proj_clip=3.0, use_skip_connections=True)


def _encoder(seed: int = 0, **overrides) -> CharCNNEncoder:
    torch.manual_seed(seed)
    return CharCNNEncoder(BiLMOptions(**{**TINY, **overrides})).eval()


def _both(encoder: CharCNNEncoder, char_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    fast = encoder(char_ids)
    encoder.use_shortcuts = False
    try:
        reference = encoder(char_ids)
    finally:
        encoder.use_shortcuts = True
    return fast, reference


def _sentences(rng: random.Random, n: int, max_bytes: int) -> list[list[str]]:
    words = ["".join(rng.choice("abcdefghé,.'") for _ in range(rng.randint(1, max_bytes))) for _ in range(40)]
    return [[rng.choice(words) for _ in range(rng.randint(1, 9))] for _ in range(n)]


@pytest.mark.parametrize("max_bytes", [3, 12, 47, 48, 70])  # 48+ bytes: the longest token fills all 50 positions
def test_shortcuts_equal_straightforward_encoder(max_bytes):
    rng = random.Random(max_bytes)
    encoder = _encoder(max_bytes)
    char_ids = batch_to_char_ids(_sentences(rng, 7, max_bytes))  # ragged: padding rows included
    with torch.no_grad():
        fast, reference = _both(encoder, char_ids)
    assert fast.shape == reference.shape == (*char_ids.shape[:2], 8)
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-6)
    assert not fast[(char_ids == 0).all(-1)].any(), "batch padding must encode to zeros"


def test_arbitrary_char_ids_equal_straightforward_encoder():
    """Not only what batch_to_char_ids makes: any ids, trailing runs of any id, rows of every span 0..50."""
    torch.manual_seed(1)
    rows = []
    for span in range(51):
        row = torch.randint(1, 262, (50,))
        row[span:] = int(torch.randint(0, 262, ()))  # positions from the span on hold one id (0 included)
        rows.append(row)
    char_ids = torch.stack(rows + rows[::3]).view(4, -1, 50)  # duplicates across rows
    encoder = _encoder(3)
    with torch.no_grad():
        fast, reference = _both(encoder, char_ids)
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-6)


def test_gradients_equal_straightforward_encoder():
    char_ids = batch_to_char_ids(_sentences(random.Random(5), 6, 20))
    grads = []
    for shortcuts in (True, False):
        encoder = _encoder(5).train()
        encoder.use_shortcuts = shortcuts
        target = torch.randn(*char_ids.shape[:2], 8, generator=torch.Generator().manual_seed(0))
        (encoder(char_ids) * target).sum().backward()
        grads.append({name: p.grad for name, p in encoder.named_parameters()})
    fast, reference = grads
    for name, grad in reference.items():
        assert fast[name] is not None and fast[name].abs().sum() > 0, name
        torch.testing.assert_close(fast[name], grad, rtol=1e-5, atol=1e-5, msg=name)


def test_token_spans():
    ids = batch_to_char_ids([["a", "abc", "x" * 48, "x" * 60]]).view(-1, 50)  # <S>, 4 tokens, </S>
    # markers count (<S> is BOW, id, EOW); a 48-byte token ends in EOW at position 49, so its own final id starts at 49
    assert token_spans(ids).tolist() == [3, 3, 5, 49, 49, 3]
    assert token_spans(torch.zeros(2, 50, dtype=torch.long)).tolist() == [0, 0]


def _cost(spans, counts, groups, width, max_chars, overhead):
    cost, start = 0, 0
    for end in groups:
        cost += sum(counts[start:end]) * min(max_chars, spans[end - 1] + width) + overhead
        start = end
    return cost


@pytest.mark.parametrize("seed", range(20))
def test_span_buckets_are_an_optimal_grouping(seed):
    rng = random.Random(seed)
    spans = sorted(rng.sample(range(0, 51), rng.randint(1, 7)))
    counts = [rng.randint(1, 300) for _ in spans]
    overhead = rng.choice([0, 50, 128, 5000])
    buckets = span_buckets(spans, counts, 7, 50, overhead)
    ends = [end for end, _ in buckets]
    assert ends == sorted(set(ends)) and ends[-1] == sum(counts)
    cum = list(itertools.accumulate(counts))
    groups = [cum.index(end) + 1 for end in ends]  # bucket ends as indexes into the distinct spans
    assert [span for _, span in buckets] == [spans[g - 1] for g in groups]
    best = min(_cost(spans, counts, list(cut) + [len(spans)], 7, 50, overhead)
               for r in range(len(spans)) for cut in itertools.combinations(range(1, len(spans)), r))
    assert _cost(spans, counts, groups, 7, 50, overhead) == best


@pytest.mark.parametrize("stateful", [False, True])
def test_bilm_outputs_equal_with_straightforward_encoder(stateful):
    torch.manual_seed(2)
    bilm = BiLM(BiLMOptions(**TINY)).eval()
    batches = [batch_to_char_ids(_sentences(random.Random(k), 5, 50)) for k in range(3)]
    outputs = []
    for shortcuts in (True, False):
        bilm.token_encoder.use_shortcuts = shortcuts
        bilm.reset_state()
        with torch.no_grad():
            outputs.append([bilm(ids, stateful=stateful).layers for ids in batches])
    for fast, reference in zip(*outputs):
        torch.testing.assert_close(fast, reference, rtol=0, atol=1e-6)
