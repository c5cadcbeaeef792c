"""A minimal task to copy: sentence classification on MR with one ELMo-placed BiLSTM, mean pooling, a linear layer.

Copy it to ``tasks/<yours>.py``, change ``load_splits`` (your data), ``build``/``forward``/``step`` (your model) and
``make_metrics``, and add ``conf/task/<yours>.yaml`` with ``name: <yours>`` and ``module: tasks.<yours>``.  Nothing in
``elmo_lab`` changes.  Run it as any task: ``python train.py task=mr task.module=tasks._template`` (here borrowing the
MR config for its keys), or with your yaml: ``python train.py task=<yours> elmo.placement=both``.

Your own ``task.*`` keys: a dataclass extending ``elmo_lab.config.schema.TaskConfig`` passed as ``Task(config=...)``;
your yaml then lists ``_<module>_schema`` first in its defaults (see docs/adding-a-task.md).  This template needs
only the keys every task has.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from elmo_lab.data import rotten_tomatoes_splits
from elmo_lab.modules.word_embedding import word_embedding
from elmo_lab.modules.encoders import BiLSTMEncoder, masked_mean
from elmo_lab.training.api import ElmoDataModule, ElmoTaskModule, StepOutput, Task


class TemplateDataModule(ElmoDataModule):
    """``{"train", "dev", "test"}`` lists of examples with ``.tokens`` and ``.label``: the base class batches them
    (``tokens``, ``word_ids``, ``mask``, ``encoder_input`` when needed, ``labels``)."""

    def load_splits(self) -> dict[str, list]:
        return rotten_tomatoes_splits(seed=self.task.get("split_seed", 0))

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab), "num_classes": 2}


class TemplateClassifier(ElmoTaskModule):
    """Words → (ELMo-placed) BiLSTM → masked mean → linear."""

    def build(self, data_info: dict) -> None:
        self.embed = word_embedding(self.task_cfg, data_info)  # task.word_dim, or task.word_vectors when set
        dim = self.embed.embedding_dim
        self.encoder = self.placed_encoder(dim, lambda in_dim: BiLSTMEncoder(in_dim, dim))
        self.classifier = nn.Linear(self.encoder.output_dim, data_info["num_classes"])

    def forward(self, batch: dict) -> torch.Tensor:
        """Class logits (batch, classes)."""
        mask = batch["mask"]  # (batch, time)
        layers = self.elmo.layers_of(batch)  # (batch, L+1, time, dim) or None
        h = self.encoder(self.embed(batch["word_ids"]), mask, layers)  # (batch, time, encoder.output_dim)
        return self.classifier(masked_mean(h, mask))  # (batch, classes)

    def step(self, batch: dict) -> StepOutput:
        logits = self(batch)  # (batch, classes)
        return StepOutput(F.cross_entropy(logits, batch["labels"]), logits.argmax(-1), batch["labels"])

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({"acc": MulticlassAccuracy(2, average="micro")})


TASK = Task(datamodule=TemplateDataModule, module=TemplateClassifier)
