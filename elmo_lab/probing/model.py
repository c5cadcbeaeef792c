"""The probe's model parts: an identity contextual encoder (with no word vectors and ``elmo.placement=input``, what
it returns is the encoder's mixed vector itself) and the classifier on top (linear, or a small MLP)."""
from __future__ import annotations

import torch
from torch import nn


class IdentityEncoder(nn.Module):
    """The identity as a contextual encoder: with no word vectors, what it returns is the ELMo vector."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.output_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x  # (batch, time, dim)


def probe_classifier(in_dim: int, num_labels: int, kind: str = "linear", hidden: int = 100,
                     layers: int = 1) -> nn.Module:
    """``linear``: ``nn.Linear(in_dim, num_labels)``; ``mlp``: ``layers`` × (Linear → ReLU) of ``hidden`` units,
    then ``nn.Linear(hidden, num_labels)``."""
    if str(kind) == "linear":
        return nn.Linear(in_dim, num_labels)
    dims = [in_dim] + [hidden] * layers
    body = [m for d_in, d_out in zip(dims, dims[1:]) for m in (nn.Linear(d_in, d_out), nn.ReLU())]
    return nn.Sequential(*body, nn.Linear(hidden, num_labels))


def probe_vectors(module: torch.nn.Module, batch: dict) -> torch.Tensor:
    """The representation a probe reads, (batch, time, dim): ``module.encoder`` (a placed ``IdentityEncoder`` with
    no word vectors, ``elmo.placement=input``) over ``module.elmo``'s layers of the batch (one layer or the mix)."""
    mask = batch["mask"]  # (batch, time)
    layers = module.elmo.layers_of(batch)  # (batch, L+1, time, dim)
    words = layers.new_zeros(mask.size(0), mask.size(1), 0)  # (batch, time, 0): no word vectors
    return module.encoder(words, mask, layers)  # (batch, time, dim)


def require_frozen_input(config: dict, example: str) -> None:
    """A probe of the encoder's vector needs ``elmo.placement=input`` and ``bilm.freeze=true`` (``ConfigError``
    naming the key otherwise; ``example`` is a command that sets them)."""
    from elmo_lab.config.schema import ConfigError

    placement = str(config["elmo"]["placement"])
    if placement != "input":
        raise ConfigError(f"elmo.placement: the probe reads the encoder's vector (elmo.placement=input), got "
                          f"{placement}; e.g. {example}")
    if not config["bilm"].get("freeze", True):
        raise ConfigError("bilm.freeze: the probe reads a fixed encoder; use bilm.freeze=true")


def require_positive(task: dict, keys: tuple[str, ...]) -> None:
    """Each of ``task.<key>`` (widths, layer counts) is at least 1 (``ConfigError`` naming the key otherwise)."""
    from elmo_lab.config.schema import ConfigError

    for key in keys:
        if (task or {}).get(key, 1) < 1:
            raise ConfigError(f"task.{key}: must be >= 1, got {task[key]}")


def settings_view(module: torch.nn.Module) -> dict:
    """What a probe's config check reads, from a built task module: its placement, whether the encoder is frozen
    and its ``task.*`` (the check runs again at build, where the module's settings are final)."""
    return {"elmo": {"placement": module.settings.placement}, "bilm": {"freeze": module.elmo.freeze},
            "task": module.task_cfg}
