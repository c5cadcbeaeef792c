"""The typed ``task.*`` schema of edge probing (``tasks/edge_probe.py``), light: composing a config imports no
torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig


class EdgeSource(Choice):
    deprel = "deprel"  # UD EWT relations on (dependent, head) word pairs
    entities = "entities"  # CoNLL-2003 entity spans and their types
    spr2 = "spr2"  # UDS proto-role properties of (predicate, argument) pairs, multi-label
    supersense = "supersense"  # UDS noun supersenses
    file = "file"  # jiant edge-probing JSON files in task.data_dir


class SpanPoolingKind(Choice):
    attention = "attention"  # self-attentive pooling over the span's tokens
    endpoints = "endpoints"  # the first and last tokens' vectors, concatenated


@dataclass
class EdgeProbeConfig(TaskConfig):
    """``task.*`` of edge probing (``conf/task/edge_*.yaml``)."""

    module: str = "tasks.edge_probe"
    source: EdgeSource = EdgeSource.file  # what load_edge_splits reads
    download: bool = True
    pooling: SpanPoolingKind = SpanPoolingKind.attention
    proj_dim: int = 256  # the per-token projection (one per span)
    mlp_hidden: int = 256
    labels: Optional[List[str]] = None  # the label set; null: the training split's labels
    control_task: bool = False  # each target's label set a function of its spans' head words (EdgeControl)
    control_seed: int = 0
    objective: str = "val/f1"
    batch_size: int = 32
    eval_batch_size: Optional[int] = 64
    # Tenney et al. train with Adam at 1e-4 for far longer; at 1e-3 the default biLM's layer 1 reaches dev micro-F1
    # 0.76 on edge_deprel (majority 0.13) in 3 epochs of 3,000 training sentences (one seed, measured 2026-12-07)
    lr: float = 0.001
    max_epochs: Optional[int] = 10


SCHEMA = EdgeProbeConfig
