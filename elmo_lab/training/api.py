"""The task contract: what one module under ``tasks/`` provides so that ``train.py task=<name>`` runs it.

A task module defines

- a datamodule, subclass of ``ElmoDataModule``: ``load_splits()`` reads the dataset into ``{"train", "dev",
  "test"}`` lists of the task's example type; ``sequences_of(example)`` names the example's token sequences (one
  sentence, or question and passage); ``on_splits_loaded()`` derives what the task needs from the splits (label
  sets, ...); ``collate`` turns examples into a batch, calling ``encode_tokens`` for each token sequence
  (→ ``tokens``, ``word_ids``, ``mask``, ``encoder_input``); ``model_info()`` adds what the model needs;
- a LightningModule, subclass of ``ElmoTaskModule``: ``build(data_info)`` creates its layers and gets each
  contextual encoder from ``self.placed_encoder(word_dim, factory)`` (placement, mixes and λ come with it);
  ``step(batch)`` returns a ``StepOutput(loss, predictions, targets)``, reading
  ``self.elmo.layers_of(encoded)`` once per token sequence; ``make_metrics()`` returns a torchmetrics
  ``MetricCollection`` (logged as ``val/<name>``, ``test/<name>``); optionally ``prediction_files`` with
  ``prediction_records`` (+ ``write_predictions`` for a format other than ``predictions.jsonl``) for the test
  predictions, and ``example_scores`` (per-example statistics of the test metrics, ``test_examples.json``, for
  the report's paired test over test examples);
- ``TASK = Task(datamodule=..., module=..., config=...)``: ``config`` is the typed ``task.*`` schema, a dataclass
  extending ``TaskConfig`` (or, so that composing imports no torch, ``SCHEMA`` in a light module
  ``tasks/<x>_schema.py`` beside the task, as the built-in tasks do); ``check`` optionally
  refuses a composed config before the data is read; ``paper_row`` and ``metric_units`` say where a run is in the
  paper and how its metrics scale to points (written to ``results.json`` for the report),

and its yaml (``conf/task/<name>.yaml``, defaults starting with ``_<module>_schema``) sets ``name``, ``module`` and
what differs from the schema's defaults.  ``tasks/_template.py`` is a runnable minimal task to copy.  The pipeline
(``elmo_lab.training.pipeline``) does the rest: the encoder stage and its cache, logging, checkpoints and resume,
``results.json`` and the layer-weight heatmap.
"""
from __future__ import annotations

from elmo_lab.config.schema import TaskConfig
from elmo_lab.training.datamodule import ElmoDataModule
from elmo_lab.training.module import JSONL_PREDICTIONS, ElmoTaskModule, StepOutput
from elmo_lab.training.tasks import Task, load_task

__all__ = ["JSONL_PREDICTIONS", "ElmoDataModule", "ElmoTaskModule", "StepOutput", "Task", "TaskConfig", "load_task"]
