"""The report's bottom layer for figures: matplotlib without a display, and a figure written atomically.

matplotlib is imported on first use only: building or printing a report without plots never loads it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from elmo_lab.util.atomic import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically and close it."""
    try:
        fig.tight_layout()
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return path
