"""``Table``: the rows of one split's source, as every labelled-text reader returns them — a CSV/TSV/JSONL file
(``elmo_lab.data.tabular``) or a Hugging Face dataset split (``elmo_lab.data.hf``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Table:
    """The rows of one split's source: ``rows`` as ``(where, {field: value})`` in file order; ``columns`` is the
    header (CSV/TSV; ``None`` for JSONL, whose objects each name their fields); ``unlabelled`` holds label values
    meaning "no label" (a Hugging Face ClassLabel's -1); ``label_names`` the ClassLabel's names (id -> name)."""

    source: str
    rows: list[tuple[str, dict[str, Any]]]
    columns: list[str] | None = None
    header_line: int = 1
    unlabelled: tuple = ()
    label_names: list[str] | None = None

    def fields(self) -> list[str]:
        """The fields a row has: the header, else the first row's keys."""
        if self.columns is not None:
            return list(self.columns)
        return list(self.rows[0][1]) if self.rows else []
