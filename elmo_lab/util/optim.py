"""Optimizers and learning-rate schedules by name: the one factory behind task training (``task.optimizer``,
``task.lr_scheduler``), biLM pretraining (``model.optimizer``, ``model.lr_schedule``) and biLM fine-tuning.

Each caller reads its own config keys and passes plain values; the names and what they build live here only.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
               "adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta}
SCHEDULES = ("none", "plateau", "linear")


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0,
                   betas: Sequence[float] | None = None, momentum: float = 0.0,
                   initial_accumulator: float = 0.0, key: str = "optimizer") -> torch.optim.Optimizer:
    """``adam`` / ``adamw`` (``betas``), ``sgd`` (``momentum``), ``adagrad`` (``initial_accumulator``: bilm-tf
    starts it at 1.0) or ``adadelta``; ``key`` names the config key in the error for another name."""
    if name not in _OPTIMIZERS:
        raise ValueError(f"{key}: expected one of {', '.join(_OPTIMIZERS)}, got {name!r}")
    own = {"adam": {"betas": tuple(betas or (0.9, 0.999))}, "adamw": {"betas": tuple(betas or (0.9, 0.999))},
           "sgd": {"momentum": momentum}, "adagrad": {"initial_accumulator_value": initial_accumulator}}
    return _OPTIMIZERS[name](list(params), lr=lr, weight_decay=weight_decay, **own.get(name, {}))


def with_schedule(optimizer: torch.optim.Optimizer, name: str, monitor: str | None = None, mode: str = "max",
                  factor: float = 0.5, patience: int = 2, total_steps: int | float | None = None,
                  key: str = "lr_scheduler") -> Any:
    """``optimizer`` alone (``none``) or Lightning's ``{"optimizer", "lr_scheduler"}``: ``plateau`` multiplies the
    lr by ``factor`` once ``monitor`` (direction ``mode``) has not improved for ``patience`` validations;
    ``linear`` decays it linearly to 0 over ``total_steps`` optimizer steps."""
    if name == "none":
        return optimizer
    if name == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": monitor, "interval": "epoch", "strict": True}}
    if name == "linear":
        steps = max(1, int(total_steps or 1))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
    raise ValueError(f"{key}: expected one of {', '.join(SCHEDULES)}, got {name!r}")
