"""The typed ``task.*`` schema of SQuAD with BiDAF (``tasks/squad.py``), light: composing a config imports no torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from elmo_lab.config.schema import TaskConfig


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


SCHEMA = SquadConfig
