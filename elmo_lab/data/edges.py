"""Edge-probing examples in the JSON-lines format of jiant's edge probing (Tenney et al. 2019), as published: one
JSON object per line, ``{"text": "w1 w2 ...", "targets": [{"span1": [s, e], "span2": [s, e], "label": ...}]}``;
spans are token offsets into the space-split ``text`` with an exclusive end; ``span2`` is absent for one-span tasks;
``label`` is a string or a list of strings (multi-label tasks).  Other keys of a record or a target are kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class EdgeTarget:
    """One probed edge: one or two token spans ``(start, end)`` (end exclusive) and its label(s)."""

    span1: tuple[int, int]
    labels: tuple[str, ...]
    span2: Optional[tuple[int, int]] = None
    info: dict = field(default_factory=dict, compare=False)  # other keys of the target, kept for round trips


@dataclass(frozen=True)
class EdgeExample:
    """One sentence (its tokens) and the edges probed in it."""

    tokens: list[str]
    targets: list[EdgeTarget]
    info: dict = field(default_factory=dict, compare=False)  # other keys of the record, kept for round trips
