"""The report's bottom layer for text: Markdown tables, numbers with their spread, p-values, settings' values, and
prose wrapped for a terminal.  Knows nothing of runs or configurations, so every layer above may use it."""
from __future__ import annotations

import textwrap
from typing import Any, Sequence

MISSING = object()  # a key a run's config does not have
TERMINAL_WIDTH = 160  # what the printed report must fit (README's quickstart is checked against it)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], aligned: bool = False) -> str:
    """A GitHub Markdown table; ``aligned`` pads every column to its widest cell (for reading in a terminal)."""
    cells = [[str(c).replace("|", "\\|") for c in row] for row in [header, *rows]]
    widths = [max(3, *(len(row[i]) for row in cells)) if aligned else 0 for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    rule = "| " + " | ".join("-" * max(3, w) for w in widths) + " |"
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def mean_std_text(mean: float | None, std: float | None, digits: int = 4, empty: str = "—") -> str:
    """``0.7900 ± 0.0100``; the spread is "—" below two values, the whole cell ``empty`` without a mean."""
    if mean is None:
        return empty
    return f"{mean:.{digits}f} ± " + ("—" if std is None else f"{std:.{digits}f}")


def signed_text(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:+.{digits}f}"


def interval_text(ci: tuple[float, float] | None, digits: int = 4) -> str:
    return "—" if ci is None else f"[{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"


def difference_text(delta: float, se: float | None) -> str:
    """``+0.0800 ± 0.0082``: a difference and its standard error ("—" unless both sides have two values)."""
    return f"{signed_text(delta)} ± " + ("—" if se is None else f"{se:.4f}")


def p_text(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_value(value: Any) -> str:
    """A setting's value as a table shows it: "—" when absent, yes/no, ``1e-3`` as ``0.001``, lists joined."""
    if value is MISSING or value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(format_value(v) for v in value)
    return str(value)


def wrap_prose(text: str, width: int = TERMINAL_WIDTH) -> str:
    """Wrap the paragraphs and ``- `` list items of ``text`` to ``width``; table lines and headings stay whole."""
    out = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if any(line.startswith(("|", "#", "![")) for line in lines):
            out.append(block)
        elif all(line.startswith("- ") for line in lines):
            out.append("\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in lines))
        else:
            out.append(textwrap.fill(" ".join(lines), width))
    return "\n\n".join(out)
