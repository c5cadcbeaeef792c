"""``ConfigError``: the one error type of configuration mistakes, printed as one ``error: ...`` line by the CLI
(``elmo_lab.run.cli``)."""
from __future__ import annotations

from elmo_lab.util.errors import UserError


class ConfigError(ValueError, UserError):
    """A configuration value that composes but is not valid (e.g. ``elmo.l2_coef: must be >= 0, got -1``)."""
