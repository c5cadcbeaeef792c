"""Hewitt & Manning's (2019) structural probe (``task=structural_distance``, ``task=structural_depth``): is a
dependency tree embedded in a representation's geometry, up to a linear map?

A rank-``k`` linear map ``B`` (``task.rank`` × dim, no bias; the probe's only parameters besides the mix) is trained
so that

* **distance** (``task.target=distance``): the squared distance ``||B(h_i − h_j)||²`` of every two words of a sentence
  fits their distance in the gold tree (arcs on the path).  Loss: Σ over word pairs |predicted − gold| divided by
  the sentence length squared, averaged over the batch's sentences (the paper's L1 loss).  Scores: **UUAS** (the
  minimum spanning tree of the predicted distances against the gold tree, punctuation left out) and **DSpr.**
  (Spearman of each word's predicted and gold distances, averaged per sentence length, then over lengths 5–50);
* **depth** (``task.target=depth``): the squared norm ``||B h_i||²`` fits the word's depth in the tree (arcs to
  the root word); L1 loss divided by the sentence length.  Scores: **root accuracy** (the least deep
  non-punctuation word is the root) and **NSpr.** (Spearman of predicted and gold depths per sentence, averaged
  the same way).

The scoring rules are the paper's evaluation code's (``elmo_lab.probing.structural``).  The representation is what
the token probe reads (``elmo.placement=input``, frozen encoder, no word vectors): ``probe=layer<j>`` or ``mix``
with ``experiment=probe_layers``.  Data: UD English-EWT (``load_ud_ewt``), or any UD treebank's CoNLL-U files in
``task.data_dir``.

Controls, in ``results.json`` ``data_notes``: the paper's LINEAR baseline (distance |i − j|, depth = position: what
word order alone gives), on the trees the run uses; ``bilm.random_weights=true``; ``probe=layer0``; and
``task.control_task=true``: every tree replaced by a control tree that word types alone decide
(``TreeControl``: Hewitt & Liang's arc control, made a tree).
"""
from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn
from torchmetrics import MetricCollection

from elmo_lab.config.schema import ConfigError
from elmo_lab.data.treebank import DependencySentence
from elmo_lab.metrics.examples import ExampleScores
from elmo_lab.probing.controls import TreeControl
from elmo_lab.probing.model import IdentityEncoder, probe_vectors, require_frozen_input, settings_view
from elmo_lab.probing.structural import gold_tree_edges, mst_edges, predicted_root, tree_depths, tree_distances
from elmo_lab.probing.tree_metrics import UUAS, LengthAveragedSpearman, RootAccuracy
from elmo_lab.probing.treebank_data import TreebankProbeData, split_rows, tree_targets
from elmo_lab.training.api import JSONL_PREDICTIONS, ElmoTaskModule, StepOutput, Task

METRICS = {"distance": ("uuas", "dspr"), "depth": ("root_acc", "nspr")}


def check_structural_config(config: dict) -> None:
    """The probe reads a frozen encoder's vector (``elmo.placement=input``), ``task.rank >= 1``, and the objective
    is one of the target's metrics (``Task.check``: before the data is read)."""
    require_frozen_input(config, "python train.py experiment=probe_layers task=structural_distance")
    task = config.get("task") or {}
    if task.get("rank", 1) < 1:
        raise ConfigError(f"task.rank: must be >= 1, got {task['rank']}")
    target = str(task.get("target", "distance"))
    allowed = [f"val/{m}" for m in METRICS[target]]
    if task.get("objective", allowed[0]) not in allowed:
        raise ConfigError(f"task.objective: task.target={target} logs {' and '.join(allowed)}, got "
                          f"{task['objective']}")


def linear_scores(sentences: list[DependencySentence], target: str) -> dict[str, float]:
    """The LINEAR baseline's scores: distance |i − j|, depth = position (0 for the first word)."""
    metrics = structural_metrics(target)
    predicted = [np.abs(np.subtract.outer(np.arange(len(s)), np.arange(len(s)))).astype(float)
                 if target == "distance" else np.arange(len(s), dtype=float) for s in sentences]
    metrics.update(predicted, tree_targets(sentences))
    return {name: float(value) for name, value in metrics.compute().items()}


def structural_metrics(target: str) -> MetricCollection:
    if target == "distance":
        return MetricCollection({"uuas": UUAS(), "dspr": LengthAveragedSpearman("distance")}, compute_groups=False)
    return MetricCollection({"root_acc": RootAccuracy(), "nspr": LengthAveragedSpearman("depth")},
                            compute_groups=False)


class StructuralData(TreebankProbeData):
    """UD sentences; the baseline is the LINEAR one of ``task.target``; the control heads are ``TreeControl``'s."""

    control_factory = TreeControl
    baseline_name = "linear"

    def baseline_scores(self, sentences: list[DependencySentence]) -> dict[str, float]:
        return linear_scores(sentences, str(self.task.get("target", "distance")))


class StructuralProbe(ElmoTaskModule):
    """The encoder's vector → ``B`` (rank × dim) → squared distances of word pairs, or squared norms of words."""

    prediction_files = (JSONL_PREDICTIONS,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        self.target = str(t.get("target", "distance"))
        check_structural_config(settings_view(self))
        self.encoder = self.placed_encoder(0, IdentityEncoder)
        self.projection = nn.Linear(self.encoder.output_dim, int(t.get("rank", 64)), bias=False)  # B
        nn.init.uniform_(self.projection.weight, -0.05, 0.05)  # the paper's initialisation

    def forward(self, batch: dict) -> torch.Tensor:
        """Squared distances (batch, time, time), or squared norms (batch, time)."""
        projected = self.projection(probe_vectors(self, batch))  # (batch, time, rank)
        if self.target == "depth":
            return projected.pow(2).sum(-1)  # (batch, time)
        differences = projected.unsqueeze(2) - projected.unsqueeze(1)  # (batch, time, time, rank)
        return differences.pow(2).sum(-1)  # (batch, time, time)

    def gold(self, batch: dict, like: torch.Tensor) -> torch.Tensor:
        """Gold tree distances (batch, time, time) or depths (batch, time), zero at padding."""
        gold = torch.zeros_like(like)
        for i, heads in enumerate(batch["heads"]):
            n = len(heads)
            values = tree_distances(heads) if self.target == "distance" else tree_depths(heads)
            if self.target == "distance":
                gold[i, :n, :n] = torch.tensor(values, dtype=like.dtype)
            else:
                gold[i, :n] = torch.tensor(values, dtype=like.dtype)
        return gold

    def step(self, batch: dict) -> StepOutput:
        predicted = self(batch)  # (batch, time, time) or (batch, time)
        mask = batch["mask"].to(predicted.dtype)  # (batch, time)
        lengths = mask.sum(-1)  # (batch,)
        if self.target == "distance":
            pairs = mask.unsqueeze(2) * mask.unsqueeze(1)  # (batch, time, time)
            errors = ((predicted - self.gold(batch, predicted)).abs() * pairs).sum((1, 2))  # (batch,)
            losses = errors / lengths.pow(2)  # (batch,)
        else:
            errors = ((predicted - self.gold(batch, predicted)).abs() * mask).sum(1)  # (batch,)
            losses = errors / lengths  # (batch,)
        rows = split_rows(predicted.detach().cpu().double().numpy(), [len(h) for h in batch["heads"]],
                          square=self.target == "distance")
        return StepOutput(losses.mean(), rows, list(zip(batch["heads"], batch["scored"])))

    def make_metrics(self) -> MetricCollection:
        return structural_metrics(str(self.task_cfg.get("target", "distance")))

    def prediction_records(self, batch: dict, predictions: list[np.ndarray]) -> list[dict]:
        """One record per sentence: ``{"index", "tokens", "gold" (heads), "scored"}`` and, for distances,
        ``"pred_edges"`` (the predicted minimum spanning tree, 0-based pairs, punctuation left out); for depths
        ``"pred_depths"`` and ``"pred_root"`` (0-based)."""
        records = []
        for i, tokens, heads, scored, values in zip(batch["index"].tolist(), batch["tokens"], batch["heads"],
                                                    batch["scored"], predictions):
            record = {"index": int(i), "tokens": list(tokens), "gold": list(heads), "scored": list(scored)}
            keep = np.asarray(scored, dtype=bool)
            if self.target == "distance":
                record["pred_edges"] = sorted([list(e) for e in mst_edges(values, keep)])
            else:
                record["pred_depths"] = [round(float(v), 4) for v in values]
                record["pred_root"] = predicted_root(values, keep)
            records.append(record)
        return records

    def example_scores(self, records: list[dict]) -> tuple[list[str], dict[str, ExampleScores]]:
        """UUAS as (gold edges found, gold edges) per sentence, or root accuracy as one 0/1 score per sentence (the
        Spearman averages are not sums over sentences, so they have no per-example form here)."""
        keys = [json.dumps([r["tokens"], r["gold"]], ensure_ascii=False) for r in records]
        if self.target == "distance":
            rows = []
            for r in records:
                gold = gold_tree_edges(r["gold"], np.asarray(r["scored"], dtype=bool))
                rows.append([len(gold & {tuple(e) for e in r["pred_edges"]}), len(gold)])
            return keys, {"uuas": ExampleScores("ratio", rows)}
        rows = [[float(r["pred_root"] == r["gold"].index(0))] for r in records]
        return keys, {"root_acc": ExampleScores("mean", rows)}


TASK = Task(datamodule=StructuralData, module=StructuralProbe, check=check_structural_config)
