"""The task optimizer and its optional learning-rate schedule, from the ``task.*`` config.

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

OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad", "adadelta")
SCHEDULERS = ("none", "plateau", "linear")


def build_optimizer(params: Iterable[torch.nn.Parameter], task: DictConfig, monitor: str,
                    total_steps: int | float | None = None) -> Any:
    """An optimizer, or Lightning's ``{"optimizer", "lr_scheduler"}`` dict when a schedule is set."""
    name = str(task.get("optimizer", "adam"))
    lr, decay = task.lr, task.get("weight_decay", 0.0) or 0.0
    params = list(params)
    betas = tuple(task.get("betas") or (0.9, 0.999))
    if name == "adam":
        optimizer = torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=decay)
    elif name == "adamw":
        optimizer = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=decay)
    elif name == "sgd":
        optimizer = torch.optim.SGD(params, lr=lr, momentum=task.get("momentum", 0.0) or 0.0, weight_decay=decay)
    elif name == "adagrad":
        optimizer = torch.optim.Adagrad(params, lr=lr, weight_decay=decay)
    elif name == "adadelta":
        optimizer = torch.optim.Adadelta(params, lr=lr, weight_decay=decay)
    else:
        raise ValueError(f"task.optimizer: expected one of {', '.join(OPTIMIZERS)}, got {name!r}")
    schedule = task.get("lr_scheduler") or {}
    kind = str(schedule.get("name", "none"))
    if kind == "none":
        return optimizer
    if kind == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=str(task.get("objective_mode", "max")), factor=schedule.get("factor", 0.5),
            patience=schedule.get("patience", 2))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": monitor, "interval": "epoch", "strict": True}}
    if kind == "linear":
        steps = max(1, int(total_steps or 1))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
    raise ValueError(f"task.lr_scheduler.name: expected one of {', '.join(SCHEDULERS)}, got {kind!r}")
