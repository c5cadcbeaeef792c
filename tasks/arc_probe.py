"""Pairwise head attachment (``task=arc_head``; Liu et al. 2019's syntactic arc prediction): can a small probe read
off a representation which word heads which?

Each word's vector is projected to ``task.proj_dim`` (one linear layer, shared by dependents and heads), and every
(dependent x, candidate head y) pair of a sentence gets a score: by default (``task.scorer=mlp``) an MLP with one
hidden layer of ``task.mlp_hidden`` ReLU units over ``[x; y; x ⊙ y]`` (Liu et al.); with ``task.scorer=bilinear`` the
bilinear form ``xᵀ W y`` (Hewitt & Liang's bilinear arc probe, a lower-capacity probe).  The candidates are a learned
root vector and every word of the sentence, the dependent itself included (Hewitt & Liang's control attaches words
to themselves); a softmax over them is trained with cross-entropy against the gold head.  The first layer of the MLP
over the concatenation is computed as ``A x + B y + C (x ⊙ y)``: the same function without a (batch, time, time,
3·proj_dim) tensor.  Metric: **UAS**, punctuation left out as in the structural probe
(``elmo_lab.probing.structural``); objective ``val/uas``.

Controls, in ``results.json`` ``data_notes``: the adjacent-word baselines (every word attached to the word before
it, the first to the root; or to the word after it, the last to the root), on the heads the run uses;
``bilm.random_weights=true``; ``probe=layer0``; and ``task.control_task=true``: Hewitt & Liang's control task for
dependency arcs (``ArcControl``: each word type attaches to itself, the first word or the last word).
"""
from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection

from elmo_lab.data.treebank import DependencySentence
from elmo_lab.metrics.examples import ExampleScores
from elmo_lab.probing.model import (IdentityEncoder, probe_vectors, require_frozen_input, require_positive,
                                    settings_view)
from elmo_lab.probing.structural import scored_words, uas_counts
from elmo_lab.probing.tree_metrics import UAS
from elmo_lab.probing.treebank_data import TreebankProbeData, split_rows
from elmo_lab.training.api import JSONL_PREDICTIONS, ElmoTaskModule, StepOutput, Task

IGNORE = -1  # target of padding positions


def check_arc_config(config: dict) -> None:
    """A frozen encoder's vector, positive widths (``Task.check``: before the data is read)."""
    require_frozen_input(config, "python train.py experiment=probe_layers task=arc_head")
    require_positive(config.get("task") or {}, ("proj_dim", "mlp_hidden"))


def adjacent_heads(n: int, side: str) -> list[int]:
    """Heads (1-based) of the chain that attaches every word to its left (``before``) or right (``after``)
    neighbour; the word with no such neighbour attaches to the root."""
    return [i for i in range(n)] if side == "before" else [i + 2 if i + 1 < n else 0 for i in range(n)]


class ArcData(TreebankProbeData):
    """UD sentences; baselines: the adjacent-word chains' UAS."""

    baseline_name = "adjacent_head"

    def baseline_scores(self, sentences: list[DependencySentence]) -> dict[str, float]:
        scores = {}
        for side in ("before", "after"):
            counts = [uas_counts(adjacent_heads(len(s), side), s.heads, scored_words(s.upos, s.xpos))
                      for s in sentences]
            scores[f"uas_{side}"] = sum(c for c, _ in counts) / max(sum(t for _, t in counts), 1)
        return scores


class PairScorer(nn.Module):
    """Scores (batch, time, time + 1) of every (dependent, candidate head) pair from projected vectors."""

    def __init__(self, dim: int, kind: str, hidden: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "bilinear":
            self.bilinear = nn.Parameter(torch.empty(dim, dim))  # (dim, dim): W
            nn.init.xavier_uniform_(self.bilinear)
        else:
            self.dependent, self.head = nn.Linear(dim, hidden), nn.Linear(dim, hidden, bias=False)
            self.product = nn.Linear(dim, hidden, bias=False)
            self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x (batch, time, dim) dependents, y (batch, time + 1, dim) candidates → (batch, time, time + 1)."""
        if self.kind == "bilinear":
            return torch.einsum("bid,de,bje->bij", x, self.bilinear, y)  # (batch, time, time + 1)
        hidden = (self.dependent(x).unsqueeze(2) + self.head(y).unsqueeze(1)
                  + self.product(x.unsqueeze(2) * y.unsqueeze(1)))  # (batch, time, time + 1, hidden)
        return self.out(F.relu(hidden)).squeeze(-1)  # (batch, time, time + 1)


class ArcProbe(ElmoTaskModule):
    """The encoder's vector → projection → pair scores → softmax over the root and every word."""

    prediction_files = (JSONL_PREDICTIONS,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        check_arc_config(settings_view(self))
        self.encoder = self.placed_encoder(0, IdentityEncoder)
        dim = int(t.get("proj_dim", 128))
        self.projection = nn.Linear(self.encoder.output_dim, dim)
        self.root = nn.Parameter(torch.zeros(dim))  # (dim,): the root candidate
        self.scorer = PairScorer(dim, str(t.get("scorer", "mlp")), int(t.get("mlp_hidden", 128)))

    def forward(self, batch: dict) -> torch.Tensor:
        """Head scores (batch, time, time + 1): candidate 0 is the root, candidate j the j-th word (as in CoNLL-U);
        padding candidates get -inf."""
        words = self.projection(probe_vectors(self, batch))  # (batch, time, dim)
        root = self.root.expand(words.size(0), 1, -1)  # (batch, 1, dim)
        scores = self.scorer(words, torch.cat([root, words], dim=1))  # (batch, time, time + 1)
        candidates = torch.cat([batch["mask"][:, :1], batch["mask"]], dim=1)  # (batch, time + 1): root always on
        return scores.masked_fill(~candidates.unsqueeze(1), float("-inf"))

    def step(self, batch: dict) -> StepOutput:
        scores = self(batch)  # (batch, time, time + 1)
        mask = batch["mask"]  # (batch, time)
        targets = torch.full_like(batch["word_ids"], IGNORE)  # (batch, time)
        for i, heads in enumerate(batch["heads"]):
            targets[i, : len(heads)] = torch.as_tensor(heads)
        safe = scores.masked_fill(~mask.unsqueeze(-1), 0.0)  # (batch, time, time + 1): no -inf rows at padding
        loss = F.cross_entropy(safe.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
        predicted = split_rows(scores.argmax(-1).cpu().numpy(), [len(h) for h in batch["heads"]], square=False)
        return StepOutput(loss, predicted, list(zip(batch["heads"], batch["scored"])))

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({"uas": UAS()}, compute_groups=False)

    def prediction_records(self, batch: dict, predictions: list[np.ndarray]) -> list[dict]:
        """One ``{"index", "tokens", "gold", "pred", "scored"}`` per sentence (heads 1-based, 0 = root)."""
        return [{"index": int(i), "tokens": list(tokens), "gold": list(heads), "pred": [int(h) for h in pred],
                 "scored": list(scored)}
                for i, tokens, heads, scored, pred in zip(batch["index"].tolist(), batch["tokens"], batch["heads"],
                                                          batch["scored"], predictions)]

    def example_scores(self, records: list[dict]) -> tuple[list[str], dict[str, ExampleScores]]:
        """UAS as (right heads, scored words) per sentence."""
        keys = [json.dumps([r["tokens"], r["gold"]], ensure_ascii=False) for r in records]
        rows = [list(uas_counts(r["pred"], r["gold"], np.asarray(r["scored"], dtype=bool))) for r in records]
        return keys, {"uas": ExampleScores("ratio", rows)}


TASK = Task(datamodule=ArcData, module=ArcProbe, check=check_arc_config)
