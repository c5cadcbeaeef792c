"""The task interface: what one module under ``tasks/`` provides so that ``train.py task=<name>`` runs it.

A task module defines

- a datamodule, subclass of ``ElmoDataModule``: ``load_splits()`` reads the user's copy of the dataset
  (``task.data_dir``) into ``{"train", "dev", "test"}`` lists of the task's example type; ``collate`` (optional)
  turns examples into a batch, calling ``encode_tokens`` for each token sequence (→ ``word_ids``, ``mask``,
  ``char_ids``); ``model_info()`` (optional) adds what the model needs (``num_classes``, ``num_tags``, ...);
- a LightningModule, subclass of ``ElmoTaskModule``: ``build(data_info)`` creates its layers and gets its
  contextual encoder from ``self.placed_encoder(word_dim, factory)`` (ELMo placement, mixes and λ come for free);
  ``step(batch)`` returns ``(loss, predictions, targets)``, using ``self.bilm_layers(tokens, char_ids)`` once per
  token sequence; ``make_metrics()`` returns a torchmetrics ``MetricCollection`` (logged as ``val/<name>``,
  ``test/<name>``);
- ``TASK = Task(datamodule=..., module=...)``,

and its yaml (``conf/task/<name>.yaml``) sets ``name``, ``module: tasks.<file>``, ``data_dir`` and the task's keys.
The pipeline (``elmo_lab.training.pipeline``) does the rest: biLM loading, placements, logging, checkpoints and
resume, ``results.json`` and the layer-weight heatmap.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from elmo_lab.config import ConfigError
from elmo_lab.training.datamodule import ElmoDataModule
from elmo_lab.training.module import ElmoTaskModule


@dataclass(frozen=True)
class Task:
    """The two classes a task module contributes."""

    datamodule: type[ElmoDataModule]
    module: type[ElmoTaskModule]


def load_task(module_name: str) -> Task:
    """Import ``module_name`` (``task.module``) and return its ``TASK``."""
    try:
        mod = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise ConfigError(f"task.module: no module named {module_name!r}") from None
        raise
    task = getattr(mod, "TASK", None)
    if not isinstance(task, Task):
        raise ConfigError(f"task.module: {module_name} defines no TASK = Task(datamodule=..., module=...)")
    return task


__all__ = ["ElmoDataModule", "ElmoTaskModule", "Task", "load_task"]
