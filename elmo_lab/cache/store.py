"""An on-disk store of frozen biLM layers, shared by every run and process that reads the same biLM on the same text.

A frozen, stateless biLM gives each token sequence the same layers in every run of a sweep, so the layers are
computed once and kept on disk, in ``bilm.cache_dir`` (default ``$ELMO_LAB_LAYERS``, else ``$ELMO_LAB_CACHE/layers``).
An entry is named by a digest of what determines its values and nothing else (not file names, not run directories):

- the biLM's weights and options (``weights_digest``: SHA-256 of every state_dict tensor's raw bytes, memoised per
  module until a tensor changes; a fine-tuned biLM has other weights, hence another entry),
- the token sequences themselves, sorted (``sequences_digest``), and the precision they were computed in.

An entry (``elmo_lab.cache.entry``) is a directory ``<key>/`` holding the float16 layers of every token, one
contiguous block per sequence, which readers memory-map and read one batch at a time: an entry never has to fit in RAM.

Concurrency (joblib, SLURM arrays, DDP ranks): one file lock per entry; the first process builds the entry into a
temporary directory beside it (written, fsynced, renamed into place), the others wait and then read it.  A reader
therefore never sees a partial entry.  A bad entry (a killed writer's leftovers, a truncated or corrupt file, a
manifest that does not match) is removed and rebuilt.  After each build, the least recently used entries are evicted
until the store is under ``bilm.cache_max_gb`` (an entry is never evicted by its own build; an evicted entry that
another process has open stays readable by it).  ``python -m elmo_lab cache info|clear`` inspects and clears it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from filelock import FileLock, Timeout

from elmo_lab.cache.entry import FORMAT, MANIFEST, CorruptEntryError, LayerEntry, fsync_dir, write_entry

log = logging.getLogger(__name__)

FREE_MARGIN_BYTES = 256 << 20  # keep this much disk free beyond a new entry
GB = 1 << 30
LOCKS = "locks"
KEY_RE = re.compile(r"^[0-9a-f]{40}$")
_DIGESTS: "weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple, str]]" = weakref.WeakKeyDictionary()


def default_root() -> Path:
    """``$ELMO_LAB_LAYERS`` if set (e.g. a cluster's scratch disk, while downloads stay in the user cache), else
    ``$ELMO_LAB_CACHE/layers`` (``~/.cache/elmo_lab/layers`` when neither variable is set)."""
    from elmo_lab.util.download import cache_dir

    layers = os.environ.get("ELMO_LAB_LAYERS")
    return Path(layers).expanduser() if layers else cache_dir() / "layers"


# --- keys -----------------------------------------------------------------------------------------------------------
def weights_digest(bilm: torch.nn.Module, config: dict | None = None) -> str:
    """SHA-256 of the biLM's options (or of ``config``, for an encoder without ``options``: everything besides the
    weights that changes its output) and of every state_dict tensor (name, dtype, shape, raw bytes).  Memoised per
    module: recomputed only when a tensor was replaced or changed in place (its version counter moved)."""
    if config is None:
        options = getattr(bilm, "options", None)
        config = asdict(options) if options is not None else None
    described = json.dumps(config, sort_keys=True)
    state = bilm.state_dict(keep_vars=True)
    signature = (described, tuple((name, t.data_ptr(), t._version) for name, t in state.items()))
    memo = _DIGESTS.get(bilm)
    if memo is not None and memo[0] == signature:
        return memo[1]
    h = hashlib.sha256()
    h.update(described.encode())
    for name in sorted(state):
        t = state[name].detach().to("cpu").contiguous().reshape(-1)  # (numel,)
        h.update(f"{name}|{t.dtype}|{tuple(state[name].shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().data)
    digest = h.hexdigest()
    _DIGESTS[bilm] = (signature, digest)
    return digest


def sequences_digest(sequences: Sequence[Sequence[str]]) -> str:
    """SHA-256 of the token sequences in the given order (the tokens themselves: tokenisation changes the key)."""
    return hashlib.sha256(json.dumps(sequences, ensure_ascii=False).encode()).hexdigest()


def entry_key(weights: str, sequences: str, compute: str) -> str:
    """The entry name for a biLM (``weights_digest``), its sorted sequences and its compute precision."""
    text = json.dumps({"format": FORMAT, "weights": weights, "sequences": sequences, "compute": compute})
    return hashlib.sha256(text.encode()).hexdigest()[:40]


# --- the store ------------------------------------------------------------------------------------------------------
@dataclass
class EntryInfo:
    """What ``cache info`` lists about an entry."""

    key: str
    path: Path
    size: int  # bytes on disk (all files)
    last_used: float  # the entry directory's mtime, touched at every open
    manifest: dict | None  # None when unreadable


class LayerStore:
    """The entries under ``root``, at most ``max_bytes`` in all (LRU eviction after each build; None: no cap).

    # Parameters
    root : the cache directory (created on first use).
    max_bytes : the size cap in bytes, or None.
    label : a name for the biLM (``bilm.spec``), recorded in new manifests for ``cache info`` (not part of a key).
    """

    def __init__(self, root: str | Path, max_bytes: int | None = None, label: str = "") -> None:
        self.root, self.max_bytes, self.label = Path(root).expanduser(), max_bytes, label

    @classmethod
    def from_config(cls, bilm: Mapping[str, Any]) -> "LayerStore | None":
        """The store the ``bilm.*`` config asks for, or None (``cache`` off, or ``cache_on_disk`` false or absent:
        the in-memory cache of one run)."""
        from elmo_lab.config.schema import ConfigError

        if not bilm.get("cache", False) or not bilm.get("cache_on_disk", False):
            return None
        max_gb = bilm.get("cache_max_gb")
        if max_gb is not None and not max_gb > 0:
            raise ConfigError(f"bilm.cache_max_gb: must be > 0 (or null: no cap), got {max_gb}")
        root = bilm.get("cache_dir") or default_root()
        return cls(root, None if max_gb is None else int(max_gb * GB), label=str(bilm.get("spec", "")))

    # --- reading and building -----------------------------------------------------------------------------------
    def _lock(self, key: str) -> FileLock:
        (self.root / LOCKS).mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / LOCKS / f"{key}.lock"))

    def open_or_build(self, key: str, lengths: Sequence[int], n_layers: int, dim: int,
                      compute: Callable[[], Iterator[np.ndarray]], meta: Mapping[str, Any] = ()) -> LayerEntry | None:
        """The entry ``key``, built from ``compute()`` (float16 (rows, L + 1, dim) blocks in sequence order) by this
        process unless another one has built or is building it.  None when the disk cannot take it (no space, not
        writable): the caller keeps the layers in memory instead."""
        needed = sum(lengths) * n_layers * dim * 2
        try:
            lock = self._lock(key)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                log.info("waiting for another process to write biLM layers %s (lock %s)", key[:12], lock.lock_file)
                lock.acquire()
        except OSError as e:
            log.warning("biLM layer cache %s is not usable (%s); keeping the layers in memory", self.root, e)
            return None
        try:
            entry = self._open(key, lengths)
            if entry is None:
                free = shutil.disk_usage(self.root).free
                if free < needed + FREE_MARGIN_BYTES:
                    log.warning("biLM layer cache %s: %.2f GB free, %.2f GB needed; keeping the layers in memory",
                                self.root, free / GB, needed / GB)
                    return None
                try:
                    self._build(key, lengths, n_layers, dim, compute, dict(meta, bilm=self.label))
                except OSError as e:
                    log.warning("biLM layer cache %s: writing failed (%s); keeping the layers in memory", self.root, e)
                    return None
                entry = self._open(key, lengths)
                if entry is None:
                    raise CorruptEntryError(f"{self.root / key}: unreadable right after writing it")
                entry.built = True
            os.utime(entry.path)  # last used (LRU)
        finally:
            lock.release()
        if entry.built and self.max_bytes is not None:
            self.evict(self.max_bytes, keep={key})
        return entry

    def _open(self, key: str, lengths: Sequence[int] | None) -> LayerEntry | None:
        """The complete entry ``key`` (caller holds its lock), or None; a bad one is removed."""
        path = self.root / key
        if not path.is_dir():
            return None
        try:
            return LayerEntry(path, lengths)
        except CorruptEntryError as e:
            log.warning("biLM layer cache: %s; rebuilding it", e)
            self._remove_path(path)
            return None

    def _build(self, key: str, lengths: Sequence[int], n_layers: int, dim: int,
               compute: Callable[[], Iterator[np.ndarray]], meta: Mapping[str, Any]) -> None:
        for stale in self.root.glob(f".{key}.*.tmp"):  # a killed writer's leftovers (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.root / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        try:
            start = time.perf_counter()
            write_entry(tmp, key, lengths, n_layers, dim, compute(), meta)
            try:
                os.rename(tmp, self.root / key)
            except OSError:
                if not (self.root / key).is_dir():  # not a lost race with an unlocked writer: a real error
                    raise
            fsync_dir(self.root)
            log.info("biLM layers %s written to %s in %.1f s (%.2f GB)", key[:12], self.root,
                     time.perf_counter() - start, sum(lengths) * n_layers * dim * 2 / GB)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def discard(self, entry: LayerEntry) -> None:
        """Remove ``entry`` (found corrupt while reading) unless another process has rebuilt it meanwhile."""
        with self._lock(entry.key):
            try:
                current = json.loads((entry.path / MANIFEST).read_text()).get("build_id")
            except (OSError, ValueError):
                current = None
            if current in (None, entry.manifest.get("build_id")):
                self._remove_path(entry.path)

    # --- inspecting and clearing --------------------------------------------------------------------------------
    def entries(self) -> list[EntryInfo]:
        """Every entry directory, least recently used first."""
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.iterdir():
            if not KEY_RE.match(path.name) or not path.is_dir():
                continue
            try:
                size = sum(f.stat().st_size for f in path.iterdir())
                last_used = path.stat().st_mtime
            except OSError:  # removed meanwhile
                continue
            try:
                manifest = json.loads((path / MANIFEST).read_text())
            except (OSError, ValueError):
                manifest = None
            out.append(EntryInfo(path.name, path, size, last_used, manifest))
        return sorted(out, key=lambda e: e.last_used)

    def remove(self, key: str, wait: bool = True) -> bool:
        """Remove entry ``key``; with ``wait=False`` skip it (False) when another process holds its lock."""
        lock = self._lock(key)
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            return False
        try:
            return self._remove_path(self.root / key)
        finally:
            lock.release()

    def _remove_path(self, path: Path) -> bool:
        """Rename the entry out of sight first (atomic), then delete it; open memory maps stay valid (POSIX)."""
        trash = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.trash")
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return False
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def evict(self, max_bytes: int, keep: Iterable[str] = ()) -> list[str]:
        """Remove least recently used entries (not in ``keep``, not locked) until the store holds ≤ ``max_bytes``;
        returns the removed keys."""
        entries, keep = self.entries(), set(keep)
        total, removed = sum(e.size for e in entries), []
        for e in entries:
            if total <= max_bytes:
                break
            if e.key not in keep and self.remove(e.key, wait=False):
                total -= e.size
                removed.append(e.key)
        if total > max_bytes:
            log.warning("biLM layer cache %s holds %.2f GB, over its %.2f GB cap (entries in use are kept)",
                        self.root, total / GB, max_bytes / GB)
        return removed

    def clear_leftovers(self) -> int:
        """Delete temporary and trash directories of killed writers (keys nobody holds a lock on); returns how many."""
        count = 0
        for path in list(self.root.glob(".*.tmp")) + list(self.root.glob(".*.trash")):
            key = path.name.split(".")[1]
            lock = self._lock(key)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            try:
                shutil.rmtree(path, ignore_errors=True)
                count += 1
            finally:
                lock.release()
        return count
