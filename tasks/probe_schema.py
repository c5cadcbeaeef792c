"""The typed ``task.*`` schema of the probe (``tasks/probe.py``), light: composing a config imports no torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


class ProbeKind(Choice):
    linear = "linear"
    mlp = "mlp"


class ProbeDataset(Choice):
    """Where the labelled sentences come from (``tasks/probe.py``)."""

    conll2003 = "conll2003"  # CoNLL-2003 (or task.data_dir in its layouts), label = column task.column
    ud_ewt = "ud_ewt"  # UD English-EWT v1.2 (fetch ud_ewt; or task.data_dir, a CoNLL-U folder), label = task.label
    conllu = "conllu"  # any UD treebank: task.data_dir, a folder of CoNLL-U files (required), label = task.label


class TreebankLabel(Choice):
    """The per-word label of a treebank (``ud_ewt``, ``conllu``)."""

    upos = "upos"  # universal part of speech
    xpos = "xpos"  # language-specific part of speech (PTB tags in English-EWT)
    deprel = "deprel"  # the word's relation to its head


@dataclass
class ProbeConfig(TaskConfig):
    """``task.*`` of the probe (``tasks/probe.py``; ``conf/task/probe.yaml``)."""

    module: str = "tasks.probe"
    dataset: ProbeDataset = ProbeDataset.conll2003
    column: int = 2  # dataset=conll2003: the label column (2 POS, 3 chunk, 4 NER)
    label: TreebankLabel = TreebankLabel.upos  # dataset=ud_ewt or conllu: the per-word label
    download: bool = True
    probe: ProbeKind = ProbeKind.linear  # linear: one linear layer | mlp: mlp_layers ReLU layers, then linear
    mlp_hidden: int = 100
    mlp_layers: int = 1
    control_task: bool = False  # Hewitt & Liang (2019): each word type gets a fixed random label instead
    control_seed: int = 0  # seeds the control task's labels
    mdl: bool = False  # also the online code length of the training labels (Voita & Titov 2020), results.json mdl
    eval_batch_size: Optional[int] = 256
    lr: float = 0.01
    max_epochs: Optional[int] = 5


SCHEMA = ProbeConfig
