"""A cross-batch cache of token encodings for inference with a fixed biLM.

The token encoder is context-free, so a token's vector never changes while the weights do not.  Text is Zipfian: after
a few batches most tokens of a new batch (``the``, ``,``, ``movie``) have been encoded before, and the char CNN +
highway work (the largest cost outside the LSTMs) is only paid for new words.  AllenNLP offers the same idea as a
precomputed vocabulary cache; this one fills itself as text streams through.

Used only when gradients are off and the encoder is in eval mode; it empties itself when any encoder parameter is
changed in place (optimizer steps, ``load_weights``), which it notices through the parameters' version counters, or
moved to another device or dtype.
"""
from __future__ import annotations

import torch
from torch import nn


class TokenVectorCache:
    """Maps a token's char-id row to its vector; holds at most ``capacity`` tokens (then stops adding).

    Stopping instead of evicting keeps the tokens seen first, which in running text are mostly the frequent ones.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: dict[bytes, int] = {}
        self._table: torch.Tensor | None = None  # (capacity, dim)
        self._stamp: tuple[int, ...] | None = None
        self.hits = self.misses = 0

    def clear(self) -> None:
        self._rows.clear()
        self._table = None

    def _check_stamp(self, module: nn.Module) -> None:
        # In-place changes bump a parameter's version; ``module.to(...)`` (another device or dtype, as Lightning's
        # teardown after a GPU fit) gives it new storage.
        stamp = tuple((p._version, p.data_ptr(), p.device, p.dtype) for p in module.parameters())
        if stamp != self._stamp:
            self.clear()
            self._stamp = stamp

    def encode(self, unique: torch.Tensor, encode: "callable", module: nn.Module) -> torch.Tensor:
        """Vectors ``(n, dim)`` for distinct token rows ``unique`` ``(n, chars)``, calling ``encode`` for new ones."""
        self._check_stamp(module)
        keys = [row.tobytes() for row in unique.cpu().numpy()]
        found = [self._rows.get(key, -1) for key in keys]
        missing = [i for i, row in enumerate(found) if row < 0]
        present = [i for i, row in enumerate(found) if row >= 0]
        self.hits += len(present)
        self.misses += len(missing)
        fresh = encode(unique[missing]) if missing else None  # (n_missing, dim)
        if fresh is not None and len(present) == 0:
            out = fresh
        else:
            dim = self._table.size(1)  # a hit means the table exists
            out = self._table.new_empty(unique.size(0), dim)  # (n, dim)
            out[present] = self._table[[found[i] for i in present]]
            if fresh is not None:
                out[missing] = fresh
        if fresh is not None:
            self._store([keys[i] for i in missing], fresh)
        return out

    def _store(self, keys: list[bytes], vectors: torch.Tensor) -> None:
        if self._table is None:
            self._table = vectors.new_empty(self.capacity, vectors.size(1))
        room = self.capacity - len(self._rows)
        if room <= 0:
            return
        start = len(self._rows)
        n = min(room, len(keys))
        self._table[start: start + n] = vectors[:n]
        for offset, key in enumerate(keys[:n]):
            self._rows[key] = start + offset
