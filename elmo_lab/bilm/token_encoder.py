"""The context-free token encoder: char embedding → CNN (several widths, max-pool) → highway → projection.

Two exact shortcuts make inference fast without changing a single output value:

* **Each distinct token once per batch.**  Tokens repeat a lot (``the``, ``,``, ``<S>``); the encoder runs on the unique
  char-id rows and scatters the result back.
* **Only the char positions the batch needs.**  A convolution window made only of padding chars gives the same value
  for every token, so a token of ``n`` real chars (markers included) has, beyond its first ``n`` windows, only copies of
  that one constant.  Cutting every token to ``n_max + max_width`` positions (``n_max`` = longest token in the batch)
  keeps each distinct window value at least once, so the max over windows is unchanged.  Published models convolve
  all 50 positions; typical text needs ~20.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .chars import PAD_CHAR
from .options import BiLMOptions


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
        self.projection = nn.Linear(options.n_filters, options.projection_dim)
        self._activation = torch.relu if options.activation == "relu" else torch.tanh
        self._max_width = max(width for width, _ in options.filters)
        #: False = the published models' straightforward computation (every token, all positions); tests and
        #: ``benchmarks/bilm_inference.py --reference-cnn`` compare against it.
        self.use_shortcuts = True

    def encode_tokens(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Encode a flat list of tokens ``(n, chars)`` → ``(n, projection_dim)``, reading only needed positions."""
        max_chars = char_ids.size(-1)
        real = (char_ids != PAD_CHAR + 1) & (char_ids != 0)  # (n, chars)
        n_max = int(real.sum(-1).max()) if char_ids.numel() else 0
        needed = min(max_chars, n_max + self._max_width)
        chars = self.char_embedding(char_ids[:, :needed]).transpose(1, 2)  # (n, char_dim, needed)
        pooled = []
        for conv in self.convolutions:
            if conv.kernel_size[0] > needed:
                # Only possible when the whole token width is used; same as the full model (no valid window).
                raise ValueError(f"filter width {conv.kernel_size[0]} exceeds max_characters_per_token {max_chars}")
            pooled.append(conv(chars).max(dim=-1).values)  # (n, n_filters_w)
        x = self._activation(torch.cat(pooled, dim=-1))  # (n, n_filters)
        x = self.highway(x)  # (n, n_filters)
        return self.projection(x)  # (n, projection_dim)

    def _encode_all_positions(self, char_ids: torch.Tensor) -> torch.Tensor:
        """The straightforward encoder ``(n, chars)`` → ``(n, projection_dim)``: every window of every token."""
        chars = self.char_embedding(char_ids).transpose(1, 2)  # (n, char_dim, chars)
        pooled = [conv(chars).max(dim=-1).values for conv in self.convolutions]  # n_widths x (n, n_filters_w)
        x = self._activation(torch.cat(pooled, dim=-1))  # (n, n_filters)
        return self.projection(self.highway(x))  # (n, projection_dim)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        batch, time, max_chars = char_ids.shape
        flat = char_ids.reshape(-1, max_chars)  # (batch * time, chars)
        if not self.use_shortcuts:
            token_mask = (flat > 0).any(-1, keepdim=True)  # (batch * time, 1)
            return (self._encode_all_positions(flat) * token_mask).view(batch, time, -1)
        unique, inverse = torch.unique(flat, dim=0, return_inverse=True)  # (n_unique, chars), (batch * time,)
        encoded = self.encode_tokens(unique)  # (n_unique, projection_dim)
        token_mask = (flat > 0).any(-1, keepdim=True)  # (batch * time, 1)
        out = encoded.index_select(0, inverse) * token_mask  # (batch * time, projection_dim)
        return out.view(batch, time, -1)  # (batch, time, projection_dim)
