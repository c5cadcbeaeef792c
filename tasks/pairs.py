"""Sentence-pair classification (natural language inference) with ESIM (``task=pairs``).

Data (``elmo_lab.data.tabular``, ``elmo_lab.data.hf``): the files of ``task=classify`` with two text fields,
``task.text_fields`` (default ``[sentence1, sentence2]``: premise, hypothesis), and the label ``task.label_field``.
The SNLI 1.0 and MultiNLI 1.0 jsonl releases are read as published: ``task.data_dir=snli_1.0`` finds
``snli_1.0_{train,dev,test}.jsonl``, the label is their ``gold_label``, and pairs whose ``gold_label`` is ``-`` (no
annotator majority) are dropped and counted (``data_notes.dropped_no_gold_label``), as is usual; a Hugging Face
ClassLabel's -1 counts the same.  No dev file: ``task.dev_fraction`` of train held out with ``task.split_seed``.

Model (Chen et al. 2017; ``elmo_lab/modules/esim.py``): word embeddings → one ELMo-placed BiLSTM shared by premise
and hypothesis (so ``elmo.placement`` and its mixes apply to both) → soft alignment, enhancement
``[a; ã; a − ã; a ⊙ ã]``, projection + composition BiLSTM, masked max+avg pooling, tanh MLP.  A batch holds each
distinct sentence once (``sentences``) and says which rows are its premises and hypotheses, so the biLM (through
``self.elmo.layers`` and its layer cache) and the encoder run once per distinct sentence — SNLI pairs each premise
with about three hypotheses.

Metrics: accuracy (objective ``val/acc``), macro F1 and per-class F1 (``task.per_class_f1``).  Test predictions:
``predictions.jsonl``, one ``{"index", "premise", "hypothesis", "gold", "pred"}`` per test pair (label names), and
per-pair correctness in ``test_examples.json``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection

from elmo_lab.config.schema import ConfigError
from elmo_lab.config.tabular_checks import check_tabular
from elmo_lab.data.tabular import load_labelled_splits
from elmo_lab.metrics.classification import classification_metrics
from elmo_lab.metrics.examples import ExampleScores, accuracy_scores
from elmo_lab.modules.word_embedding import word_embedding
from elmo_lab.modules.encoders import BiLSTMEncoder
from elmo_lab.modules.esim import ESIM
from elmo_lab.training.api import JSONL_PREDICTIONS, ElmoDataModule, ElmoTaskModule, StepOutput, Task

NO_GOLD_LABEL = "-"  # SNLI / MultiNLI: no majority label among the annotators


@dataclass(frozen=True)
class PairExample:
    """A premise and a hypothesis (tokens) and the class id of their relation."""

    premise: list[str]
    hypothesis: list[str]
    label: int


class PairsDataModule(ElmoDataModule):
    """Sentence pairs as ``PairExample`` lists; a batch holds the distinct ``sentences`` (tokens, word ids, mask,
    char ids when the biLM runs per batch), the ``premise`` / ``hypothesis`` row of each pair in them, ``labels``."""

    def load_splits(self) -> dict[str, list]:
        fields = [(name, f"task.text_fields[{i}]") for i, name in enumerate(self.task.text_fields)]
        data = load_labelled_splits(self.task, fields, unlabelled=(NO_GOLD_LABEL,))
        self.label_names, self.notes = data.labels.names, data.notes
        return {split: [PairExample(row.texts[0], row.texts[1], data.labels.id(row)) for row in rows]
                for split, rows in data.splits.items()}

    def sequences_of(self, example: PairExample) -> list[list[str]]:
        return [list(example.premise), list(example.hypothesis)]

    def collate(self, examples: list[PairExample]) -> dict[str, Any]:
        rows: dict[tuple[str, ...], int] = {}
        for e in examples:
            for sentence in (e.premise, e.hypothesis):
                rows.setdefault(tuple(sentence), len(rows))
        return {"sentences": self.encode_tokens([list(s) for s in rows]),
                "premise": torch.tensor([rows[tuple(e.premise)] for e in examples], dtype=torch.long),  # (batch,)
                "hypothesis": torch.tensor([rows[tuple(e.hypothesis)] for e in examples], dtype=torch.long),
                "labels": torch.tensor([e.label for e in examples], dtype=torch.long)}  # (batch,)

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab), "num_classes": len(self.label_names),
                "label_names": list(self.label_names)}

    def data_notes(self) -> dict:
        return dict(getattr(self, "notes", {}))


def _side(h: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoded sentences ``rows`` of ``h`` (sentences, time, dim), cut to their longest: (batch, t, dim) and
    their mask (batch, t)."""
    side_mask = mask[rows]  # (batch, time)
    t = int(side_mask.sum(1).max())
    return h[rows, :t], side_mask[:, :t]


class ESIMClassifier(ElmoTaskModule):
    """Embeddings → shared ELMo-placed BiLSTM over every distinct sentence → ESIM → class logits."""

    prediction_files = (JSONL_PREDICTIONS,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        self.label_names = list(data_info["label_names"])
        self.embed = word_embedding(t, data_info)  # task.word_vectors, when set
        self.embed_dropout = nn.Dropout(t.dropout)
        self.encoder = self.placed_encoder(self.embed.embedding_dim, lambda d: BiLSTMEncoder(d, t.hidden_dim))
        self.esim = ESIM(self.encoder.output_dim, t.hidden_dim, len(self.label_names), t.dropout)

    def forward(self, batch: dict) -> torch.Tensor:
        """Class logits (batch, num_classes)."""
        sentences = batch["sentences"]
        mask = sentences["mask"]  # (sentences, time)
        words = self.embed_dropout(self.embed(sentences["word_ids"]))  # (sentences, time, word_dim)
        layers = self.elmo.layers_of(sentences)  # (sentences, L+1, time, dim)
        h = self.encoder(words, mask, layers)  # (sentences, time, encoder.output_dim)
        a, a_mask = _side(h, mask, batch["premise"])  # (batch, la, dim), (batch, la)
        b, b_mask = _side(h, mask, batch["hypothesis"])  # (batch, lb, dim), (batch, lb)
        return self.esim(a, b, a_mask, b_mask)  # (batch, num_classes)

    def step(self, batch: dict) -> StepOutput:
        logits = self(batch)  # (batch, num_classes)
        labels = batch["labels"]  # (batch,)
        return StepOutput(F.cross_entropy(logits, labels), logits.argmax(-1), labels)

    def batch_size(self, batch: dict) -> int:
        return batch["labels"].size(0)

    def prediction_records(self, batch: dict, predictions: torch.Tensor) -> list[dict]:
        """One ``{"index", "premise", "hypothesis", "gold", "pred"}`` per pair (``predictions.jsonl``; names)."""
        tokens, names = batch["sentences"]["tokens"], self.label_names
        return [{"index": int(i), "premise": list(tokens[p]), "hypothesis": list(tokens[h]), "gold": names[gold],
                 "pred": names[pred]}
                for i, p, h, gold, pred in zip(batch["index"].tolist(), batch["premise"].tolist(),
                                               batch["hypothesis"].tolist(), batch["labels"].tolist(),
                                               predictions.tolist())]

    def example_scores(self, records: list[dict]) -> tuple[list[str], dict[str, ExampleScores]]:
        """Accuracy per pair (1 or 0); the F1s have no per-example form and are left out."""
        return accuracy_scores(records, ("premise", "hypothesis", "gold"))

    def make_metrics(self) -> MetricCollection:
        return classification_metrics(self.label_names, bool(self.task_cfg.get("per_class_f1", True)))


def check_pairs(config: dict) -> None:
    """The tabular data checks, and exactly two text fields (premise, hypothesis)."""
    check_tabular(config)
    fields = config["task"].get("text_fields", [])
    if len(fields) != 2:
        raise ConfigError(f"task.text_fields: expected two fields (premise, hypothesis), got {fields}")


def paper_row(config: dict) -> dict:
    """The paper's sentence-pair row is SNLI (ESIM)."""
    return {"row": "SNLI", "metric": "acc"}


TASK = Task(datamodule=PairsDataModule, module=ESIMClassifier, check=check_pairs, paper_row=paper_row)
