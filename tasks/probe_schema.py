"""The typed ``task.*`` schema of the probe (``tasks/probe.py``), light: composing a config imports no torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


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


SCHEMA = ProbeConfig
