"""Edge-probing examples in the JSON-lines format of jiant's edge probing (Tenney et al. 2019), as published: one
JSON object per line, ``{"text": "w1 w2 ...", "targets": [{"span1": [s, e], "span2": [s, e], "label": ...}]}``;
spans are token offsets into the space-split ``text`` with an exclusive end; ``span2`` is absent for one-span tasks;
``label`` is a string or a list of strings (multi-label tasks).  Other keys of a record or a target (jiant's
``info``, ``source``, ...) are kept in ``info`` and written back.  :func:`read_edges` / :func:`write_edges` read and
write such files; bad input (a line that is not JSON, a target without ``span1``/``label``, a span beyond the
sentence) is a :class:`DataError` naming ``file:line``.  Each example read from a file keeps its ``source`` (the
path) and ``line``, so later checks (e.g. a label outside a fixed label set) can name ``file:line`` too; neither is
part of equality or of what is written back.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from elmo_lab.data.errors import DataError
from elmo_lab.data.files import read_text_file

_RECORD_KEYS = ("text", "targets")
_TARGET_KEYS = ("span1", "span2", "label")


@dataclass(frozen=True)
class EdgeTarget:
    """One probed edge: one or two token spans ``(start, end)`` (end exclusive) and its label(s)."""

    span1: tuple[int, int]
    labels: tuple[str, ...]
    span2: Optional[tuple[int, int]] = None
    info: dict = field(default_factory=dict, compare=False)  # other keys of the target, kept for round trips


@dataclass(frozen=True)
class EdgeExample:
    """One sentence (its tokens) and the edges probed in it; ``source``/``line``: where it was read (the file and
    its 1-based line; ``""``/``0`` when it was not read from a file line)."""

    tokens: list[str]
    targets: list[EdgeTarget]
    info: dict = field(default_factory=dict, compare=False)  # other keys of the record, kept for round trips
    source: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def location(self) -> str:
        """``file:line`` when the example was read from a file line, else ``""``."""
        return f"{self.source}:{self.line}" if self.source and self.line else ""


def _span(value: object, name: str, size: int, where: str) -> tuple[int, int]:
    """A ``[start, end]`` token span inside a sentence of ``size`` tokens, else :class:`DataError`."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in value)):
        raise DataError(f"{where}: {name} must be a list [start, end] of two integers, got {json.dumps(value)}")
    start, end = value
    if not 0 <= start < end <= size:
        raise DataError(f"{where}: {name} [{start}, {end}] is beyond the sentence of {size} tokens; expected "
                        f"0 <= start < end <= {size} (end exclusive)")
    return start, end


def _labels(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return tuple(value)
    raise DataError(f"{where}: label must be a string or a list of strings, got {json.dumps(value)[:60]}")


def _target(value: object, size: int, where: str) -> EdgeTarget:
    if not isinstance(value, dict) or "span1" not in value or "label" not in value:
        keys = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise DataError(f"{where}: expected an object with span1 and label (span2 optional), got {keys}")
    span2 = _span(value["span2"], "span2", size, where) if "span2" in value else None
    info = {k: v for k, v in value.items() if k not in _TARGET_KEYS}
    return EdgeTarget(_span(value["span1"], "span1", size, where), _labels(value["label"], where), span2, info)


def parse_edge_record(line: str, where: str, source: str = "", number: int = 0) -> EdgeExample:
    """One JSON line of an edge-probing file (format: module docstring); errors name ``where`` (``file:line``);
    ``source``/``number``: the file and line the example keeps."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{where}: not JSON ({error.msg} at column {error.colno}); expected one object per line "
                        '{"text": ..., "targets": [...]}') from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str) \
            or not isinstance(record.get("targets"), list):
        raise DataError(f'{where}: expected an object with "text" (a string) and "targets" (a list)')
    tokens = record["text"].split()
    targets = [_target(t, len(tokens), f"{where}: targets[{i}]") for i, t in enumerate(record["targets"])]
    return EdgeExample(tokens, targets, {k: v for k, v in record.items() if k not in _RECORD_KEYS}, source, number)


def parse_edges(lines: Iterable[str], where: str) -> list[EdgeExample]:
    """The examples of an edge-probing file's lines (blank lines skipped); an empty file is a :class:`DataError`."""
    examples = [parse_edge_record(line, f"{where}:{number}", where, number)
                for number, line in enumerate(lines, start=1) if line.strip()]
    if not examples:
        raise DataError(f'{where}: no examples (expected one JSON object per line, {{"text": ..., "targets": [...]}})')
    return examples


def read_edges(path: str | Path) -> list[EdgeExample]:
    """The examples of the edge-probing JSON-lines file ``path`` (see :func:`parse_edges`)."""
    path = Path(path)
    return parse_edges(io.StringIO(read_text_file(path, "an edge-probing JSON file")), str(path))


def edge_record(example: EdgeExample, label_lists: bool) -> dict:
    """``example`` as the published JSON object: ``label`` a list when ``label_lists``, else the one string."""
    bad = [t for t in example.tokens if not t or any(c.isspace() for c in t)]
    if bad:
        raise ValueError(f"token {bad[0]!r}: edge-probing text is split on whitespace; a token cannot hold any")
    targets = []
    for target in example.targets:
        if not label_lists and len(target.labels) != 1:
            raise ValueError(f"a target with {len(target.labels)} labels needs label_lists=True")
        item: dict = {"span1": list(target.span1)}
        if target.span2 is not None:
            item["span2"] = list(target.span2)
        item["label"] = list(target.labels) if label_lists else target.labels[0]
        targets.append({**item, **target.info})
    return {"text": " ".join(example.tokens), "targets": targets, **example.info}


def write_edges(path: str | Path, examples: Iterable[EdgeExample], label_lists: Optional[bool] = None) -> Path:
    """Write ``examples`` as an edge-probing JSON-lines file (atomically), one object per line.

    ``label_lists``: write every ``label`` as a list (multi-label tasks) or as a string; ``None`` decides for the
    file: lists when some target has other than one label, else strings (so the published single-label files
    round-trip byte for byte; a multi-label file reads back the same, see :func:`read_edges`).
    """
    from elmo_lab.util.atomic import atomic_path

    examples = list(examples)
    if label_lists is None:
        label_lists = any(len(t.labels) != 1 for e in examples for t in e.targets)
    lines = [json.dumps(edge_record(e, label_lists), ensure_ascii=False) for e in examples]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
