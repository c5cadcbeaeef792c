"""The sentence classifier that several tasks share (one text, one label): word embeddings → the ELMo-placed
contextual encoder → pooling → two ReLU layers → class logits.  ``task=mr|sst|sst2`` and ``task=classify`` use it
as it is; their modules only read their data.

Encoders (``task.encoder``, layers from ``elmo_lab.modules``): ``bilstm`` (a BiLSTM, masked pooling of
``task.pooling``) or ``bcn`` (the paper's Biattentive Classification Network, self-attentive pooling).  Metrics:
accuracy (objective ``val/acc``), macro F1 and, with ``task.per_class_f1``, the F1 of each class.  Test predictions:
``predictions.jsonl``, one ``{"index", "tokens", "gold", "pred"}`` per example in dataset order (label names when
the data gives them, ``data_info["label_names"]``, else class ids), and per-example correctness in
``test_examples.json``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection

from elmo_lab.config.schema import ConfigError
from elmo_lab.metrics.classification import classification_metrics
from elmo_lab.metrics.examples import ExampleScores, accuracy_scores
from elmo_lab.modules.bcn import BCNEncoder, SelfAttentivePooling
from elmo_lab.modules.encoders import POOLINGS, BiLSTMEncoder, pool
from elmo_lab.modules.word_embedding import word_embedding
from elmo_lab.training.module import JSONL_PREDICTIONS, ElmoTaskModule, StepOutput


class SentenceClassifier(ElmoTaskModule):
    """Embeddings → (ELMo-placed) encoder → pooling → two ReLU layers → class logits.  ``data_info``:
    ``vocab_size``, ``num_classes`` and optionally ``label_names`` (for predictions and per-class F1 names)."""

    prediction_files = (JSONL_PREDICTIONS,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        self.num_classes = data_info["num_classes"]
        self.label_names = data_info.get("label_names")
        self.embed = word_embedding(t, data_info)  # task.word_vectors, when set
        self.embed_dropout = nn.Dropout(t.dropout)
        if t.encoder == "bilstm":
            bad = [k for k in t.pooling if k not in POOLINGS]
            if bad or not t.pooling:
                raise ConfigError(f"task.pooling: expected a non-empty list of {', '.join(POOLINGS)}, got {bad}")
            self.encoder = self.placed_encoder(self.embed.embedding_dim, lambda d: BiLSTMEncoder(d, t.hidden_dim,
                                                                                      t.num_layers, t.dropout))
            self.pooler = lambda h, mask: pool(h, mask, list(t.pooling))
            pooled_dim = len(t.pooling) * self.encoder.output_dim
        elif t.encoder == "bcn":
            self.encoder = self.placed_encoder(self.embed.embedding_dim,
                                               lambda d: BCNEncoder(d, t.hidden_dim, t.dropout))
            self.pooler = SelfAttentivePooling(self.encoder.output_dim)
            pooled_dim = self.pooler.output_dim
        else:
            raise ConfigError(f"task.encoder: expected bilstm or bcn, got {t.encoder!r}")
        self.classifier = nn.Sequential(
            nn.Dropout(t.dropout), nn.Linear(pooled_dim, t.hidden_dim), nn.ReLU(),
            nn.Dropout(t.dropout), nn.Linear(t.hidden_dim, t.hidden_dim), nn.ReLU(),
            nn.Linear(t.hidden_dim, self.num_classes),
        )

    def forward(self, batch: dict) -> torch.Tensor:
        """Class logits (batch, num_classes)."""
        mask = batch["mask"]  # (batch, time)
        words = self.embed_dropout(self.embed(batch["word_ids"]))  # (batch, time, word_dim)
        layers = self.elmo.layers_of(batch)  # (batch, L+1, time, encoder_dim) or None
        h = self.encoder(words, mask, layers)  # (batch, time, encoder.output_dim)
        return self.classifier(self.pooler(h, mask))  # (batch, num_classes)

    def step(self, batch: dict) -> StepOutput:
        logits = self(batch)
        labels = batch["labels"]  # (batch,)
        return StepOutput(F.cross_entropy(logits, labels), logits.argmax(-1), labels)

    def _name(self, class_id: int) -> int | str:
        return class_id if self.label_names is None else self.label_names[class_id]

    def prediction_records(self, batch: dict, predictions: torch.Tensor) -> list[dict]:
        """One ``{"index", "tokens", "gold", "pred"}`` per example (``predictions.jsonl``)."""
        return [{"index": int(i), "tokens": list(tokens), "gold": self._name(gold), "pred": self._name(pred)}
                for i, tokens, gold, pred in zip(batch["index"].tolist(), batch["tokens"],
                                                 batch["labels"].tolist(), predictions.tolist())]

    def example_scores(self, records: list[dict]) -> tuple[list[str], dict[str, ExampleScores]]:
        """Accuracy per example (1 or 0); macro F1 has no per-example form and is left out."""
        return accuracy_scores(records)

    def make_metrics(self) -> MetricCollection:
        names = self.label_names or [str(i) for i in range(self.num_classes)]
        return classification_metrics(list(names), bool(self.task_cfg.get("per_class_f1", False)))
