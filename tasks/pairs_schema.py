"""The typed ``task.*`` schema of sentence-pair classification (``tasks/pairs.py``), light: composing a config
imports no torch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from elmo_lab.config.tasks import TabularConfig


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


SCHEMA = PairsConfig
