"""The typed ``task.*`` schemas of the built-in tasks (one dataclass per task module under ``tasks/``).

They live here, not in the task modules, so that composing and validating a config imports neither torch nor
Lightning: a typo or a wrong choice is reported at once.  Each extends ``TaskConfig`` (the keys every task has) and
holds the defaults; the task's yaml (``conf/task/<name>.yaml``) sets only what differs and says what each key means.
A task added later may keep its schema in its own module instead (``Task.config``): ``register_task_schemas``
registers it from there, at the price of importing that module before composition.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


class SentimentDataset(Choice):
    mr = "mr"
    sst = "sst"
    sst2 = "sst2"


class SentimentEncoder(Choice):
    bilstm = "bilstm"
    bcn = "bcn"


class Pooling(Choice):
    max = "max"
    mean = "mean"
    min = "min"


@dataclass
class TextClassifierFields:
    """The sentence classifier's keys (``tasks/sentiment.py``'s model), shared by ``task=mr|sst|sst2`` and
    ``task=classify``: the encoder, its pooling and sizes."""

    encoder: SentimentEncoder = SentimentEncoder.bilstm  # bilstm (BiLSTM + pooling) | bcn (the paper's BCN)
    pooling: List[Pooling] = field(default_factory=lambda: [Pooling.max, Pooling.mean])  # bilstm only
    hidden_dim: int = 100
    num_layers: int = 1
    dropout: float = 0.2
    batch_size: int = 64


@dataclass
class SentimentConfig(TextClassifierFields, TaskConfig):
    """``task.*`` of the sentiment tasks (``tasks/sentiment.py``; ``conf/task/_sentiment.yaml``)."""

    module: str = "tasks.sentiment"
    dataset: SentimentDataset = SentimentDataset.mr
    phrases: bool = False  # sst/sst2: also train on every subtree (phrase) of the train trees
    min_phrase_tokens: int = 1  # with phrases: the shortest phrase kept (the paper's SST-5 model: 4)
    download: bool = True  # sst/sst2 without data_dir: download the official zip once into the cache
    eval_batch_size: Optional[int] = 256
    max_epochs: Optional[int] = 3


class TagScheme(Choice):
    bio = "bio"
    bioes = "bioes"


@dataclass
class NerConfig(TaskConfig):
    """``task.*`` of the BiLSTM-CRF tagger (``tasks/ner.py``; ``conf/task/conll2003.yaml``)."""

    module: str = "tasks.ner"
    objective: str = "val/f1"
    download: bool = True
    scheme: TagScheme = TagScheme.bioes
    min_count: int = 2
    char_dim: int = 16
    char_filters: int = 64
    char_width: int = 3
    hidden_dims: List[int] = field(default_factory=lambda: [200, 200])
    dropout: float = 0.5
    eval_batch_size: Optional[int] = 128
    gradient_clip_val: Optional[float] = 5.0
    max_epochs: Optional[int] = 30


@dataclass
class SquadConfig(TaskConfig):
    """``task.*`` of SQuAD with BiDAF (``tasks/squad.py``; ``conf/task/squad.yaml``)."""

    module: str = "tasks.squad"
    objective: str = "val/f1"
    download: bool = True
    val_fraction: float = 0.05
    max_train_questions: Optional[int] = None  # deprecated name of task.train_examples (TaskConfig)
    max_passage_tokens: Optional[int] = 400
    max_answer_len: int = 17
    char_dim: int = 16
    char_filters: int = 64
    char_width: int = 5
    hidden_dim: int = 50
    modeling_dim: int = 50
    modeling_layers: int = 2
    self_attention: bool = False
    dropout: float = 0.2
    eval_batch_size: Optional[int] = 64
    gradient_clip_val: Optional[float] = 5.0
    max_epochs: Optional[int] = 20


class ProbeKind(Choice):
    linear = "linear"
    mlp = "mlp"


@dataclass
class ProbeConfig(TaskConfig):
    """``task.*`` of the probe (``tasks/probe.py``; ``conf/task/probe.yaml``)."""

    module: str = "tasks.probe"
    column: int = 2
    download: bool = True
    probe: ProbeKind = ProbeKind.linear  # linear: one linear layer | mlp: mlp_layers ReLU layers, then linear
    mlp_hidden: int = 100
    mlp_layers: int = 1
    control_task: bool = False  # Hewitt & Liang (2019): each word type gets a fixed random label instead
    control_seed: int = 0  # seeds the control task's labels
    eval_batch_size: Optional[int] = 256
    lr: float = 0.01
    max_epochs: Optional[int] = 5


@dataclass
class HfSplits:
    """``task.hf_splits.*``: which split of a Hugging Face dataset each split is (null: the usual names,
    ``elmo_lab.data.hf.DEFAULT_SPLITS``)."""

    train: Optional[str] = None
    dev: Optional[str] = None
    test: Optional[str] = None


@dataclass
class TabularConfig(TaskConfig):
    """``task.*`` shared by the tasks on a user's own data (``task=classify``, ``task=pairs``; not a task itself).
    Readers: ``elmo_lab.data.tabular`` (CSV/TSV/JSONL) and ``elmo_lab.data.hf`` (Hugging Face datasets)."""

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


@dataclass
class ClassifyConfig(TextClassifierFields, TabularConfig):
    """``task.*`` of single-text classification on a user's data (``tasks/classify.py``; ``conf/task/classify.yaml``):
    the sentiment task's model (``encoder``, ``pooling``, ...) on any labelled text."""

    module: str = "tasks.classify"
    text_field: str = "text"
    max_epochs: Optional[int] = 5


@dataclass
class PairsConfig(TabularConfig):
    """``task.*`` of sentence-pair classification (NLI) with ESIM (``tasks/pairs.py``; ``conf/task/pairs.yaml``)."""

    module: str = "tasks.pairs"
    text_fields: List[str] = field(default_factory=lambda: ["sentence1", "sentence2"])  # premise, hypothesis
    hidden_dim: int = 100  # encoder and composition LSTM cells per direction, projection and MLP width (ESIM: 300)
    dropout: float = 0.5
    batch_size: int = 32
    lr: float = 0.0004  # Adam, as ESIM
    gradient_clip_val: Optional[float] = 10.0
    max_epochs: Optional[int] = 10


# schema name (``task/<name>`` in Hydra's ConfigStore, listed first in the task yaml's defaults) -> schema
TASK_SCHEMAS = {"_sentiment_schema": SentimentConfig, "_ner_schema": NerConfig, "_squad_schema": SquadConfig,
                "_probe_schema": ProbeConfig, "_classify_schema": ClassifyConfig, "_pairs_schema": PairsConfig}
