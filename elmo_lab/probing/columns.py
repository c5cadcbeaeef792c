"""CoNLL-style column files: one token per line, columns separated by spaces or tabs, column 1 the token, a blank
line between sentences, ``-DOCSTART-`` lines skipped; one column read as the label of each token."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from elmo_lab.data.errors import DataError


@dataclass(frozen=True)
class LabelledSentence:
    """One sentence: its tokens and one label per token."""

    tokens: list[str]
    labels: list[str]


def parse_columns(lines: Iterable[str], where: str, column: int) -> list[LabelledSentence]:
    """Sentences of a CoNLL-style file, labelled with column ``column`` (1-based; column 1 is the token).

    A line with fewer columns is a ``DataError`` naming ``where:line``; so is a file without a sentence.
    """
    sentences: list[LabelledSentence] = []
    tokens: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()  # spaces and tabs
        if not fields or fields[0] == "-DOCSTART-":
            if tokens:
                sentences.append(LabelledSentence(tokens, labels))
                tokens, labels = [], []
            continue
        if len(fields) < column:
            raise DataError(f"{where}:{number}: task.column={column} but the line has {len(fields)} column(s): "
                            f"{line.strip()[:60]!r}")
        tokens.append(fields[0])
        labels.append(fields[column - 1])
    if tokens:
        sentences.append(LabelledSentence(tokens, labels))
    if not sentences:
        raise DataError(f"{where}: no sentences (expected one token per line, columns separated by spaces)")
    return sentences


def read_columns(path: Path, column: int, member: str | None = None) -> list[LabelledSentence]:
    """``parse_columns`` of a file, or of the file ``member`` inside the zip (or wheel) ``path``."""
    where = str(path) if member is None else f"{path}:{member}"
    try:
        if member is None:
            data = path.read_bytes()
        else:
            with zipfile.ZipFile(path) as archive:
                data = archive.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise DataError(f"{where}: cannot read ({error})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{where}: not UTF-8 text (byte {error.start})") from None
    return parse_columns(io.StringIO(text), where, column)
