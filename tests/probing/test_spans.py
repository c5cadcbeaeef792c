"""Span pooling (``elmo_lab.probing.spans``): endpoints concatenate the first and last token; self-attentive pooling
is a weighted mean of the span's own tokens, whatever lies outside it."""
from __future__ import annotations

import pytest
import torch

from elmo_lab.probing.spans import SpanPooling


def test_endpoints_are_the_first_and_last_tokens() -> None:
    vectors = torch.arange(2 * 5 * 3, dtype=torch.float).view(2, 5, 3)  # (batch, time, dim)
    rows, spans = torch.tensor([0, 1, 1]), torch.tensor([[1, 4], [0, 1], [2, 5]])
    pooled = SpanPooling(3, "endpoints")(vectors, rows, spans)  # (3, 6)
    assert torch.equal(pooled[0], torch.cat([vectors[0, 1], vectors[0, 3]]))
    assert torch.equal(pooled[1], torch.cat([vectors[1, 0], vectors[1, 0]]))  # one token: itself twice
    assert torch.equal(pooled[2], torch.cat([vectors[1, 2], vectors[1, 4]]))


def test_attention_pools_only_inside_the_span() -> None:
    torch.manual_seed(0)
    pool = SpanPooling(4, "attention")
    vectors = torch.randn(1, 6, 4)  # (batch, time, dim)
    spans = torch.tensor([[2, 4], [5, 6]])
    pooled = pool(vectors, torch.tensor([0, 0]), spans)  # (2, 4)
    far = vectors.clone()
    far[0, [0, 1, 4]] = 1e3  # tokens outside both spans change: nothing pooled changes
    assert torch.allclose(pool(far, torch.tensor([0, 0]), spans), pooled)
    assert torch.allclose(pooled[1], vectors[0, 5])  # one token: its own vector
    weights = torch.softmax(pool.score(vectors[0, 2:4]).squeeze(-1), dim=0)  # by hand: softmax over the span
    assert torch.allclose(pooled[0], weights @ vectors[0, 2:4], atol=1e-6)
    with pytest.raises(ValueError, match="attention, endpoints"):
        SpanPooling(4, "max")
