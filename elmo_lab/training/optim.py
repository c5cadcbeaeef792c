"""The task optimizer and its optional learning-rate schedule, from the ``task.*`` config (built by
``elmo_lab.util.optim``, the factory biLM pretraining and fine-tuning use too).

``task.optimizer``: ``adam`` (default), ``adamw``, ``sgd`` (``task.momentum``), ``adagrad`` or ``adadelta``; ``lr``,
``weight_decay`` and, for the Adam family, ``betas`` (BiDAF uses (0.9, 0.9)).

``task.lr_scheduler.name``: ``none``; ``plateau`` — multiply the lr by ``factor`` when the objective
(``task.objective``, direction ``task.objective_mode``) has not improved for ``patience`` validations (the reference
BiDAF's schedule); ``linear`` — decay linearly to 0 over the run's optimizer steps.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from omegaconf import DictConfig

from elmo_lab.util.optim import make_optimizer, with_schedule


def build_optimizer(params: Iterable[torch.nn.Parameter], task: DictConfig, monitor: str,
                    total_steps: int | float | None = None) -> Any:
    """An optimizer, or Lightning's ``{"optimizer", "lr_scheduler"}`` dict when a schedule is set."""
    optimizer = make_optimizer(str(task.get("optimizer", "adam")), params, task.lr,
                               weight_decay=task.get("weight_decay", 0.0) or 0.0, betas=task.get("betas"),
                               momentum=task.get("momentum", 0.0) or 0.0, key="task.optimizer")
    schedule = task.get("lr_scheduler") or {}
    return with_schedule(optimizer, str(schedule.get("name", "none")), monitor=monitor,
                         mode=str(task.get("objective_mode", "max")), factor=schedule.get("factor", 0.5),
                         patience=schedule.get("patience", 2), total_steps=total_steps, key="task.lr_scheduler.name")
