"""The typed ``task.*`` schema of the BiLSTM-CRF tagger (``tasks/ner.py``), light: composing a config imports no
torch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


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


SCHEMA = NerConfig
