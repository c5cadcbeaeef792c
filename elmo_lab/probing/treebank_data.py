"""The data side of the probes that read dependency trees (the arc probe, the structural probe): UD sentences
(``load_ud_ewt``: UD English-EWT, or any UD treebank's CoNLL-U files in ``task.data_dir``), checked to be trees, with
their gold heads and punctuation marks in every batch, Hewitt & Liang's control heads on ``task.control_task``, and a
baseline computed on the heads the run uses, written into ``results.json`` (``data_notes``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from elmo_lab.data.errors import DataError
from elmo_lab.data.splits import SPLITS
from elmo_lab.data.treebank import DependencySentence
from elmo_lab.probing.controls import ArcControl, TreeControl
from elmo_lab.probing.structural import scored_words, tree_distances
from elmo_lab.training.datamodule import ElmoDataModule


def check_trees(splits: dict[str, list[DependencySentence]]) -> None:
    """``DataError`` naming the split and sentence whose heads do not form one tree."""
    for split, sentences in splits.items():
        for number, sentence in enumerate(sentences, start=1):
            try:
                tree_distances(sentence.heads)
            except ValueError as error:
                name = f" ({sentence.sentence_id})" if sentence.sentence_id else ""
                raise DataError(f"{split} sentence {number}{name}: {error}") from None


def tree_targets(sentences: list[DependencySentence]) -> list[tuple[list[int], list[bool]]]:
    """``(heads, scored)`` of each sentence: what ``elmo_lab.probing.tree_metrics`` takes as targets."""
    return [(list(s.heads), scored_words(s.upos, s.xpos).tolist()) for s in sentences]


class TreebankProbeData(ElmoDataModule):
    """Dependency-annotated sentences; batches add ``heads`` (a list per sentence, 1-based, 0 = root) and
    ``scored`` (a list of bools per sentence: not punctuation).  With ``task.control_task`` every split's heads are
    replaced by the control's (``control_factory``) before anything reads them.  A subclass says what its baseline
    is (``baseline_scores``: ``{metric: value}`` of the sentences of one split)."""

    control_factory: Callable[[int], ArcControl | TreeControl] = ArcControl
    baseline_name = "baseline"

    def __init__(self, task: Any, seed: int = 0, **data_side: Any) -> None:
        super().__init__(task, seed, **data_side)
        self.baseline: dict[str, float] = {}
        self.control: ArcControl | TreeControl | None = None

    def load_splits(self) -> dict[str, list[DependencySentence]]:
        from elmo_lab.data.ud_ewt import load_ud_ewt

        return load_ud_ewt(self.task.get("data_dir"), download=self.task.get("download", True))

    def on_splits_loaded(self) -> None:
        check_trees(self.splits)
        if self.task.get("control_task", False):
            self.control = type(self).control_factory(int(self.task.get("control_seed", 0)))
            self.splits = {name: [dataclasses.replace(s, heads=self.control.heads(s.tokens)) for s in sentences]
                           for name, sentences in self.splits.items()}
        self.baseline = {f"{split}/{metric}": value for split in SPLITS
                         for metric, value in self.baseline_scores(self.splits[split]).items()}
        shown = ", ".join(f"{k} {v:.4f}" for k, v in self.baseline.items() if not k.startswith("train/"))
        print(f"{self.baseline_name} baseline{' (control heads)' if self.control else ''}: {shown}")

    def baseline_scores(self, sentences: list[DependencySentence]) -> dict[str, float]:
        return {}

    def collate(self, examples: list[DependencySentence]) -> dict[str, Any]:
        batch = self.encode_tokens([list(e.tokens) for e in examples])
        targets = tree_targets(examples)
        batch["heads"] = [heads for heads, _ in targets]
        batch["scored"] = [scored for _, scored in targets]
        return batch

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab)}

    def data_notes(self) -> dict:
        words = {split: int(sum(len(s) for s in self.splits[split])) for split in SPLITS}
        punctuation = {split: int(sum((~scored_words(s.upos, s.xpos)).sum() for s in self.splits[split]))
                       for split in SPLITS}
        notes = {"words": words, "punctuation_words": punctuation, f"{self.baseline_name}_baseline": self.baseline,
                 "control_task": self.control is not None}
        if self.control is not None:
            notes["control_seed"] = self.control.seed
        return notes


def split_rows(values: np.ndarray, lengths: list[int], square: bool) -> list[np.ndarray]:
    """A padded batch of per-sentence predictions, (batch, time) or (batch, time, time) with ``square``, cut to each
    sentence's ``lengths``: a list of (n,) or (n, n) arrays."""
    return [v[:n, :n] if square else v[:n] for v, n in zip(values, lengths)]
