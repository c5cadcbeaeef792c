"""Single-text classification on a user's own data (``task=classify``): any labelled sentences or documents.

Data (``elmo_lab.data.tabular``, ``elmo_lab.data.hf``): ``task.data_dir=DIR`` with ``train``, ``dev`` (or
``validation``, ``valid``) and ``test`` files in ``.csv``, ``.tsv`` or ``.jsonl``; or ``task.train_file`` /
``dev_file`` / ``test_file``; or ``task.hf_dataset``.  The text is ``task.text_field`` (tokenised by
``elmo_lab.data.tokenize``, or split on whitespace with ``task.tokenized=true``), the label ``task.label_field``
(strings or integers; the label set is train's, numbered numerically when every label is an integer, else in
sorted order).  Without a dev file, ``task.dev_fraction`` of each label's training rows is held out with
``task.split_seed`` (said in ``results.json``, ``data_notes.splits``).

Model: the sentiment task's (``tasks/sentiment.py``, reused as it is): word embeddings, the ELMo-placed BiLSTM +
max/mean pooling (``task.encoder=bilstm``) or the BCN (``bcn``), two ReLU layers, every placement and mix.

Metrics: accuracy (objective ``val/acc``), macro F1, and with ``task.per_class_f1`` the F1 of each class
(``f1_<label>``).  Test predictions: ``predictions.jsonl``, one ``{"index", "tokens", "gold", "pred"}`` per test
example in dataset order (label names), and per-example correctness in ``test_examples.json``.
"""
from __future__ import annotations

import re

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score
from torchmetrics.wrappers import ClasswiseWrapper

from elmo_lab.config.schema import ConfigError
from elmo_lab.config.tasks import ClassifyConfig
from elmo_lab.data.example import Example
from elmo_lab.data.tabular import load_labelled_splits
from elmo_lab.training.api import ElmoDataModule, Task
from tasks.sentiment import SentimentClassifier


def metric_safe(label_names: list[str]) -> list[str]:
    """Label names made safe for a metric name (non-word characters → ``_``), unique: ``f1_<name>``."""
    names = [re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or str(i) for i, name in enumerate(label_names)]
    return [name if names.count(name) == 1 else f"{name}_{i}" for i, name in enumerate(names)]


def classification_metrics(label_names: list[str], per_class: bool = True) -> MetricCollection:
    """Accuracy, macro F1 and (``per_class``) ``f1_<label>`` for each class."""
    n = len(label_names)
    metrics: dict[str, Metric] = {"acc": MulticlassAccuracy(n, average="micro"),
                                  "macro_f1": MulticlassF1Score(n, average="macro")}
    if per_class:
        # torchmetrics' own per-class F1 (summed states: exact under DDP), one ``f1_<label>`` entry per class
        metrics["per_class"] = ClasswiseWrapper(MulticlassF1Score(n, average="none"), labels=metric_safe(label_names),
                                                prefix="f1_")
    return MetricCollection(metrics)


def check_tabular(config: dict) -> None:
    """Refuse a composed config whose data source or split settings cannot work, before any file is read."""
    t = config["task"]
    sources = [key for key in ("data_dir", "train_file", "hf_dataset") if t.get(key)]
    if not sources:
        raise ConfigError("task.data_dir: no data; set task.data_dir=DIR (train/dev/test files), "
                          "task.train_file=... task.test_file=..., or task.hf_dataset=NAME_OR_PATH")
    if t.get("hf_dataset") and (t.get("data_dir") or any(t.get(f"{s}_file") for s in ("train", "dev", "test"))):
        raise ConfigError("task.hf_dataset: set either a Hugging Face dataset or files (task.data_dir, "
                          "task.*_file), not both")
    if not 0 < t.get("dev_fraction", 0.1) <= 0.5:
        raise ConfigError(f"task.dev_fraction: must be in (0, 0.5], got {t.get('dev_fraction')}")
    if t.get("max_tokens") is not None and t["max_tokens"] < 1:
        raise ConfigError(f"task.max_tokens: must be >= 1 or null, got {t['max_tokens']}")
    if "text_fields" in t and len(t["text_fields"]) != 2:
        raise ConfigError(f"task.text_fields: expected two fields (premise, hypothesis), got {t['text_fields']}")


class ClassifyDataModule(ElmoDataModule):
    """The user's files as ``Example(tokens, label)`` lists; ``label`` is the class id of ``label_names``."""

    def load_splits(self) -> dict[str, list]:
        data = load_labelled_splits(self.task, [(self.task.text_field, "task.text_field")])
        self.label_names, self.notes = data.labels.names, data.notes
        return {split: [Example(row.texts[0], data.labels.id(row)) for row in rows]
                for split, rows in data.splits.items()}

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab), "num_classes": len(self.label_names),
                "label_names": list(self.label_names)}

    def data_notes(self) -> dict:
        return dict(getattr(self, "notes", {}))


class TextClassifier(SentimentClassifier):
    """The sentiment model (embeddings → ELMo-placed BiLSTM or BCN → pooling → ReLU layers) over any label set."""

    def build(self, data_info: dict) -> None:
        self.label_names = list(data_info["label_names"])
        super().build(data_info)

    def prediction_records(self, batch: dict, predictions: torch.Tensor) -> list[dict]:
        """One ``{"index", "tokens", "gold", "pred"}`` per example (``predictions.jsonl``; label names)."""
        names = self.label_names
        return [{"index": int(i), "tokens": list(tokens), "gold": names[gold], "pred": names[pred]}
                for i, tokens, gold, pred in zip(batch["index"].tolist(), batch["tokens"],
                                                 batch["labels"].tolist(), predictions.tolist())]

    def make_metrics(self) -> MetricCollection:
        return classification_metrics(self.label_names, bool(self.task_cfg.get("per_class_f1", True)))


TASK = Task(datamodule=ClassifyDataModule, module=TextClassifier, config=ClassifyConfig, check=check_tabular)
