"""The context-free token encoder: char embedding → CNN (several widths, max-pool) → highway → projection.

Exact shortcuts make inference faster than the straightforward computation (``use_shortcuts = False``: every
token, all 50 positions, as the published models do; by how much: docs/benchmarks.md); the two agree to float32
rounding (matmuls of other shapes round differently, ~1e-7):

* **Each distinct token once per batch.**  Tokens repeat a lot (``the``, ``,``, ``<S>``); the encoder runs on the unique
  char-id rows and gathers the result back.
* **Only the char positions a token needs.**  From a token's *span* on (see ``token_spans``), every position holds the
  same id (the padding char), so every window that starts there has one and the same value.  Cutting a token to
  ``span + max_width`` positions keeps every distinct window (or the whole token if that is longer), so the max over
  windows is unchanged.  Tokens are sorted by span and convolved in a few buckets (``span_buckets``), each cut for
  its longest token: typical text needs ~10-20 of the 50 positions.
* **Channels-last 2-d convolutions** with ``amax``: on CPU both the convolution and the max-pool are several times
  faster than ``conv1d`` + ``max(dim=-1)`` in the default layout; the sums are the same.

The highway layer (``n_filters²`` per distinct token, twice) is then the largest cost, and it has no such shortcut.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.bilm.token_cache import TokenVectorCache

# Token vectors kept across inference batches (50k x projection_dim floats: 25 MB at small-ELMo dims).
DEFAULT_TOKEN_CACHE = 50_000
# Fixed cost of one bucket of convolutions, in token positions (tuned on CPU at small-ELMo dims).
BUCKET_OVERHEAD = 128


class Highway(nn.Module):
    """``y = g * relu(W_t x + b_t) + (1 - g) * x`` with ``g = sigmoid(W_c x + b_c)`` (bilm-tf's naming: the "carry"
    weights compute the gate that multiplies the transformed input)."""

    def __init__(self, dim: int, n_layers: int) -> None:
        super().__init__()
        self.transform = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_layers))
        self.carry = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for transform, carry in zip(self.transform, self.carry):
            gate = torch.sigmoid(carry(x))  # (n, dim)
            x = gate * F.relu(transform(x)) + (1.0 - gate) * x
        return x


class CharCNNEncoder(nn.Module):
    """Maps char ids ``(batch, time, max_chars)`` to token vectors ``(batch, time, projection_dim)``.

    Rows whose char ids are all 0 (batch padding) get zero vectors.
    """

    def __init__(self, options: BiLMOptions) -> None:
        super().__init__()
        self.options = options
        self.char_embedding = nn.Embedding(options.n_characters, options.char_embedding_dim, padding_idx=0)
        self.convolutions = nn.ModuleList(
            nn.Conv1d(options.char_embedding_dim, n, kernel_size=width) for width, n in options.filters
        )
        self.highway = Highway(options.n_filters, options.n_highway)
        # bilm-tf has no projection when the filters already number projection_dim.
        self.projection = (nn.Linear(options.n_filters, options.projection_dim) if options.has_cnn_projection
                           else nn.Identity())
        self._activation = torch.relu if options.activation == "relu" else torch.tanh
        self._max_width = max(width for width, _ in options.filters)
        #: False = the published models' straightforward computation (every token, all positions); tests and
        #: ``benchmarks/bilm_inference.py --reference-cnn`` compare against it.
        self.use_shortcuts = True
        #: Cross-batch cache of token vectors, used in eval mode without gradients (see ``token_cache``);
        #: ``set_token_cache(0)`` turns it off.
        self.token_cache = TokenVectorCache(DEFAULT_TOKEN_CACHE)

    def set_token_cache(self, capacity: int) -> None:
        """Cache up to ``capacity`` token vectors across inference batches (0 = off)."""
        self.token_cache = TokenVectorCache(capacity)

    def encode_tokens(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Encode a flat list of tokens ``(n, chars)`` → ``(n, projection_dim)``, reading only needed positions.

        Tokens are sorted by their span (see ``token_spans``) and convolved in a few span buckets, each cut to
        ``bucket_span + max_width`` positions, which keeps every distinct window of every token in the bucket.
        """
        spans = token_spans(char_ids)  # (n,)
        order = torch.argsort(spans, stable=True)  # (n,)
        sorted_ids = char_ids.index_select(0, order)  # (n, chars)
        spans_sorted, counts = torch.unique_consecutive(spans.index_select(0, order), return_counts=True)
        pooled = []
        start = 0
        for end, span in span_buckets(spans_sorted.tolist(), counts.tolist(), self._max_width, char_ids.size(-1)):
            needed = min(char_ids.size(-1), span + self._max_width)
            pooled.append(self._convolve(sorted_ids[start:end, :needed]))  # (n_bucket, n_filters)
            start = end
        x = self._activation(torch.cat(pooled) if len(pooled) > 1 else pooled[0])  # (n, n_filters)
        x = self.projection(self.highway(x))  # (n, projection_dim), sorted by span
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.numel(), device=order.device)
        return x.index_select(0, rank)  # (n, projection_dim), input order

    def _convolve(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Max-pooled convolutions ``(n, positions)`` → ``(n, n_filters)`` (before the activation).

        The convolutions run as 2-d convolutions in channels-last layout, where both the convolution and the max
        over positions are much faster on CPU than ``conv1d`` + ``max(dim=-1)``; the sums are the same.
        """
        chars = self.char_embedding(char_ids).transpose(1, 2).unsqueeze(2)  # (n, char_dim, 1, positions)
        chars = chars.contiguous(memory_format=torch.channels_last)  # already laid out so: no copy
        pooled = [F.conv2d(chars, conv.weight.unsqueeze(2), conv.bias).amax(dim=-1)  # (n, n_filters_w, 1)
                  for conv in self.convolutions]
        return torch.cat(pooled, dim=1).squeeze(2)  # (n, n_filters)

    def _encode_all_positions(self, char_ids: torch.Tensor) -> torch.Tensor:
        """The straightforward encoder ``(n, chars)`` → ``(n, projection_dim)``: every window of every token."""
        chars = self.char_embedding(char_ids).transpose(1, 2)  # (n, char_dim, chars)
        pooled = [conv(chars).max(dim=-1).values for conv in self.convolutions]  # n_widths x (n, n_filters_w)
        x = self._activation(torch.cat(pooled, dim=-1))  # (n, n_filters)
        return self.projection(self.highway(x))  # (n, projection_dim)

    def encode_unique(self, char_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode each distinct token of ``char_ids`` ``(batch, time, chars)`` once.

        Returns ``vectors`` ``(n + 1, projection_dim)``, whose last row is zeros, and ``index`` ``(batch, time)``: the
        row of each position (the zero row at batch padding), so that ``vectors[index]`` is ``forward(char_ids)``.
        Without ``use_shortcuts`` the ``n`` rows are simply every position, computed the straightforward way.
        """
        batch, time, max_chars = char_ids.shape
        flat = char_ids.reshape(-1, max_chars)  # (batch * time, chars)
        if self.use_shortcuts:
            unique, inverse = torch.unique(flat, dim=0, return_inverse=True)  # (n, chars), (batch * time,)
            if self.token_cache.capacity and not self.training and not torch.is_grad_enabled():
                encoded = self.token_cache.encode(unique, self.encode_tokens, self)  # (n, projection_dim)
            else:
                encoded = self.encode_tokens(unique)  # (n, projection_dim)
        else:
            encoded = self._encode_all_positions(flat)  # (batch * time, projection_dim)
            inverse = torch.arange(flat.size(0), device=flat.device)  # (batch * time,)
        vectors = torch.cat([encoded, encoded.new_zeros(1, encoded.size(1))])  # (n + 1, projection_dim)
        is_token = (flat > 0).any(-1)  # (batch * time,)
        index = torch.where(is_token, inverse, encoded.size(0))  # (batch * time,)
        return vectors, index.view(batch, time)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Token vectors ``(batch, time, projection_dim)``; zeros where the char ids are all 0 (batch padding)."""
        vectors, index = self.encode_unique(char_ids)
        return vectors[index]  # (batch, time, projection_dim)

def token_spans(char_ids: torch.Tensor) -> torch.Tensor:
    """Per token ``(n, chars)``: 1 + the last position whose id differs from the token's final id (0 if none).

    Every position from the span on holds that final id (the padding char, or 0 for batch padding), so all the
    windows that start there or later are identical.
    """
    differs = char_ids != char_ids[:, -1:]  # (n, chars)
    positions = torch.arange(1, char_ids.size(-1) + 1, device=char_ids.device)  # (chars,)
    return (differs * positions).amax(-1) if char_ids.numel() else char_ids.new_zeros(char_ids.size(0))


def span_buckets(spans: list[int], counts: list[int], max_width: int, max_chars: int,
                 overhead: int = BUCKET_OVERHEAD) -> list[tuple[int, int]]:
    """Group tokens sorted by span into buckets; returns ``(end_index, bucket_span)`` per bucket.

    ``spans`` are the distinct spans in increasing order and ``counts`` how many tokens have each.  A bucket of
    ``n`` tokens with largest span ``s`` costs ``n * min(max_chars, s + max_width)`` convolved positions plus
    ``overhead`` (the fixed cost of a round of convolution calls, in positions); an exact dynamic programme over
    the (at most ``max_chars + 1``) distinct spans picks the cheapest grouping.
    """
    k = len(spans)
    ends = [0]
    for c in counts:
        ends.append(ends[-1] + c)
    best = [0.0] + [float("inf")] * k  # best[j]: cheapest cost of the first j distinct spans
    cut = [0] * (k + 1)
    for j in range(1, k + 1):
        width = min(max_chars, spans[j - 1] + max_width)
        for i in range(j):
            cost = best[i] + (ends[j] - ends[i]) * width + overhead
            if cost < best[j]:
                best[j], cut[j] = cost, i
    buckets = []
    j = k
    while j > 0:
        buckets.append((ends[j], spans[j - 1]))
        j = cut[j]
    return buckets[::-1]
