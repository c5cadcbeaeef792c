"""Pretrained word vectors (GloVe, word2vec) as a word list and a float32 matrix, and their lookup by word.

``task.word_vectors`` names them: a name from ``elmo_lab.data.word_vector_sources.NAMED`` (``glove_6b_50d``, ...;
fetched once into the cache) or the path of a text file in either common format:

- GloVe: one vector per line, ``word v1 v2 ... v_d``, fields separated by single spaces or any whitespace;
- word2vec text: the same, after a first line ``<count> <dim>`` (two integers), which is then checked.

Every row must have the first row's width and only finite numbers; a row that does not is a ``WordVectorError``
naming ``file:line``.  Words appearing twice keep their first vector (as the GloVe and word2vec readers of the common
libraries do).  Blank lines are skipped.

Case.  Lookup follows the way the vectors were trained: ``lowercased`` vectors (GloVe 6B, or a file whose words hold
no upper-case letter) are looked up with the lowercased word, cased ones (GloVe 840B) with the word as written.

This module reads and looks up; the task's embedding matrix is made by ``elmo_lab.modules.word_embedding``.  It
imports numpy only, so that config validation (``peek_dimension``) stays light.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from elmo_lab.data.errors import DataError


class WordVectorError(DataError):
    """A word-vectors file or name that cannot be used (missing, malformed, unknown)."""


@dataclass
class WordVectors:
    """``words[i]`` has the vector ``matrix[i]`` (float32, (len(words), dim)); ``lowercased``: look words up
    lowercased; ``source``: the name or path they came from."""

    words: list[str]
    matrix: np.ndarray  # (words, dim) float32
    lowercased: bool
    source: str
    _index: dict[str, int] | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        """word -> row (the first row of a repeated word)."""
        if self._index is None:
            index: dict[str, int] = {}
            for i, word in enumerate(self.words):
                index.setdefault(word, i)
            self._index = index
        return self._index

    def key(self, word: str) -> str:
        """The form under which ``word`` is looked up (lowercased for lowercased vectors)."""
        return word.lower() if self.lowercased else word

    def rows_of(self, words: Sequence[str]) -> list[int | None]:
        """The row of each word, None where the vectors have none."""
        index = self.index()
        return [index.get(self.key(w)) for w in words]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file; a decoding error names the line."""
    number = 0
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                yield number, line
    except UnicodeDecodeError:
        raise WordVectorError(f"{path}:{number + 1}: not UTF-8 text; expected a GloVe or word2vec text file") \
            from None
    except OSError as e:
        raise WordVectorError(f"{path}: cannot read word vectors ({e.strerror})") from None


def _word2vec_header(fields: list[str]) -> tuple[int, int] | None:
    """``(count, dim)`` when a first line is a word2vec header, else None."""
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        return int(fields[0]), int(fields[1])
    return None


def _numbers(fields: list[str], where: str) -> np.ndarray:
    try:
        values = np.asarray(fields, dtype=np.float32)  # (dim,)
    except ValueError:
        bad = next(f for f in fields if not _is_number(f))
        raise WordVectorError(f"{where}: {bad!r} is not a number; expected a word and {len(fields)} numbers") \
            from None
    if not np.isfinite(values).all():
        raise WordVectorError(f"{where}: a value is not finite (nan or inf)")
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_vector_lines(lines: Iterable[tuple[int, str]], where: str, words_with_spaces: bool = False) \
        -> tuple[list[str], np.ndarray]:
    """Words and their (n, dim) float32 matrix from numbered lines of a GloVe or word2vec text file.

    ``words_with_spaces``: the last ``dim`` fields are the numbers and the rest, joined by spaces, the word (GloVe
    840B has a few such words); otherwise a row of another width is an error.
    """
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim, expected, first = None, None, 0
    for number, line in lines:
        fields = line.split()
        if not fields:
            continue
        if dim is None and expected is None and not words:
            header = _word2vec_header(fields)
            if header is not None:
                expected, dim = header
                first = number
                continue
        if dim is None:
            dim, first = len(fields) - 1, number
            if dim < 1:
                raise WordVectorError(f"{where}:{number}: expected a word and its numbers, got {line.strip()!r}")
        if len(fields) != dim + 1 and not (words_with_spaces and len(fields) > dim + 1):
            raise WordVectorError(f"{where}:{number}: {len(fields) - 1} values, expected {dim} (the width of line "
                                  f"{first}); every row needs a word and the same number of values")
        words.append(" ".join(fields[:-dim]))
        rows.append(_numbers(fields[-dim:], f"{where}:{number}"))
    if not words:
        raise WordVectorError(f"{where}: no word vectors in the file; expected lines 'word v1 v2 ...'")
    if expected is not None and expected != len(words):
        raise WordVectorError(f"{where}: the word2vec header says {expected} vectors, the file has {len(words)}")
    return words, np.stack(rows)


def read_text_vectors(path: str | Path) -> WordVectors:
    """A GloVe or word2vec text file; ``lowercased`` when none of its words holds an upper-case letter."""
    path = Path(path)
    if not path.is_file():
        raise WordVectorError(f"{path}: word vectors file not found")
    words, matrix = parse_vector_lines(_lines(path), str(path))
    return WordVectors(words, matrix, lowercased=all(w == w.lower() for w in words), source=str(path))


def peek_dimension(path: str | Path) -> int:
    """The width of a vectors text file from its first lines (the word2vec header or the first row), without
    reading the rest: what config validation needs."""
    path = Path(path)
    if not path.is_file():
        raise WordVectorError(f"{path}: word vectors file not found")
    for number, line in _lines(path):
        fields = line.split()
        if not fields:
            continue
        header = _word2vec_header(fields)
        if header is not None:
            return header[1]
        if len(fields) < 2:
            raise WordVectorError(f"{path}:{number}: expected a word and its numbers, got {line.strip()!r}")
        return len(fields) - 1
    raise WordVectorError(f"{path}: no word vectors in the file; expected lines 'word v1 v2 ...'")
