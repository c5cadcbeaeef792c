"""Stand-in contextual encoders for tests: what a second encoder kind looks like from outside the core.

``RandomLayers`` (kind ``standin``): a fixed random vector per token type and layer, of its own depth and width, read
from the tokens alone (no characters, no ``batch_input``).  ``LabelInLayer``: noise in every layer but one, whose
vectors carry a sentence's label (the placements' behaviour tests).
"""
from __future__ import annotations

import zlib
from typing import Any, Sequence

import torch
from torch import nn

from elmo_lab.contextual.base import ContextualEncoder


def _bucket(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % buckets


class _Shaped(ContextualEncoder):
    """``depth`` layers (``L + 1``) of width ``width``."""

    depth: int
    width: int

    @property
    def num_layers(self) -> int:
        return self.depth

    @property
    def output_dim(self) -> int:
        return self.width


class RandomLayers(_Shaped):
    """``depth`` layers of width ``width``: layer j of a token is a fixed random vector of its type (hashed into
    ``buckets``); weights from ``bilm.seed`` (default 0).  Counts its ``encode`` calls (``calls``)."""

    kind = "standin"
    calls = 0  # class-wide: the test's way to see how often the encoder ran

    def __init__(self, depth: int = 4, width: int = 6, buckets: int = 512, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter(torch.randn(buckets, depth, width, generator=generator))  # (buckets, L+1, dim)
        self.depth, self.width, self.buckets = depth, width, buckets

    @classmethod
    def from_config(cls, bilm: dict) -> "RandomLayers":
        return cls()

    def identity_config(self) -> dict:
        return {"kind": self.kind, "depth": self.depth, "width": self.width, "buckets": self.buckets}

    def encode(self, tokens: Sequence[Sequence[str]], inputs: Any = None, stateful: bool = False) -> torch.Tensor:
        type(self).calls += 1
        time = max(len(t) for t in tokens)
        ids = torch.zeros(len(tokens), time, dtype=torch.long)  # (batch, time)
        mask = torch.zeros(len(tokens), time)  # (batch, time)
        for i, sentence in enumerate(tokens):
            ids[i, : len(sentence)] = torch.tensor([_bucket(t, self.buckets) for t in sentence])
            mask[i, : len(sentence)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        layers = self.table[ids] * mask[..., None, None]  # (batch, time, L+1, dim), zero at padding
        return layers.transpose(1, 2)  # (batch, L+1, time, dim)


class LabelInLayer(_Shaped):
    """Layer ``signal_layer`` of every token of a sentence is ``±direction`` (the sign: the sentence's label, from
    ``labels``) plus noise; every other layer is noise alone.  Nothing else in a sentence tells its label."""

    kind = "label_in_layer"

    def __init__(self, labels: dict[tuple[str, ...], int], signal_layer: int, depth: int = 3, width: int = 8,
                 noise: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.labels, self.signal_layer, self.noise, self.seed = labels, signal_layer, noise, seed
        self.direction = nn.Parameter(torch.randn(width, generator=generator), requires_grad=False)  # (dim,)
        self.depth, self.width = depth, width

    @classmethod
    def from_config(cls, bilm: dict) -> "LabelInLayer":
        raise NotImplementedError("built by the test")

    def encode(self, tokens: Sequence[Sequence[str]], inputs: Any = None, stateful: bool = False) -> torch.Tensor:
        time = max(len(t) for t in tokens)
        out = torch.zeros(len(tokens), self.depth, time, self.width)  # (batch, L+1, time, dim)
        for i, sentence in enumerate(tokens):
            generator = torch.Generator().manual_seed(self.seed * 7919 + zlib.crc32(" ".join(sentence).encode()))
            n = len(sentence)
            out[i, :, :n] = self.noise * torch.randn(self.depth, n, self.width, generator=generator)
            sign = 1.0 if self.labels[tuple(sentence)] == 1 else -1.0
            out[i, self.signal_layer, :n] += sign * self.direction
        return out
