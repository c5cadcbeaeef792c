"""The typed ``task.*`` schema of the structural probe (``tasks/structural_probe.py``), light: composing a config
imports no torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


class StructuralTarget(Choice):
    distance = "distance"  # squared distance ||B(h_i - h_j)||^2 fitted to the tree distance; uuas, dspr
    depth = "depth"  # squared norm ||B h_i||^2 fitted to the tree depth; root_acc, nspr


@dataclass
class StructuralProbeConfig(TaskConfig):
    """``task.*`` of the structural probe (``conf/task/structural_distance.yaml``, ``structural_depth.yaml``)."""

    module: str = "tasks.structural_probe"
    target: StructuralTarget = StructuralTarget.distance
    # rank of B (rank x dim): Hewitt & Manning's rank sweep levels off well below the width of the representation;
    # 64 leaves room to reach it while keeping B small (the paper's own runs use the full width)
    rank: int = 64
    download: bool = True
    control_task: bool = False  # the control trees of elmo_lab.probing.controls.TreeControl instead of the gold ones
    control_seed: int = 0
    objective: str = "val/dspr"  # val/dspr or val/uuas (distance); val/nspr or val/root_acc (depth)
    eval_batch_size: Optional[int] = 64
    batch_size: int = 20
    lr: float = 0.001  # Adam at 0.001, as in the paper
    max_epochs: Optional[int] = 10


SCHEMA = StructuralProbeConfig
