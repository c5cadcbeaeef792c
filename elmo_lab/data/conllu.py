"""The CoNLL-U format of Universal Dependencies (https://universaldependencies.org/format.html), read into
:class:`~elmo_lab.data.treebank.DependencySentence`, so any UD treebank can be probed.

One word per line, ten tab-separated fields ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``; lines starting
with ``#`` are comments (``# sent_id = ...`` names the sentence, ``# text = ...`` is kept in ``extra["text"]``); a
blank line ends a sentence.  Multi-word token ranges (ID ``1-2``) and empty nodes (ID ``3.1``) are not words of the
basic tree and are skipped.  Word IDs must run 1, 2, ... within a sentence and every HEAD must be a word of the
sentence or 0 (the root).  Anything else is a :class:`DataError` naming ``file:line`` and what was expected.
"""
from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from elmo_lab.data.errors import DataError
from elmo_lab.data.files import read_text_file
from elmo_lab.data.treebank import DependencySentence

__all__ = ["CONLLU_FIELDS", "format_conllu", "parse_conllu", "read_conllu", "write_conllu"]

CONLLU_FIELDS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")


class _SentenceBuilder:
    """The words of the sentence being read, with the line of each (head errors are reported at their line)."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.lines: list[int] = []
        self.comments: dict[str, str] = {}

    def add_comment(self, line: str) -> None:
        key, sep, value = line[1:].partition("=")
        if sep and key.strip() in ("sent_id", "text"):
            self.comments[key.strip()] = value.strip()

    def build(self, where: str) -> DependencySentence:
        size = len(self.rows)
        heads = []
        for row, number in zip(self.rows, self.lines):
            try:
                head = int(row[6])
            except ValueError:
                raise DataError(f"{where}:{number}: HEAD (field 7) must be an integer word index, got "
                                f"{row[6]!r}") from None
            if not 0 <= head <= size:
                raise DataError(f"{where}:{number}: HEAD {head} is outside the sentence of {size} words; expected "
                                f"0 (root) to {size}")
            heads.append(head)
        extra = {"text": self.comments["text"]} if "text" in self.comments else {}
        return DependencySentence(
            tokens=[r[1] for r in self.rows], lemmas=[r[2] for r in self.rows], upos=[r[3] for r in self.rows],
            xpos=[r[4] for r in self.rows], heads=heads, relations=[r[7] for r in self.rows],
            sentence_id=self.comments.get("sent_id", ""), extra=extra, source=where, line=self.lines[0])


def parse_conllu(lines: Iterable[str], where: str) -> list[DependencySentence]:
    """Parse CoNLL-U lines (format: module docstring); ``where`` names the file in errors (``data/en-ud-dev.conllu``).

    Errors (:class:`DataError`, ``where:line: ...``): a word line without exactly ten tab-separated fields, an ID that
    is not an integer (nor a range or empty node), IDs out of order, a HEAD that is not an integer or not in the
    sentence, an empty file.
    """
    sentences: list[DependencySentence] = []
    current = _SentenceBuilder()
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if current.rows:
                sentences.append(current.build(where))
            current = _SentenceBuilder()
            continue
        if line.startswith("#"):
            current.add_comment(line)
            continue
        fields = line.split("\t")
        if len(fields) != len(CONLLU_FIELDS):
            raise DataError(f"{where}:{number}: expected {len(CONLLU_FIELDS)} tab-separated fields "
                            f"({' '.join(CONLLU_FIELDS)}), got {len(fields)}: {line[:60]!r}")
        word_id = fields[0]
        if "-" in word_id or "." in word_id:  # multi-word token range or empty node: not a word of the basic tree
            continue
        try:
            index = int(word_id)
        except ValueError:
            raise DataError(f"{where}:{number}: ID (field 1) must be an integer, a range like 1-2 or an empty node "
                            f"like 3.1, got {word_id!r}") from None
        if index != len(current.rows) + 1:
            raise DataError(f"{where}:{number}: word ID {index} out of order; expected {len(current.rows) + 1}")
        current.rows.append(fields)
        current.lines.append(number)
    if current.rows:
        sentences.append(current.build(where))
    if not sentences:
        raise DataError(f"{where}: no sentences (expected CoNLL-U: one word per line, 10 tab-separated fields, "
                        "a blank line after each sentence)")
    return sentences


def read_conllu(path: str | Path) -> list[DependencySentence]:
    """The sentences of the CoNLL-U file ``path`` (see :func:`parse_conllu`)."""
    path = Path(path)
    return parse_conllu(io.StringIO(read_text_file(path, "a CoNLL-U file")), str(path))


def format_conllu(sentences: Iterable[DependencySentence]) -> str:
    """``sentences`` as CoNLL-U text (FEATS, DEPS and MISC empty: ``_``); :func:`parse_conllu` reads it back."""
    out = io.StringIO()
    for sentence in sentences:
        if sentence.sentence_id:
            out.write(f"# sent_id = {sentence.sentence_id}\n")
        if "text" in sentence.extra:
            out.write(f"# text = {sentence.extra['text']}\n")
        for i, row in enumerate(zip(sentence.tokens, sentence.lemmas, sentence.upos, sentence.xpos,
                                    sentence.heads, sentence.relations), start=1):
            form, lemma, upos, xpos, head, relation = row
            out.write(f"{i}\t{form}\t{lemma}\t{upos}\t{xpos}\t_\t{head}\t{relation}\t_\t_\n")
        out.write("\n")
    return out.getvalue()


def write_conllu(path: str | Path, sentences: Iterable[DependencySentence]) -> Path:
    """Write ``sentences`` as a CoNLL-U file (atomically: the name only ever holds a complete file)."""
    from elmo_lab.util.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(format_conllu(sentences), encoding="utf-8")
    return path
