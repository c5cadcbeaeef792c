"""The ``task.*`` schema pieces that several tasks share: the sentence classifier's keys and the keys of tasks on a
user's tabular data.  Each task's own schema lives beside it (``tasks/<x>_schema.py`` for ``tasks/<x>.py``: light, so
composing a config imports no torch) and extends ``TaskConfig`` (``elmo_lab.config.schema``) and these as it needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


class ClassifierEncoder(Choice):
    bilstm = "bilstm"
    bcn = "bcn"


class Pooling(Choice):
    max = "max"
    mean = "mean"
    min = "min"


@dataclass
class TextClassifierFields:
    """The keys of the shared sentence classifier (``elmo_lab.training.classifier``): the encoder, its pooling and
    sizes; a task's schema that uses the classifier extends it."""

    encoder: ClassifierEncoder = ClassifierEncoder.bilstm  # bilstm (BiLSTM + pooling) | bcn (the paper's BCN)
    pooling: List[Pooling] = field(default_factory=lambda: [Pooling.max, Pooling.mean])  # bilstm only
    hidden_dim: int = 100
    num_layers: int = 1
    dropout: float = 0.2
    batch_size: int = 64


@dataclass
class HfSplits:
    """``task.hf_splits.*``: which split of a Hugging Face dataset each split is (null: the usual names,
    ``elmo_lab.data.splits.SPLIT_NAMES``)."""

    train: Optional[str] = None
    dev: Optional[str] = None
    test: Optional[str] = None


@dataclass
class TabularConfig(TaskConfig):
    """``task.*`` shared by the tasks on a user's own tabular data (not a task itself).  Readers:
    ``elmo_lab.data.tabular`` (CSV/TSV/JSONL) and ``elmo_lab.data.hf`` (Hugging Face datasets); the check:
    ``elmo_lab.config.tabular_checks``."""

    train_file: Optional[str] = None  # each relative to task.data_dir when it is set
    dev_file: Optional[str] = None
    test_file: Optional[str] = None
    label_field: str = "label"  # "label" absent but "gold_label" there (SNLI/MultiNLI): gold_label is read
    tokenized: bool = False  # the text is already tokenised: split on whitespace instead of the tokeniser
    skip_empty: bool = False  # drop (and count) rows with an empty text instead of stopping with an error
    max_tokens: Optional[int] = None  # cut each text to this many tokens (counted in data_notes)
    dev_fraction: float = 0.1  # no dev file: this part of each label's training rows, held out with split_seed
    hf_dataset: Optional[str] = None  # a save_to_disk folder or a datasets.load_dataset name (pip extra "hf")
    hf_config: Optional[str] = None  # the dataset's configuration name (e.g. mnli for glue)
    hf_splits: HfSplits = field(default_factory=HfSplits)  # the dataset's split names for train / dev / test
    per_class_f1: bool = True  # also log f1_<label> for every class (val/ and test/)
    eval_batch_size: Optional[int] = 256
