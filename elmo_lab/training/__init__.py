"""The training framework: base datamodule and LightningModule, callbacks, results.json, and the pipeline.

Light to import (the names below load on first use): the config schemas and the CLI's error handling import
submodules of this package before composition, when torch and Lightning must not load yet.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"LayerWeightLogger": "callbacks", "layer_weights": "callbacks", "plot_layer_weights": "callbacks",
         "ElmoDataModule": "datamodule", "EpochSeededSampler": "datamodule", "WordVocabulary": "datamodule",
         "ElmoTaskModule": "module"}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"elmo_lab.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'elmo_lab.training' has no attribute {name!r}")
