"""Labelled text from a user's own files — CSV, TSV, JSONL — for ``task=classify`` and ``task=pairs`` (no torch).

Formats, chosen by the file's suffix:

- ``.csv``: a header row naming the columns, then one row per example, read by the standard library's ``csv``
  (RFC 4180 quoting: a quoted field may hold commas, doubled quotes and newlines; strict, so a stray quote is an
  error rather than a silently merged row).
- ``.tsv``: a header row, tab-separated fields, **no quoting** (a quote is an ordinary character, as in the GLUE
  and SNLI ``.txt``/``.tsv`` releases); a field cannot hold a tab or a newline.
- ``.jsonl``: one JSON object per line (blank lines skipped); labels may be strings or numbers.

Every file is UTF-8, with or without a byte-order mark.  Each row keeps where it came from (``path:line``, the
line a CSV row starts on), so that every problem is one ``DataError`` line naming the file, the line and what was
expected: a missing column or field, an empty text, a row with the wrong number of fields, an empty file, a file
that is not UTF-8, a dev/test label that the training data does not have.

``Table`` is what a reader (or ``elmo_lab.data.hf`` for a Hugging Face dataset) returns; ``labelled_rows`` turns a
table into ``LabelledRow`` (token sequences, a label name) and ``LabelSet`` numbers the labels seen in train.
``find_split_files`` finds a folder's train/dev/test files, ``held_out_dev`` makes a dev split when there is no dev
file, and ``load_labelled_splits`` does all of it for a task's config (files or a Hugging Face dataset).
"""
from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from elmo_lab.data.errors import DataError
from elmo_lab.data.splits import SPLIT_NAMES, SPLITS
from elmo_lab.data.table import Table
from elmo_lab.data.tokenize import tokenize

__all__ = ["FORMATS", "LabelSet", "LabelledRow", "TabularData", "Table", "find_split_files", "held_out_dev",
           "label_name", "labelled_rows", "load_labelled_splits", "read_table"]

FORMATS = (".csv", ".tsv", ".jsonl")
GOLD_LABEL = "gold_label"  # the SNLI / MultiNLI release's label field (read when task.label_field=label is absent)


@dataclass(frozen=True)
class LabelledRow:
    """One example before its label is numbered: its token sequences (one, or premise and hypothesis), its label
    name and where it came from (``file:line``)."""

    texts: tuple[list[str], ...]
    label: str
    where: str


def _decode(path: Path) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); ``DataError`` naming the line of a bad byte."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as "
                        "UTF-8") from None


def _delimited(path: Path, text: str, tsv: bool) -> Table:
    """A CSV (quoted fields) or TSV (no quoting) file with a header row."""
    options: dict[str, Any] = (dict(delimiter="\t", quoting=csv.QUOTE_NONE) if tsv else dict(strict=True))
    reader = csv.reader(io.StringIO(text, newline=""), **options)
    header: list[str] | None = None
    header_line = 1
    rows: list[tuple[str, dict[str, Any]]] = []
    start = 1  # the line the next row starts on
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise DataError(f"{path}:{start}: malformed {'TSV' if tsv else 'CSV'} ({error})") from None
        line, start = start, reader.line_num + 1
        if not row:  # a blank line
            continue
        if header is None:
            header, header_line = [name.strip() for name in row], line
            duplicated = sorted({name for name in header if header.count(name) > 1})
            if duplicated or "" in header:
                raise DataError(f"{path}:{line}: the header row needs distinct, non-empty column names, got "
                                f"{', '.join(map(repr, header))}")
            continue
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: {len(row)} field{'s' * (len(row) != 1)}, expected {len(header)} "
                            f"(the header's columns: {', '.join(header)})")
        rows.append((f"{path}:{line}", dict(zip(header, row))))
    if not rows:
        raise DataError(f"{path}: no rows after the header (expected a header row, then one row per example)")
    return Table(str(path), rows, columns=header, header_line=header_line)


def _jsonl(path: Path, text: str) -> Table:
    rows = []
    for line, raw in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may sit inside a string
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{line}: not valid JSON ({error.msg} at column {error.colno}); expected one "
                            "JSON object per line") from None
        if not isinstance(value, dict):
            raise DataError(f"{path}:{line}: expected a JSON object per line, got {type(value).__name__}")
        rows.append((f"{path}:{line}", value))
    if not rows:
        raise DataError(f"{path}: no JSON objects (expected one JSON object per line)")
    return Table(str(path), rows)


def read_table(path: str | Path) -> Table:
    """Read a ``.csv``, ``.tsv`` or ``.jsonl`` file (rules in the module docstring)."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: unknown format {suffix or '(no suffix)'!r}; expected {', '.join(FORMATS)}")
    text = _decode(path)
    if not text.strip():
        what = "one JSON object per line" if suffix == ".jsonl" else "a header row, then one row per example"
        raise DataError(f"{path}: empty file (expected {what})")
    return _jsonl(path, text) if suffix == ".jsonl" else _delimited(path, text, suffix == ".tsv")


def label_name(value: Any, where: str, key: str) -> str:
    """A label as its name: strings (stripped) as they are, integers as digits, JSON booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    got = "an empty string" if isinstance(value, str) else "null" if value is None else type(value).__name__
    raise DataError(f"{where}: no label in {key} (got {got}); expected a string or an integer")


def _tokens(value: Any, where: str, name: str, key: str, tokenized: bool) -> list[str] | None:
    """The tokens of one text field (``None`` when it is empty); a non-string value is an error."""
    if not isinstance(value, str):
        got = "null" if value is None else type(value).__name__
        raise DataError(f"{where}: field {name!r} ({key}) is {got}, expected a string of text")
    tokens = value.split() if tokenized else tokenize(value)
    return tokens or None


def labelled_rows(table: Table, text_fields: Sequence[tuple[str, str]], label_field: tuple[str, str], *,
                  tokenized: bool = False, skip_empty: bool = False, unlabelled: tuple = (),
                  max_tokens: int | None = None) -> tuple[list[LabelledRow], dict[str, int]]:
    """The table's rows as ``LabelledRow`` and counts of what was left out or cut.

    ``text_fields`` and ``label_field`` are ``(field, config key)`` pairs (the key names the setting in errors).
    The label field ``label`` falls back to ``gold_label`` when a table has no ``label`` but has ``gold_label``
    (the SNLI / MultiNLI release).  Rows whose label is in ``unlabelled`` (or ``table.unlabelled``) are dropped and
    counted (``no_gold_label``: SNLI's ``-``); with ``skip_empty`` rows with an empty text are dropped and counted
    (``empty_text``), otherwise they are an error.  ``max_tokens`` cuts each text (``truncated``: rows cut).
    """
    fields = table.fields()
    label, label_key = label_field
    if label == "label" and "label" not in fields and GOLD_LABEL in fields:
        label = GOLD_LABEL
    if table.columns is not None:  # a header: check it once, at its line
        for name, key in [*text_fields, (label, label_key)]:
            if name not in table.columns:
                raise DataError(f"{table.source}:{table.header_line}: no column {name!r} ({key}); the header's "
                                f"columns: {', '.join(table.columns)}")
    drop = tuple(unlabelled) + tuple(table.unlabelled)
    out: list[LabelledRow] = []
    counts = {"no_gold_label": 0, "empty_text": 0, "truncated": 0}
    for where, row in table.rows:
        for name, key in [*text_fields, (label, label_key)]:
            if name not in row:
                raise DataError(f"{where}: no field {name!r} ({key}); the object's fields: {', '.join(row)}")
        value = row[label].strip() if isinstance(row[label], str) else row[label]
        if any(value == marker and type(value) is type(marker) for marker in drop):
            counts["no_gold_label"] += 1
            continue
        texts = [_tokens(row[name], where, name, key, tokenized) for name, key in text_fields]
        if any(t is None for t in texts):
            empty = next(name for (name, _), t in zip(text_fields, texts) if t is None)
            if skip_empty:
                counts["empty_text"] += 1
                continue
            raise DataError(f"{where}: empty text in {empty!r}; expected at least one word "
                            "(task.skip_empty=true drops such rows)")
        if max_tokens is not None and any(len(t) > max_tokens for t in texts):
            counts["truncated"] += 1
            texts = [t[:max_tokens] for t in texts]
        if table.label_names is not None and isinstance(value, int) and 0 <= value < len(table.label_names):
            value = table.label_names[value]
        out.append(LabelledRow(tuple(texts), label_name(value, where, f"field {label!r}, {label_key}"), where))
    return out, counts


@dataclass
class LabelSet:
    """The class ids of a dataset: the labels of the training split, numbered in ``names`` order — a dataset's
    own order when it has one (a ClassLabel), else numerically when every name is an integer, else sorted."""

    names: list[str]
    ids: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.ids = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def from_train(cls, rows: Sequence[LabelledRow], order: Sequence[str] | None = None) -> "LabelSet":
        seen = {r.label for r in rows}
        key: Callable[[str], Any] = (lambda n: (int(n), n)) if all(_is_int(n) for n in seen) else (lambda n: n)
        known = [n for n in (order or []) if n in seen]
        return cls(known + sorted(seen - set(known), key=key))

    def id(self, row: LabelledRow) -> int:
        """The class id of ``row``'s label; a label the training split lacks is an error naming the row."""
        if row.label not in self.ids:
            raise DataError(f"{row.where}: label {row.label!r} does not occur in the training data (its labels: "
                            f"{', '.join(self.names)})")
        return self.ids[row.label]


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


FILE_KEYS = {split: f"task.{split}_file" for split in SPLITS}


def _split_of(stem: str) -> str | None:
    stem = stem.lower()
    for split, aliases in SPLIT_NAMES.items():  # the name, or a name ending in _<it> (snli_1.0_train.jsonl)
        if any(stem == a or any(stem.endswith(sep + a) for sep in "_-.") for a in aliases):
            return split
    return None


def find_split_files(data_dir: str | Path | None, train_file: str | None = None, dev_file: str | None = None,
                     test_file: str | None = None) -> dict[str, Path | None]:
    """``{"train", "dev", "test"}`` → the file of each split: the one named (relative to ``data_dir`` when set),
    else the one file of ``data_dir`` named after the split (``SPLIT_NAMES``, any of ``FORMATS``).  Train and
    test are needed; dev is ``None`` when there is none (the caller holds out part of train)."""
    root = Path(data_dir).expanduser() if data_dir else None
    if root is not None and not root.is_dir():
        raise DataError(f"{root}: no such folder (task.data_dir)")
    found: dict[str, list[Path]] = {split: [] for split in SPLITS}
    for path in sorted(root.iterdir()) if root is not None else []:
        split = _split_of(path.stem) if path.is_file() and path.suffix.lower() in FORMATS else None
        if split is not None:
            found[split].append(path)
    out: dict[str, Path | None] = {}
    for split, given in zip(SPLITS, (train_file, dev_file, test_file)):
        if given:
            path = Path(given).expanduser()
            path = root / path if root is not None and not path.is_absolute() else path
            if not path.is_file():
                raise DataError(f"{path}: no such file ({FILE_KEYS[split]})")
            out[split] = path
        elif len(found[split]) > 1:
            raise DataError(f"{root}: more than one {split} file ({', '.join(p.name for p in found[split])}); "
                            f"name one with {FILE_KEYS[split]}=...")
        else:
            out[split] = found[split][0] if found[split] else None
        if out[split] is None and split != "dev":
            where = f"{root}: no {split} file" if root is not None else f"no {split} file"
            raise DataError(f"{where} (expected {split}.csv, {split}.tsv or {split}.jsonl, or a name ending in "
                            f"_{split}; or set {FILE_KEYS[split]}=...)")
    return out


def held_out_dev(rows: Sequence[LabelledRow], fraction: float, seed: int) -> tuple[list, list]:
    """``(train, dev)``: ``round(fraction * n_c)`` rows of each label ``c`` (labels in sorted order, each shuffled
    by ``random.Random(seed)``) go to dev, at least one row in all; both keep file order."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_label.setdefault(row.label, []).append(i)
    chosen: set[int] = set()
    for label in sorted(by_label):
        indices = list(by_label[label])
        rng.shuffle(indices)
        chosen.update(indices[: int(len(indices) * fraction + 0.5)])
    if not chosen and len(rows) > 1:
        chosen.add(rng.randrange(len(rows)))
    return ([r for i, r in enumerate(rows) if i not in chosen], [r for i, r in enumerate(rows) if i in chosen])


@dataclass
class TabularData:
    """A task's splits as ``LabelledRow`` lists, the label set of train, and what ``results.json`` should note."""

    splits: dict[str, list[LabelledRow]]
    labels: LabelSet
    notes: dict[str, Any]


def load_labelled_splits(task: Any, text_fields: Sequence[tuple[str, str]], unlabelled: tuple = ()) -> TabularData:
    """Read the splits a ``task.*`` config names: ``task.hf_dataset`` (``elmo_lab.data.hf``), or files
    (``task.data_dir`` / ``task.train_file`` ...); no dev file: ``task.dev_fraction`` of train held out with
    ``task.split_seed``.  Every dev/test label is checked against train here, before anything trains."""
    if task.get("hf_dataset"):
        from elmo_lab.data.hf import hf_tables

        tables = hf_tables(task.hf_dataset, task.get("hf_config"), task.get("hf_splits"))
    else:
        files = find_split_files(task.get("data_dir"), task.get("train_file"), task.get("dev_file"),
                                 task.get("test_file"))
        tables = {split: read_table(path) for split, path in files.items() if path is not None}
    options = dict(tokenized=bool(task.get("tokenized", False)), skip_empty=bool(task.get("skip_empty", False)),
                   unlabelled=unlabelled, max_tokens=task.get("max_tokens"))
    label = (task.get("label_field", "label"), "task.label_field")
    splits, counts = {}, {}
    for split, table in tables.items():
        splits[split], counts[split] = labelled_rows(table, text_fields, label, **options)
        if not splits[split]:
            raise DataError(f"{table.source}: no examples left ({counts[split]['no_gold_label']} without a gold "
                            f"label, {counts[split]['empty_text']} with an empty text)")
    notes: dict[str, Any] = {"sources": {split: table.source for split, table in tables.items()}}
    if "dev" not in splits:
        fraction, seed = float(task.get("dev_fraction", 0.1)), int(task.get("split_seed", 0) or 0)
        splits["train"], splits["dev"] = held_out_dev(splits["train"], fraction, seed)
        notes["sources"]["dev"] = f"held out of {tables['train'].source}"
        notes["splits"] = (f"no dev file: dev = {fraction:g} of the train file's examples per label, held out with "
                           f"split_seed {seed}; train = the rest; test = the test file")
    labels = LabelSet.from_train(splits["train"], tables["train"].label_names)
    if len(labels.names) < 2:
        raise DataError(f"{tables['train'].source}: every training example has the label {labels.names[0]!r}; a "
                        f"classifier needs at least two labels (field {label[0]!r}, task.label_field)")
    for split in SPLITS:
        for row in splits[split]:
            labels.id(row)
    notes["labels"] = labels.names
    notes["label_counts"] = {split: {name: sum(r.label == name for r in splits[split]) for name in labels.names}
                             for split in SPLITS}
    for key, shown in (("no_gold_label", bool(unlabelled)), ("empty_text", options["skip_empty"]),
                       ("truncated", options["max_tokens"] is not None)):
        per_split = {split: c[key] for split, c in counts.items()}
        if shown or any(per_split.values()):
            notes[f"dropped_{key}" if key != "truncated" else key] = per_split
    return TabularData({split: splits[split] for split in SPLITS}, labels, notes)
