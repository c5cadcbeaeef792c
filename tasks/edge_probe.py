"""Edge probing (Tenney et al. 2019; ``task=edge_deprel|edge_entities|edge_spr2|edge_supersense``, or your own
jiant files with ``task.source=file``): which labels of one token span, or of a pair of spans, can a small classifier
read off a representation?

Per target: each token's vector is projected to ``task.proj_dim`` (one linear map per span), pooled over the span
(``task.pooling``: ``attention``, self-attentive pooling, or ``endpoints``, its first and last tokens;
``elmo_lab.probing.spans``), the one or two pooled vectors are concatenated and go through an MLP (``task.mlp_hidden``
tanh units, layer norm) to one logit per label; a sigmoid and binary cross-entropy per label (so one-label and
multi-label sources train alike), a label predicted when its probability is ≥ 0.5.  Metric: micro-F1 over targets and
labels (torchmetrics, multilabel); objective ``val/f1``.

Data: ``load_edge_splits(task.source, task.data_dir)`` (``deprel``: UD EWT relations on (dependent, head) word pairs;
``entities``: CoNLL-2003 entity spans; ``spr2``: UDS proto-role properties, multi-label; ``supersense``: UDS noun
supersenses; ``file``: jiant edge-probing JSON files).  Labels: ``task.labels`` when given (a target with any other
label is an error naming the example's ``file:line``, or for the built-in sources read from no file line the source,
split and example, and listing the allowed labels), else the training split's.  A dev/test label never seen in train
(only possible without ``task.labels``) gets an extra column the probe never predicts, as the token probe does: every
such gold label counts as a false negative in micro-F1 (the model's and the majority baseline's alike), adds nothing
to the loss, and stays in the predictions' ``gold``; the labels are listed in ``data_notes.unseen_labels``.

Controls, in ``results.json`` ``data_notes``: the majority baseline (the most frequent label set of the training
targets, predicted for every target: its micro-F1); ``bilm.random_weights=true``; ``probe=layer0``; and
``task.control_task=true``: every target's labels replaced by ``EdgeControl``'s, a function of its spans' head word
types drawn from the training label-set distribution.
"""
from __future__ import annotations

import dataclasses
import json
from textwrap import shorten
from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MultilabelF1Score

from elmo_lab.config.schema import ConfigError
from elmo_lab.data.edges import EdgeExample, EdgeTarget
from elmo_lab.data.errors import DataError
from elmo_lab.data.splits import SPLITS
from elmo_lab.metrics.examples import ExampleScores
from elmo_lab.probing.controls import EdgeControl, span_head
from elmo_lab.probing.model import (IdentityEncoder, probe_vectors, require_frozen_input, require_positive,
                                    settings_view)
from elmo_lab.probing.spans import SpanPooling
from elmo_lab.training.api import JSONL_PREDICTIONS, ElmoDataModule, ElmoTaskModule, StepOutput, Task


def check_edge_config(config: dict) -> None:
    """A frozen encoder's vector; positive widths; ``task.data_dir`` for ``task.source=file``."""
    require_frozen_input(config, "python train.py experiment=probe_layers task=edge_deprel")
    task = config.get("task") or {}
    require_positive(task, ("proj_dim", "mlp_hidden"))
    if str(task.get("source", "file")) == "file" and not task.get("data_dir"):
        raise ConfigError("task.data_dir: task.source=file reads jiant edge-probing JSON files from a folder; set "
                          "task.data_dir=<folder>")


def heads_of(example: EdgeExample, target: EdgeTarget) -> list[str]:
    """The head words of a target's spans (``span_head``): what its control labels depend on."""
    spans = [target.span1] + ([target.span2] if target.span2 is not None else [])
    return [span_head(example.tokens, span) for span in spans]


def unknown_label_message(source: str, split: str, number: int, example: EdgeExample, k: int, label: str,
                          allowed: list[str]) -> str:
    """Where a target's label outside ``task.labels`` is and which labels were expected: ``file:line`` of the example
    when it was read from a file line (a jiant JSON line; for ``deprel`` from a CoNLL-U folder, its sentence's first
    word), else the source, the split, the example's number there (among the sentences with targets) and its words."""
    shown = ", ".join(allowed[:12]) + (f", ... ({len(allowed)} labels)" if len(allowed) > 12 else "")
    unknown = f"has label {label!r}, not in task.labels (expected one of: {shown})"
    if source == "file" and example.location:
        return f"{example.location}: targets[{k}] {unknown}"
    target = example.targets[k]
    spans = ", ".join(f"{name} {' '.join(example.tokens[span[0]:span[1]])!r}"
                      for name, span in (("span1", target.span1), ("span2", target.span2)) if span is not None)
    words = shorten(" ".join(example.tokens), 40, placeholder=" ...")
    where = example.location or f"{split} example {number} ({words})"
    return f"{where}: edge source {source}: targets[{k}] ({spans}) {unknown}"


def micro_f1(counts: list[tuple[int, int, int]]) -> float:
    """Micro-F1 from (true positives, predicted, gold) counts."""
    tp, predicted, gold = (sum(c[k] for c in counts) for k in range(3))
    return 2 * tp / max(predicted + gold, 1)


class EdgeDataModule(ElmoDataModule):
    """Edge examples (a sentence and its targets); batches add, over all the batch's targets, ``rows`` (targets,)
    (the batch row of each), ``span1``/``span2`` (targets, 2) (``span2`` only for two-span sources) and ``labels``
    (targets, labels + 1) multi-hot, the last column for labels never seen in train."""

    def __init__(self, task: Any, seed: int = 0, **data_side: Any) -> None:
        super().__init__(task, seed, **data_side)
        self.label_names: list[str] = []
        self.two_spans = False
        self.baseline: dict[str, float] = {}
        self.majority: tuple[str, ...] = ()
        self.unseen: dict[str, list[str]] = {}  # dev/test labels outside label_names (never seen in train)
        self.control: EdgeControl | None = None

    def load_splits(self) -> dict[str, list[EdgeExample]]:
        from elmo_lab.data.edge_sources import load_edge_splits

        t = self.task
        return load_edge_splits(str(t.source), t.get("data_dir"), download=t.get("download", True))

    def _check(self) -> None:
        """One or two spans in every target alike; every label in ``task.labels`` when it is given."""
        kinds = {t.span2 is not None for split in SPLITS for e in self.splits[split] for t in e.targets}
        if len(kinds) > 1:
            raise DataError(f"edge source {self.task.source}: some targets have span2 and some do not; expected "
                            f"one kind (one span or two) in every split")
        self.two_spans = kinds == {True}
        if not self.task.get("labels"):
            return
        allowed = [str(x) for x in self.task.labels]
        known = set(allowed)
        for split in SPLITS:
            for number, example in enumerate(self.splits[split], start=1):
                for k, target in enumerate(example.targets):
                    unknown = [x for x in target.labels if x not in known]
                    if unknown:
                        raise DataError(unknown_label_message(str(self.task.source), split, number, example, k,
                                                              unknown[0], allowed))

    def on_splits_loaded(self) -> None:
        self._check()
        train_targets = [(heads_of(e, t), t.labels) for e in self.splits["train"] for t in e.targets]
        if self.task.get("control_task", False):
            self.control = EdgeControl(train_targets, int(self.task.get("control_seed", 0)))
            self.splits = {name: [dataclasses.replace(e, targets=[dataclasses.replace(
                t, labels=self.control.labels(heads_of(e, t))) for t in e.targets]) for e in examples]
                for name, examples in self.splits.items()}
        labels = self.task.get("labels")
        self.label_names = list(labels) if labels else sorted({x for e in self.splits["train"] for t in e.targets
                                                                 for x in t.labels})
        sets = Counter(tuple(sorted(t.labels)) for e in self.splits["train"] for t in e.targets)
        self.majority = max(sorted(sets), key=lambda s: sets[s]) if sets else ()
        self.baseline = {f"{split}/f1": micro_f1([(len(set(self.majority) & set(t.labels)), len(self.majority),
                                                   len(t.labels)) for e in self.splits[split] for t in e.targets])
                         for split in SPLITS}
        known = set(self.label_names)
        self.unseen = {split: sorted({x for e in self.splits[split] for t in e.targets for x in t.labels} - known)
                       for split in ("dev", "test")}
        print(f"majority baseline ({' '.join(self.majority)}; {len(self.label_names)} labels): "
              f"dev f1 {self.baseline['dev/f1']:.4f}, test f1 {self.baseline['test/f1']:.4f}")
        if any(self.unseen.values()):
            print(f"dev/test labels never seen in train, always counted as missed: "
                  f"{', '.join(sorted(set(self.unseen['dev'] + self.unseen['test'])))}")

    def collate(self, examples: list[EdgeExample]) -> dict[str, Any]:
        batch = self.encode_tokens([list(e.tokens) for e in examples])
        ids = {label: j for j, label in enumerate(self.label_names)}
        unseen = len(self.label_names)
        targets = [(i, t) for i, e in enumerate(examples) for t in e.targets]
        labels = torch.zeros(len(targets), unseen + 1)  # (targets, labels + 1)
        for n, (_, t) in enumerate(targets):
            labels[n, [ids.get(x, unseen) for x in t.labels]] = 1.0
        batch["rows"] = torch.tensor([i for i, _ in targets], dtype=torch.long)  # (targets,)
        batch["span1"] = torch.tensor([t.span1 for _, t in targets], dtype=torch.long).view(-1, 2)  # (targets, 2)
        if self.two_spans:
            batch["span2"] = torch.tensor([t.span2 for _, t in targets], dtype=torch.long).view(-1, 2)
        batch["labels"] = labels
        batch["gold"] = [[list(t.labels) for t in e.targets] for e in examples]
        return batch

    def model_info(self) -> dict:
        return {"label_names": self.label_names, "two_spans": self.two_spans, "vocab_size": len(self.vocab)}

    def data_notes(self) -> dict:
        counts = {split: sum(len(e.targets) for e in self.splits[split]) for split in SPLITS}
        notes = {"source": str(self.task.source), "labels": len(self.label_names), "two_spans": self.two_spans,
                 "targets": counts, "majority_labels": list(self.majority), "majority_baseline": self.baseline,
                 "control_task": self.control is not None, "unseen_labels": self.unseen}
        if self.control is not None:
            notes["control_seed"] = self.control.seed
        return notes


class EdgeProbe(ElmoTaskModule):
    """The encoder's vector → per-span projection → span pooling → MLP → one logit per label."""

    prediction_files = (JSONL_PREDICTIONS,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        check_edge_config(settings_view(self))
        self.label_names = list(data_info["label_names"])
        self.encoder = self.placed_encoder(0, IdentityEncoder)
        dim, pooling = int(t.get("proj_dim", 256)), str(t.get("pooling", "attention"))
        spans = 2 if data_info.get("two_spans") else 1
        self.projections = nn.ModuleList([nn.Linear(self.encoder.output_dim, dim) for _ in range(spans)])
        self.poolings = nn.ModuleList([SpanPooling(dim, pooling) for _ in range(spans)])
        hidden = int(t.get("mlp_hidden", 256))
        self.classifier = nn.Sequential(nn.Linear(spans * self.poolings[0].output_dim, hidden), nn.Tanh(),
                                        nn.LayerNorm(hidden), nn.Linear(hidden, len(self.label_names)))

    def forward(self, batch: dict) -> torch.Tensor:
        """Label logits (targets, labels)."""
        vectors = probe_vectors(self, batch)  # (batch, time, dim)
        spans = [batch["span1"]] + ([batch["span2"]] if len(self.projections) == 2 else [])
        pooled = [pool(project(vectors), batch["rows"], span)  # (targets, pooled dim) each
                  for project, pool, span in zip(self.projections, self.poolings, spans)]
        return self.classifier(torch.cat(pooled, dim=-1))  # (targets, labels)

    def step(self, batch: dict) -> StepOutput:
        logits = self(batch)  # (targets, labels)
        gold = batch["labels"]  # (targets, labels + 1): the last column, labels unseen in train
        loss = F.binary_cross_entropy_with_logits(logits, gold[:, :-1]) if len(logits) else logits.sum()
        probabilities = torch.cat([logits.sigmoid(), logits.new_zeros(len(logits), 1)], dim=-1)  # never "unseen"
        return StepOutput(loss, probabilities, gold.long())

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({"f1": MultilabelF1Score(len(self.label_names) + 1, average="micro")})

    def prediction_records(self, batch: dict, predictions: torch.Tensor) -> list[dict]:
        """One ``{"index", "tokens", "gold", "pred"}`` per sentence: per target its gold and predicted labels."""
        chosen = (predictions[:, :-1] >= 0.5).cpu()  # (targets, labels)
        per_target = [[self.label_names[j] for j in row.nonzero().flatten().tolist()] for row in chosen]
        records, start = [], 0
        for i, tokens, gold in zip(batch["index"].tolist(), batch["tokens"], batch["gold"]):
            records.append({"index": int(i), "tokens": list(tokens), "gold": gold,
                            "pred": per_target[start: start + len(gold)]})
            start += len(gold)
        return records

    def example_scores(self, records: list[dict]) -> tuple[list[str], dict[str, ExampleScores]]:
        """Micro-F1 as (true positives, predicted, gold) label counts per sentence."""
        keys = [json.dumps([r["tokens"], r["gold"]], ensure_ascii=False) for r in records]
        rows = [[sum(len(set(p) & set(g)) for p, g in zip(r["pred"], r["gold"])),
                 sum(len(p) for p in r["pred"]), sum(len(g) for g in r["gold"])] for r in records]
        return keys, {"f1": ExampleScores("f1", rows)}


TASK = Task(datamodule=EdgeDataModule, module=EdgeProbe, check=check_edge_config)
