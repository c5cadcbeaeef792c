"""``python -m elmo_lab cache info|clear``: inspect and clear the shared biLM layer cache (``elmo_lab.cache.store``).

    python -m elmo_lab cache info [--dir DIR] [--verify]       # one line per entry, least recently used first
    python -m elmo_lab cache clear [--dir DIR]                 # every entry
    python -m elmo_lab cache clear [--dir DIR] KEY [KEY ...]   # the entries named (a unique key prefix suffices)
    python -m elmo_lab cache clear [--dir DIR] --keep-gb 10    # least recently used entries until ≤ 10 GB remain

``--dir`` defaults to ``$ELMO_LAB_LAYERS`` or ``$ELMO_LAB_CACHE/layers`` (where ``bilm.cache_dir: null`` puts the
layers).  Entries that a running job holds locked (being written) are skipped by ``--keep-gb``; ``clear`` without it
waits for them.  Bad input (an unknown key, a missing ``--dir``) is one ``error: ...`` line and exit status 2.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

from elmo_lab.util.errors import UserError
from elmo_lab.cache.store import GB, CorruptEntryError, LayerEntry, LayerStore, default_root


class CacheCommandError(ValueError, UserError):
    """Bad ``cache`` command input (an unknown key, a missing directory, a negative size)."""


def add_cache_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    """Declare the ``cache`` actions and their arguments on ``parser``; return the function that runs the command."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="list the entries, least recently used first",
                              description="list the entries, least recently used first")
    info.add_argument("--verify", action="store_true", help="check every entry's checksums (reads them all)")
    clear = actions.add_parser("clear", help="remove entries (all of them unless KEYs or --keep-gb say otherwise)",
                               description="remove entries (all of them unless KEYs or --keep-gb say otherwise)")
    clear.add_argument("keys", nargs="*", metavar="KEY", help="only these entries (key prefixes, as `info` prints)")
    clear.add_argument("--keep-gb", type=float, default=None, metavar="GB",
                       help="evict least recently used entries until at most GB remain")
    for action in (info, clear):
        action.add_argument("--dir", type=Path, default=None,
                            help="the cache directory (bilm.cache_dir; default $ELMO_LAB_LAYERS or "
                                 "$ELMO_LAB_CACHE/layers)")
    return run_cache


def _describe(manifest: dict | None) -> str:
    if manifest is None:
        return "unreadable manifest"
    options = manifest.get("options") or {}
    shape = f"{manifest.get('n_layers')}x{manifest.get('dim')}"
    arch = manifest.get("arch") or (f"lstm {options.get('lstm_dim')}/{options.get('projection_dim')}" if options
                                    else "?")
    return (f"{manifest.get('bilm') or '?'} ({arch}, {manifest.get('compute')}), {manifest.get('sequences')} seqs, "
            f"{manifest.get('tokens')} tokens, layers {shape}")


def _info(store: LayerStore, verify: bool) -> None:
    entries = store.entries()
    total = sum(e.size for e in entries)
    print(f"{store.root}: {len(entries)} entries, {total / GB:.2f} GB")
    for e in entries:
        status = ""
        if verify:
            try:
                LayerEntry(e.path).verify()
                status = "  ok"
            except CorruptEntryError as ex:
                status = f"  CORRUPT ({ex})"
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
        print(f"  {e.key[:12]}  {e.size / GB:7.3f} GB  used {used}  {_describe(e.manifest)}{status}")


def _clear(store: LayerStore, keys: list[str], keep_gb: float | None) -> None:
    if keep_gb is not None:
        if keys:
            raise CacheCommandError("cache clear: give either KEYs or --keep-gb, not both")
        if keep_gb < 0:
            raise CacheCommandError(f"cache clear: --keep-gb must be >= 0, got {keep_gb}")
        removed = store.evict(int(keep_gb * GB))
    else:
        entries = store.entries()
        chosen = [e.key for e in entries]
        if keys:
            chosen = []
            for prefix in keys:
                matches = [e.key for e in entries if e.key.startswith(prefix.lower())]
                if len(matches) != 1:
                    found = "no entry" if not matches else f"{len(matches)} entries"
                    raise CacheCommandError(f"cache clear: {found} in {store.root} starts with {prefix!r}")
                chosen.append(matches[0])
        removed = [key for key in chosen if store.remove(key)]
    leftovers = store.clear_leftovers() if not keys else 0
    extra = f" and {leftovers} unfinished writes" if leftovers else ""
    print(f"{store.root}: removed {len(removed)} entries{extra}; {len(store.entries())} left")


def run_cache(args: argparse.Namespace) -> None:
    """The ``cache`` command."""
    if args.dir is not None and not args.dir.expanduser().is_dir():
        raise CacheCommandError(f"cache {args.action}: --dir {args.dir} is not a directory")
    root = args.dir if args.dir is not None else default_root()
    if root.exists() and not root.is_dir():  # the default may come from $ELMO_LAB_LAYERS; absent is just empty
        raise CacheCommandError(f"cache {args.action}: the layer store {root} ($ELMO_LAB_LAYERS or "
                                "$ELMO_LAB_CACHE/layers) is not a directory")
    store = LayerStore(root)
    if args.action == "info":
        _info(store, args.verify)
    else:
        _clear(store, args.keys, args.keep_gb)
