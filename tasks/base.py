"""The task interface: what one module under ``tasks/`` provides so that ``train.py task=<name>`` runs it.

A task module defines

- a datamodule, subclass of ``ElmoDataModule``: ``load_splits()`` reads the dataset into ``{"train", "dev",
  "test"}`` lists of the task's example type; ``sequences_of(example)`` names the example's token sequences (one
  sentence, or question and passage); ``collate`` turns examples into a batch, calling ``encode_tokens`` for each
  token sequence (→ ``tokens``, ``word_ids``, ``mask``, ``char_ids``); ``model_info()`` adds what the model needs
  (``num_classes``, ``tag_names``, ...);
- a LightningModule, subclass of ``ElmoTaskModule``: ``build(data_info)`` creates its layers and gets each
  contextual encoder from ``self.elmo.placed_encoder(word_dim, factory)`` (placement, mixes and λ come with it);
  ``step(batch)`` returns ``(loss, predictions, targets)``, reading ``self.elmo.layers(tokens, char_ids)`` once
  per token sequence; ``make_metrics()`` returns a torchmetrics ``MetricCollection`` (logged as ``val/<name>``,
  ``test/<name>``); optionally ``prediction_records`` + ``write_predictions`` for a predictions file;
- a config schema: a dataclass extending ``elmo_lab.config.TaskConfig`` with the task's own keys;
- ``TASK = Task(datamodule=..., module=..., config=...)``,

and its yaml (``conf/task/<name>.yaml``, defaults starting with ``_<module>_schema``) sets ``name``,
``module: tasks.<file>``, ``objective`` (the metric that picks the best checkpoint and that sweeps optimise) and the
task's keys.  The pipeline (``elmo_lab.training.pipeline``) does the rest: the ``Elmo`` component, logging,
checkpoints and resume, ``results.json`` and the layer-weight heatmap.
"""
from __future__ import annotations

from elmo_lab.config import TaskConfig
from elmo_lab.elmo import Elmo
from elmo_lab.training.datamodule import ElmoDataModule
from elmo_lab.training.module import ElmoTaskModule
from elmo_lab.training.tasks import Task, load_task

__all__ = ["Elmo", "ElmoDataModule", "ElmoTaskModule", "Task", "TaskConfig", "load_task"]
