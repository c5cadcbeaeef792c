"""elmo_lab: run and compare the ways a pretrained biLM (ELMo) can be put into a task model.

The package is laid out by role (see the README's architecture section): ``contextual/`` the contextual encoder
interface and its kinds, ``bilm/`` the biLM, ``elmo/`` the ELMo component (mix, placements), ``cache/`` the layer
store, ``modules/`` reusable task layers, ``probing/`` what probes share, ``data/`` readers, ``lm/`` pretraining and
fine-tuning, ``training/`` the Lightning pipeline, ``report/`` sweep reports and statistics, ``cli/`` the
``python -m elmo_lab`` commands, ``config/`` the typed schemas, ``util/`` small shared helpers.

Importing ``elmo_lab`` is light (no torch): the names below load on first use, so the config schemas and the command
line answer at once.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
_LAZY = {"BiLM": "elmo_lab.bilm", "BiLMOptions": "elmo_lab.bilm", "batch_to_char_ids": "elmo_lab.bilm",
         "load_bilm": "elmo_lab.bilm", "save_bilm": "elmo_lab.bilm"}
__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    """``elmo_lab.BiLM`` and friends, imported when first asked for (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'elmo_lab' has no attribute {name!r}")
