"""The one error type of :mod:`elmo_lab.data`: bad or missing user data, reported in one line.

Messages name the file (and line, where there is one) and what was expected, e.g.
``trees/train.txt:12: unbalanced parentheses (2 left open)``. CLIs catch it and print ``error: <message>``.
"""

from __future__ import annotations

from elmo_lab.util.errors import UserError

__all__ = ["DataError"]


class DataError(ValueError, UserError):
    """A dataset file is missing, empty or malformed, or a dataset is not available offline."""
