"""Extractive question answering on SQuAD v1.1 with a BiDAF model (``task=squad``).

Data (``elmo_lab.data.squad``): the official ``train-v1.1.json`` / ``dev-v1.1.json`` (downloaded once into the
cache, or ``task.data_dir``).  The official dev set is the **test** split; the validation split (model selection)
is ``task.val_fraction`` of the train file's articles, held out with ``task.split_seed``.  ``task.train_examples``
(or ``task.train_fraction``) keeps a nested, seeded subset of the training questions (CPU runs; the base datamodule
takes it, as for every task; ``task.max_train_questions`` is a deprecated name of ``task.train_examples``);
``task.max_passage_tokens`` cuts passages (training questions whose answer lies beyond are dropped, evaluation
questions are kept and score as wrong); the counts, and how many answers do not fall on token boundaries, go into
``results.json`` (``data_notes``).

Model: word embeddings and a character CNN → one shared contextual encoder (a BiLSTM) run over the question and
the passage, with ELMo placed at its input and/or output (``elmo.*``); the mixes belong to that encoder, so question
and passage share them, as in the reference implementations → bi-attention, optional self-attention (Clark &
Gardner 2017, ``task.self_attention``), modelling layer and span heads (``elmo_lab/modules/bidaf.py``).  The biLM runs once per
distinct question and passage (cached when frozen).  The predicted span is the best one with
``end - start < task.max_answer_len`` (the paper: 17), turned back into the **original context substring** by
character offsets.

Metric: EM and F1 exactly as the official v1.1 evaluator (``elmo_lab.metrics.SquadMetric``); the objective is
``val/f1``.  ``predictions.json`` (``{question id: answer text}``, what the official evaluator reads) is written
into the run directory for the test split.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchmetrics import MetricCollection

from elmo_lab.util.atomic import atomic_path
from elmo_lab.data.squad import QAExample, load_squad
from elmo_lab.metrics.examples import ExampleScores
from elmo_lab.metrics.squad import SquadMetric, exact_match, f1

from elmo_lab.training.api import ElmoDataModule, ElmoTaskModule, StepOutput, Task
from elmo_lab.modules.bidaf import BiDAFSpanPredictor, best_span, span_loss
from elmo_lab.modules.word_embedding import word_embedding
from elmo_lab.modules.encoders import BiLSTMEncoder, CharCNN

PREDICTIONS_FILE = "predictions.json"


class Examples:
    """The examples of a batch, kept whole beside the tensors (Lightning moves tensors and leaves this alone)."""

    def __init__(self, examples: list[QAExample]) -> None:
        self.examples = examples


class SquadDataModule(ElmoDataModule):
    """SQuAD as ``QAExample`` lists; a batch holds ``question`` and ``passage`` sub-batches, gold ``spans``."""

    task_uses_char_ids = True  # the character CNN of the embedding layer

    def load_splits(self) -> dict[str, list]:
        t = self.task
        splits, self.stats = load_squad(t.data_dir, download=t.download, val_fraction=t.val_fraction,
                                        split_seed=t.split_seed, max_passage_tokens=t.max_passage_tokens)
        return splits

    def sequences_of(self, example: QAExample) -> list[list[str]]:
        return [list(example.question_tokens), list(example.passage_tokens)]

    def collate(self, examples: list[QAExample]) -> dict[str, Any]:
        spans = [e.span or (-1, -1) for e in examples]  # -1: no gold span in the kept passage (scored as wrong)
        return {"question": self.encode_tokens([list(e.question_tokens) for e in examples]),
                "passage": self.encode_tokens([list(e.passage_tokens) for e in examples]),
                "spans": torch.tensor(spans, dtype=torch.long),  # (batch, 2)
                "examples": Examples(examples)}

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab)}

    def data_notes(self) -> dict:
        notes = asdict(self.stats) if hasattr(self, "stats") else {}
        notes["splits"] = ("test = the official dev-v1.1.json; dev (validation) = "
                           f"{self.task.val_fraction:g} of the train file's articles held out with split_seed "
                           f"{self.task.split_seed}; train = the rest")
        return notes


class BiDAF(ElmoTaskModule):
    """Words + char CNN → shared (ELMo-placed) BiLSTM over question and passage → BiDAF span prediction."""

    prediction_files = (PREDICTIONS_FILE,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        self.embed = word_embedding(t, data_info)  # task.word_vectors, when set
        self.chars = CharCNN(t.char_dim, t.char_filters, t.char_width)
        self.dropout = nn.Dropout(t.dropout)
        self.encoder = self.placed_encoder(self.embed.embedding_dim + self.chars.output_dim,
                                                lambda d: BiLSTMEncoder(d, t.hidden_dim))
        self.predictor = BiDAFSpanPredictor(self.encoder.output_dim, t.modeling_dim,
                                            modeling_layers=t.modeling_layers, self_attention=t.self_attention,
                                            dropout=t.dropout)

    def encode(self, side: dict) -> torch.Tensor:
        """One token sequence per row (question or passage) → (batch, time, encoder.output_dim)."""
        words = self.embed(side["word_ids"])  # (batch, time, word_dim)
        chars = self.chars(side["char_ids"][:, 1:-1])  # (batch, time, char_filters)
        x = self.dropout(torch.cat([words, chars], -1))  # (batch, time, word_dim + char_filters)
        layers = self.elmo.layers_of(side)  # (batch, L+1, time, dim) or None
        return self.encoder(x, side["mask"], layers)  # (batch, time, encoder.output_dim)

    def step(self, batch: dict) -> StepOutput:
        question, passage = batch["question"], batch["passage"]
        start, end = self.predictor(self.encode(passage), self.encode(question), passage["mask"],
                                    question["mask"])  # (batch, T) each
        spans = batch["spans"]  # (batch, 2)
        has_gold = spans[:, 0].ge(0)  # (batch,)
        if has_gold.any():
            loss = span_loss(start[has_gold], end[has_gold], passage["mask"][has_gold], spans[has_gold])
        else:
            loss = start.new_zeros(())
        if self.training:
            return StepOutput(loss, [], [])
        chosen = best_span(start, end, passage["mask"], self.task_cfg.max_answer_len).tolist()  # (batch, 2)
        examples = batch["examples"].examples
        texts = [e.passage.span_text(s, t) for e, (s, t) in zip(examples, chosen)]
        return StepOutput(loss, texts, [list(e.answer_texts) for e in examples])

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({"squad": SquadMetric()})

    def batch_size(self, batch: dict) -> int:
        return batch["spans"].size(0)

    def prediction_records(self, batch: dict, predictions: list[str]) -> list[Any]:
        return [(e.qid, text, list(e.answer_texts)) for e, text in zip(batch["examples"].examples, predictions)]

    def example_scores(self, records: list[Any]) -> tuple[list[str], dict[str, ExampleScores]]:
        """Exact match and F1 per question (x100, as the metric), against every gold answer."""
        keys = [json.dumps([qid, golds], ensure_ascii=False) for qid, _, golds in records]
        return keys, {"em": ExampleScores("mean", [[100.0 * exact_match(text, golds)] for _, text, golds in records]),
                      "f1": ExampleScores("mean", [[100.0 * f1(text, golds)] for _, text, golds in records])}

    def write_predictions(self, records: list[Any], run_dir: Path) -> Path:
        """``predictions.json``: ``{question id: answer text}`` for the test split (the official dev set)."""
        path = run_dir / PREDICTIONS_FILE
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({qid: text for qid, text, _ in records}, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        return path


def paper_row(config: dict) -> dict:
    return {"row": "SQuAD", "metric": "f1"}


TASK = Task(datamodule=SquadDataModule, module=BiDAF, paper_row=paper_row, metric_units="points")
