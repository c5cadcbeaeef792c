"""``bilm.kind`` → a ``ContextualEncoder`` class (``elmo_lab.contextual``), without importing torch until one is
built: the registry is a list of choices, checked at composition like the others.

A kind is a registered name (``lstm``; a plugin adds its own with ``register_encoder``) or a ``package.module:Class``
path, so a new encoder needs no change to the core: ``bilm.kind=my_pkg.encoders:MyEncoder``.
"""
from __future__ import annotations

import importlib
from typing import Any

from elmo_lab.util.errors import UserError

# name -> "module:Class" (imported when built) or the class itself (registered by a plugin or a test)
_KINDS: dict[str, Any] = {"lstm": "elmo_lab.contextual.lstm:LstmBiLM", "hf": "elmo_lab.contextual.hf:HfEncoder"}


class EncoderKindError(ValueError, UserError):
    """``bilm.kind`` names no registered encoder and no importable ``module:Class``."""


def register_encoder(kind: str, encoder: Any) -> None:
    """Make ``bilm.kind=<kind>`` build ``encoder`` (a ``ContextualEncoder`` subclass or its ``module:Class`` path)."""
    _KINDS[kind] = encoder


def encoder_kinds() -> list[str]:
    """The registered kind names (what ``bilm.kind`` accepts besides a ``module:Class`` path)."""
    return sorted(_KINDS)


def is_known_kind(kind: str) -> bool:
    """A registered name, or something shaped like a ``module:Class`` path (imported only when built)."""
    return kind in _KINDS or (":" in kind and all(kind.split(":", 1)))


def encoder_class(kind: str) -> type:
    """The class of ``bilm.kind`` (imports it); ``EncoderKindError`` naming the valid kinds otherwise."""
    target = _KINDS.get(kind, kind if ":" in kind else None)
    if target is None:
        raise EncoderKindError(f"bilm.kind: unknown encoder kind {kind!r}; valid kinds: {', '.join(encoder_kinds())} "
                               "or a module:Class path")
    if not isinstance(target, str):
        return target
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise EncoderKindError(f"bilm.kind: cannot import {target!r} ({error})") from None
    return cls
