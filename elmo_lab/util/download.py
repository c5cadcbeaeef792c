"""A small cached downloader for model and data files (published ELMo weights, the SST archive, ...).

Why not a bare ``urlretrieve``: files here are large (up to ~375 MB), so a download must be resumable, verified
(size and, when known, SHA-256) and never leave a truncated file under the final name that a later run would trust.
Bytes are streamed to ``<dest>.part`` beside the destination and renamed into place only once complete and verified;
an interrupted download keeps its ``.part`` file and the next call continues it with an HTTP ``Range`` request.
A lock file (``<dest>.lock``) serialises concurrent downloads of the same file (parallel Hydra jobs asking for the
same published model): the first downloads, the others wait and then reuse its result.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock
from tqdm import tqdm

from elmo_lab.util.errors import UserError

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60.0


class DownloadError(RuntimeError, UserError):
    """A download that could not be completed or verified (offline, HTTP error, wrong size or checksum)."""


def cache_dir() -> Path:
    """The user cache: ``$ELMO_LAB_CACHE`` if set, else ``~/.cache/elmo_lab``."""
    env = os.environ.get("ELMO_LAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "elmo_lab"


def _open(request: urllib.request.Request):
    """Open ``request`` (a seam: tests replace it to simulate failures and servers without the network)."""
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: str | Path, sha256: str | None = None, size: int | None = None,
             progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` unless a complete copy is already there; return ``dest``.

    # Parameters
    url : ``http(s)://`` or ``file://`` address.
    dest : final path; its folder is created.  Only complete, verified files are ever written under this name.
    sha256 : expected hex digest, checked after download (``None``: not checked).
    size : expected byte count; otherwise the server's ``Content-Length`` is checked when it sends one.
    progress : show a tqdm progress bar on stderr.

    A file already at ``dest`` is reused when ``size`` is unknown or matches (it can only have got there by a
    complete download, since writes go through a rename).  Raises ``DownloadError`` with one line naming ``url``.
    """
    dest = Path(dest)
    if _complete(dest, size):
        return dest
    created = [p for p in [dest.parent, *dest.parent.parents] if not p.exists()]  # deepest first
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot download {url}: cannot create {dest.parent} ({e.strerror})") from None
    lock = dest.with_name(dest.name + ".lock")
    try:
        with FileLock(str(lock)):
            if _complete(dest, size):  # another process finished it while we waited
                return dest
            return _download_locked(url, dest, sha256, size, progress)
    except DownloadError:
        # a failed download leaves only what the next try resumes (a .part file), not a lock or empty folders
        lock.unlink(missing_ok=True)
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _complete(dest: Path, size: int | None) -> bool:
    return dest.is_file() and (size is None or dest.stat().st_size == size)


def _download_locked(url: str, dest: Path, sha256: str | None, size: int | None, progress: bool) -> Path:
    part = dest.with_name(dest.name + ".part")
    try:
        _fetch_to(url, part, size, progress, dest.name)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DownloadError(f"cannot download {url}: {e.reason} (offline or wrong address?)") from None
    except (OSError, http.client.HTTPException) as e:  # timeouts, dropped connections, disk full
        raise DownloadError(f"cannot download {url}: {e or type(e).__name__} (any partial data is kept in "
                            f"{part} and resumed on the next try)") from None
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise DownloadError(f"cannot download {url}: expected {size} bytes, got {got_size}")
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256.lower():
            part.unlink()
            raise DownloadError(f"cannot download {url}: sha256 mismatch, expected {sha256.lower()}, got {got}")
    os.replace(part, dest)
    return dest


def _fetch_to(url: str, part: Path, size: int | None, progress: bool, label: str) -> None:
    """Stream ``url`` into ``part``, continuing an existing partial file when the server honours ``Range``."""
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have == size:
        return  # complete from an earlier run; verified by the caller
    if size is not None and have > size:  # not a prefix of what we want: start again
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"User-Agent": "elmo_lab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = _open(request)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not have:
            raise
        part.unlink()  # "range not satisfiable": the partial file is not a prefix of this file; start again
        return _fetch_to(url, part, size, progress, label)
    with response:
        status = getattr(response, "status", None)
        resumed = have > 0 and status == 206
        if not resumed:
            have = 0  # the server sent the whole file (file:// URLs and servers without Range support)
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else size
        if size is not None and total is not None and total != size:
            raise DownloadError(f"cannot download {url}: expected {size} bytes, the server announces {total}")
        with open(part, "ab" if resumed else "wb") as out, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
            disable=not progress, file=sys.stderr, leave=False,
        ) as bar:
            _copy(response, out, bar)
    if total is not None and part.stat().st_size != total:
        raise DownloadError(f"cannot download {url}: connection ended after {part.stat().st_size} of {total} "
                            f"bytes (partial data kept in {part} and resumed on the next try)")


def _copy(source: BinaryIO, out: BinaryIO, bar: tqdm) -> None:
    for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
        out.write(chunk)
        bar.update(len(chunk))


__all__ = ["DownloadError", "cache_dir", "download", "sha256_of"]
