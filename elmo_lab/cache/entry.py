"""One entry of the biLM layer cache on disk (``elmo_lab.cache.store``): its files, how they are written, checked
and read.

``<key>/layers.npy`` holds float16 (tokens, L + 1, dim): each sequence's rows are one contiguous block, sequences in
the order the entry was built with; ``offsets.npy`` int64 (sequences + 1,) where each sequence starts;
``manifest.json`` the shapes, the file sizes, the offsets' SHA-256, a CRC32 per chunk of the layers' bytes and a
checksum of itself.  Opening an entry checks everything but the layers' bytes (cheap); each chunk of those is checked
the first time a read touches it, so a corrupt entry is found without reading a large entry twice.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

FORMAT = 1  # bump when the layout or the meaning of a key changes
CHUNK_BYTES = 64 << 20  # one CRC32 per chunk of layers.npy's data, checked on first read
MANIFEST, LAYERS, OFFSETS = "manifest.json", "layers.npy", "offsets.npy"


class CorruptEntryError(RuntimeError):
    """An entry whose files do not match its manifest (truncated, overwritten, half-removed); ``path`` is the entry."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def _self_checksum(manifest: Mapping[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) from a .npy header."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f)
        if fortran:
            raise ValueError(f"{path}: unexpected Fortran order")
        return shape, dtype, f.tell()


class LayerEntry:
    """A complete entry, opened for reading: ``sequence(i)`` is the i-th sequence's (length, L + 1, dim) float16 rows
    (a view of the memory map).  Checks each chunk's CRC the first time a read touches it."""

    def __init__(self, path: Path, expected_lengths: Sequence[int] | None = None) -> None:
        self.path, self.key, self.built = path, path.name, False
        try:
            self._open(expected_lengths)
        except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as e:
            raise CorruptEntryError(f"{path}: unreadable entry ({type(e).__name__}: {e})", path) from e

    def _open(self, expected_lengths: Sequence[int] | None) -> None:
        path = self.path
        manifest = json.loads((path / MANIFEST).read_text())
        if manifest.get("checksum") != _self_checksum(manifest):
            raise CorruptEntryError(f"{path / MANIFEST}: checksum mismatch", path)
        if manifest["format"] != FORMAT or manifest["key"] != self.key:
            raise CorruptEntryError(f"{path / MANIFEST}: format or key mismatch", path)
        for name in (LAYERS, OFFSETS):
            if (path / name).stat().st_size != manifest["files"][name]:
                raise CorruptEntryError(f"{path / name}: size differs from the manifest (truncated?)", path)
        if hashlib.sha256((path / OFFSETS).read_bytes()).hexdigest() != manifest["offsets_sha256"]:
            raise CorruptEntryError(f"{path / OFFSETS}: checksum mismatch", path)
        self.manifest, self.offsets = manifest, np.load(path / OFFSETS)  # offsets: (sequences + 1,)
        shape, dtype, data_offset = _read_npy_header(path / LAYERS)
        n_tokens, n_layers, dim = manifest["tokens"], manifest["n_layers"], manifest["dim"]
        if shape != (n_tokens, n_layers, dim) or dtype != np.float16 or int(self.offsets[-1]) != n_tokens:
            raise CorruptEntryError(f"{path}: shapes differ from the manifest", path)
        if expected_lengths is not None and not np.array_equal(np.diff(self.offsets), expected_lengths):
            raise CorruptEntryError(f"{path}: sequence lengths differ from the ones asked for", path)
        self.row_bytes = n_layers * dim * 2
        # copy-on-write: the file is never written, but torch.from_numpy may wrap the rows without a warning
        mapped = np.memmap(path / LAYERS, dtype=np.uint8, mode="c", offset=data_offset,
                           shape=(n_tokens * self.row_bytes,))
        self._raw = np.asarray(mapped)  # a plain ndarray over the map: slicing it is cheaper than slicing a memmap
        self.layers = self._raw.view(np.float16).reshape(n_tokens, n_layers, dim)  # (tokens, L + 1, dim)
        self._starts: list[int] = self.offsets.tolist()
        self._crcs: list[int] = manifest["chunk_crc32"]
        self._chunk: int = manifest["chunk_bytes"]
        if len(self._crcs) != -(-len(self._raw) // self._chunk):
            raise CorruptEntryError(f"{path / MANIFEST}: {len(self._crcs)} chunk CRCs for {len(self._raw)} bytes", path)
        self._checked = [False] * len(self._crcs)
        self._unchecked = len(self._crcs)

    def __reduce__(self) -> tuple:  # pickled (DataLoader workers, spawn): reopen the memory map on the other side
        return (LayerEntry, (self.path,))

    @property
    def num_sequences(self) -> int:
        return len(self.offsets) - 1

    def sequence(self, i: int) -> np.ndarray:
        """The i-th sequence's layers: (length, L + 1, dim) float16."""
        start, end = self._starts[i], self._starts[i + 1]
        if self._unchecked:
            self._check_chunks(start * self.row_bytes, end * self.row_bytes)
        return self.layers[start:end]  # (length, L + 1, dim)

    def _check_chunks(self, start: int, end: int) -> None:
        for c in range(start // self._chunk, (max(end, start + 1) - 1) // self._chunk + 1):
            if not self._checked[c]:
                chunk = self._raw[c * self._chunk: (c + 1) * self._chunk]
                if zlib.crc32(chunk) != self._crcs[c]:
                    raise CorruptEntryError(f"{self.path / LAYERS}: chunk {c} fails its CRC", self.path)
                self._checked[c] = True
                self._unchecked -= 1

    def verify(self) -> None:
        """Check every chunk now (``cache info --verify``)."""
        self._check_chunks(0, len(self._raw))


class _ChunkedCrc:
    """CRC32 of consecutive fixed-size chunks of a byte stream fed in arbitrary pieces."""

    def __init__(self, chunk: int) -> None:
        self.chunk, self.crcs, self._crc, self._filled = chunk, [], 0, 0

    def update(self, data: memoryview) -> None:
        while len(data):
            take = min(len(data), self.chunk - self._filled)
            self._crc, self._filled = zlib.crc32(data[:take], self._crc), self._filled + take
            data = data[take:]
            if self._filled == self.chunk:
                self.crcs.append(self._crc)
                self._crc, self._filled = 0, 0

    def finish(self) -> list[int]:
        if self._filled:
            self.crcs.append(self._crc)
        return self.crcs


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_entry(folder: Path, key: str, lengths: Sequence[int], n_layers: int, dim: int,
                 blocks: Iterable[np.ndarray], meta: Mapping[str, Any]) -> None:
    """Write an entry's files into ``folder`` from ``blocks``: float16 (rows, L + 1, dim) arrays, in order, that
    together hold every sequence's rows; fsync them."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)  # (sequences + 1,)
    np.cumsum(lengths, out=offsets[1:])
    n_tokens = int(offsets[-1])
    crc, rows = _ChunkedCrc(CHUNK_BYTES), 0
    with open(folder / LAYERS, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False,
                "shape": (n_tokens, n_layers, dim)})
        for block in blocks:
            if block.dtype != np.float16 or block.shape[1:] != (n_layers, dim):
                raise ValueError(f"layer block {block.dtype} {block.shape} does not fit (*, {n_layers}, {dim})")
            data = memoryview(np.ascontiguousarray(block)).cast("B")
            f.write(data)
            crc.update(data)
            rows += block.shape[0]
        if rows != n_tokens:
            raise ValueError(f"the biLM passes gave {rows} rows for {n_tokens} tokens")
        f.flush()
        os.fsync(f.fileno())
    with open(folder / OFFSETS, "wb") as f:
        np.save(f, offsets)
        f.flush()
        os.fsync(f.fileno())
    manifest = dict(meta, format=FORMAT, key=key, build_id=uuid.uuid4().hex, created=time.time(),
                    sequences=len(lengths), tokens=n_tokens, n_layers=n_layers, dim=dim, dtype="float16",
                    files={LAYERS: (folder / LAYERS).stat().st_size, OFFSETS: (folder / OFFSETS).stat().st_size},
                    offsets_sha256=hashlib.sha256((folder / OFFSETS).read_bytes()).hexdigest(),
                    chunk_bytes=crc.chunk, chunk_crc32=crc.finish())
    manifest["checksum"] = _self_checksum(manifest)
    with open(folder / MANIFEST, "w") as f:
        json.dump(manifest, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(folder)
