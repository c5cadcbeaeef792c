"""The contextual encoder's layers of every token sequence of a run, computed once (``SequenceLayerCache``).

Used when the encoder is constant for the run (frozen, stateless): the pipeline hands the cache every token sequence
the run will see (``add``, from the datamodule's splits); the first lookup then runs the encoder once over them
(sorted, fixed batches: the same values whatever the training order or a resume) and keeps each sequence's layers in
float16.  It is filled lazily, on the encoder's device, after any fine-tuning and after a checkpoint is restored, so
the cached values are always those of the encoder the task trains against.  With a ``LayerStore`` the layers go to
the on-disk store shared by all runs and processes (``elmo_lab.cache``: keyed by the encoder's ``cache_identity``
and the sequences, memory-mapped, read per batch), so a sweep runs the encoder once; otherwise, or when the disk
cannot take them, they stay in this run's memory.  Nothing here depends on the kind of encoder.
"""
from __future__ import annotations

import logging
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from elmo_lab.cache.store import CorruptEntryError, LayerEntry, LayerStore, entry_key, sequences_digest
from elmo_lab.contextual.base import ContextualEncoder

log = logging.getLogger(__name__)
Key = tuple[str, ...]


class SequenceLayerCache:
    """Per-sequence encoder layers: in this run's memory, or entries of a shared ``LayerStore``.

    # Parameters
    store : the shared on-disk store, or None (this run's memory only).
    batch_size : sequences per encoder pass when filling.
    """

    def __init__(self, store: LayerStore | None = None, batch_size: int = 128) -> None:
        self.store, self.batch_size = store, batch_size
        self._pending: set[Key] = set()
        self._memory: dict[Key, np.ndarray] = {}  # (len, L + 1, dim) float16
        self._on_disk: dict[Key, tuple[LayerEntry, int]] = {}  # sequence -> (entry, index in it)

    def add(self, sequences: Iterable[Sequence[str]]) -> None:
        """Sequences whose layers the cache should hold (computed at the next ``fill`` or lookup)."""
        self._pending.update(tuple(s) for s in sequences if len(s) > 0)

    @torch.no_grad()
    def fill(self, encoder: ContextualEncoder, sequences: Iterable[Sequence[str]] = ()) -> None:
        """Run ``encoder`` now over ``sequences`` and every added sequence not cached yet (or read their layers from
        the disk store, where another run or process has written them)."""
        self.add(sequences)
        todo = sorted(self._pending - self._memory.keys() - self._on_disk.keys(), key=lambda s: (len(s), s))
        self._pending.clear()
        if not todo:
            return
        was_training = encoder.training
        encoder.eval()
        try:
            if self.store is None or not self._fill_disk(encoder, todo):
                for chunk, rows in self._passes(encoder, todo):  # rows: (tokens of chunk, L + 1, dim) float16
                    starts = np.cumsum([0] + [len(s) for s in chunk])
                    for i, sequence in enumerate(chunk):
                        self._memory[sequence] = rows[starts[i]: starts[i + 1]]  # (len, L + 1, dim)
        finally:
            encoder.train(was_training)

    def lookup(self, encoder: ContextualEncoder, tokens: Sequence[Sequence[str]]) -> torch.Tensor | None:
        """The cached layers of a batch (batch, L + 1, time, dim) on ``encoder``'s device, or None when a sequence of
        the batch was never added (the caller then runs the encoder on the whole batch)."""
        if self._pending:
            self.fill(encoder)
        try:
            return self._assemble(encoder, tokens)
        except CorruptEntryError as e:  # a chunk failed its CRC: rebuild that entry and read again
            entry = next(en for en, _ in self._on_disk.values() if en.path == e.path)
            log.warning("biLM layer cache: %s; rebuilding it", e)
            self.store.discard(entry)
            lost = [s for s, (en, _) in self._on_disk.items() if en is entry]
            for sequence in lost:
                del self._on_disk[sequence]
            self.fill(encoder, lost)
            return self._assemble(encoder, tokens)

    def _passes(self, encoder: ContextualEncoder, todo: list[Key]) -> Iterator[tuple[list[Key], np.ndarray]]:
        """The encoder over ``todo`` in fixed batches: (batch's sequences, their rows (tokens, L + 1, dim) float16)."""
        device = encoder.device
        bar = tqdm(total=len(todo), desc="encoder layers (cached once per sequence)", unit="seq", leave=False,
                   disable=len(todo) < 1000)
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i: i + self.batch_size]
            layers = encoder.encode(chunk)  # (b, L + 1, time, dim)
            lengths = torch.tensor([len(s) for s in chunk], device=device)  # (b,)
            mask = torch.arange(layers.size(2), device=device)[None, :] < lengths[:, None]  # (b, time)
            rows = layers.transpose(1, 2)[mask]  # (tokens of chunk, L + 1, dim), sequence after sequence
            yield chunk, rows.to(torch.float16).cpu().numpy()
            bar.update(len(chunk))
        bar.close()

    def _fill_disk(self, encoder: ContextualEncoder, todo: list[Key]) -> bool:
        """Serve ``todo`` from the disk store (written now if no process has); False if the store cannot."""
        device = encoder.device
        compute = str(torch.get_autocast_dtype(device.type)) if torch.is_autocast_enabled(device.type) else "float32"
        weights, sequences = encoder.cache_identity(), sequences_digest(todo)
        meta = dict(encoder.describe(), weights_sha256=weights, compute=compute,
                    bilm_parameters=sum(p.numel() for p in encoder.parameters()))
        entry = self.store.open_or_build(entry_key(weights, sequences, compute), [len(s) for s in todo],
                                         encoder.num_layers, encoder.output_dim,
                                         lambda: (rows for _, rows in self._passes(encoder, todo)), meta)
        if entry is None:
            return False
        self._on_disk.update((sequence, (entry, i)) for i, sequence in enumerate(todo))
        return True

    def _assemble(self, encoder: ContextualEncoder, tokens: Sequence[Sequence[str]]) -> torch.Tensor | None:
        """The cached layers of a batch, zero-padded: (batch, L + 1, time, dim) float32 on the encoder's device."""
        rows = []
        for t in tokens:
            key = tuple(t)
            if key in self._on_disk:
                entry, i = self._on_disk[key]
                rows.append(entry.sequence(i))  # (len, L + 1, dim) float16, memory-mapped
            elif key in self._memory:
                rows.append(self._memory[key])  # (len, L + 1, dim) float16
            else:
                return None
        if not rows:
            return None
        _, n_layers, dim = rows[0].shape
        time, device = max(len(t) for t in tokens), encoder.device
        if device.type == "cpu":  # straight into float32
            out = torch.zeros(len(rows), n_layers, time, dim)  # (batch, L + 1, time, dim)
            for i, r in enumerate(rows):
                out[i, :, : len(r)] = torch.from_numpy(r).transpose(0, 1)
            return out
        half = np.zeros((len(rows), time, n_layers, dim), dtype=np.float16)  # (batch, time, L + 1, dim)
        for i, r in enumerate(rows):
            half[i, : len(r)] = r  # one contiguous block per sequence
        half = torch.from_numpy(half).to(device).transpose(1, 2)  # (batch, L + 1, time, dim): half the bytes moved
        return torch.empty(half.shape, dtype=torch.float32, device=device).copy_(half)  # contiguous float32
