"""Span pooling for edge probing (Tenney et al. 2019): one vector per token span, from the (projected) vectors of a
sentence's tokens.

* ``attention``: self-attentive pooling (Lee et al. 2017, as in Tenney et al.): a learned score per token, softmax
  over the span's tokens, the weighted sum of their vectors (``dim`` wide);
* ``endpoints``: the vectors of the span's first and last tokens, concatenated (``2·dim`` wide).

Spans are ``[start, end)`` token offsets (jiant's layout, end exclusive) into a batch row named per span.
"""
from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("attention", "endpoints")


class SpanPooling(nn.Module):
    """Pools ``vectors`` (batch, time, dim) over ``spans`` (targets, 2) of the batch rows ``rows`` (targets,) →
    (targets, ``output_dim``)."""

    def __init__(self, dim: int, kind: str = "attention") -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"span pooling: one of {', '.join(POOLINGS)}, got {kind!r}")
        self.kind = kind
        self.output_dim = dim if kind == "attention" else 2 * dim
        self.score = nn.Linear(dim, 1) if kind == "attention" else None

    def forward(self, vectors: torch.Tensor, rows: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        start, end = spans[:, 0], spans[:, 1]  # (targets,) each; end exclusive
        if self.kind == "endpoints":
            return torch.cat([vectors[rows, start], vectors[rows, end - 1]], dim=-1)  # (targets, 2 * dim)
        # only the positions of the widest span are gathered, (targets, width), not every position of the row:
        # edge_deprel's one-word spans cost O(targets x dim) instead of O(targets x time x dim)
        width = max(int((end - start).max()), 1) if len(start) else 1
        positions = start.unsqueeze(1) + torch.arange(width, device=vectors.device)  # (targets, width)
        inside = positions < end.unsqueeze(1)  # (targets, width)
        positions = positions.clamp(max=vectors.size(1) - 1)  # (targets, width): positions past a span unused
        picked = vectors[rows.unsqueeze(1), positions]  # (targets, width, dim)
        logits = self.score(picked).squeeze(-1)  # (targets, width)
        weights = logits.masked_fill(~inside, float("-inf")).softmax(-1)  # (targets, width)
        return torch.einsum("nw,nwd->nd", weights, picked)  # (targets, dim)
