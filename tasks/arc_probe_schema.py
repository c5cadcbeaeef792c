"""The typed ``task.*`` schema of the arc probe (``tasks/arc_probe.py``), light: composing a config imports no
torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


class ArcScorer(Choice):
    mlp = "mlp"  # Liu et al. (2019): an MLP over [x; y; x * y]
    bilinear = "bilinear"  # x^T W y: one bilinear form (Hewitt & Liang's bilinear probe)


@dataclass
class ArcProbeConfig(TaskConfig):
    """``task.*`` of the arc probe (``conf/task/arc_head.yaml``)."""

    module: str = "tasks.arc_probe"
    scorer: ArcScorer = ArcScorer.mlp
    proj_dim: int = 128  # each vector is first projected to this width (keeps the pairwise tensors small)
    mlp_hidden: int = 128
    download: bool = True
    control_task: bool = False  # Hewitt & Liang: each word type attaches to itself, the first or the last word
    control_seed: int = 0
    objective: str = "val/uas"
    batch_size: int = 20
    eval_batch_size: Optional[int] = 64
    lr: float = 0.001
    max_epochs: Optional[int] = 10


SCHEMA = ArcProbeConfig
