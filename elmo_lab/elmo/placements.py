"""Where ELMo goes in a task model — written once, used by every task.

A task describes its contextual encoder with a factory ``in_dim -> module`` (the module has ``.output_dim`` and is
called as ``encoder(x (batch, time, in_dim), mask (batch, time)) -> (batch, time, output_dim)``).
``ElmoPlacedEncoder`` wraps it:

=========  ====================================================  ======================================
placement  encoder input                                          output
=========  ====================================================  ======================================
none       x_k                                                    h_k
input      [x_k; ELMo_k]                                          h_k
output     x_k                                                    [h_k; ELMo_k]
both       [x_k; ELMo_k^in]                                       [h_k; ELMo_k^out]   (two independent mixes)
=========  ====================================================  ======================================

The encoder itself is not run here: the caller runs it once per batch (``ContextualLayers``) and passes its layers, so
two mixes read one biLM pass.  ``ElmoSettings`` (the ``elmo.*`` config) builds placed encoders; the task model owns them
as ordinary submodules, and ``placed_mixes`` / ``elmo_penalty`` find them by walking the model.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import torch
from torch import nn

from elmo_lab.config.choices import PLACEMENTS  # defined once, by the enum of the config schema
from elmo_lab.config.schema import ConfigError, ElmoConfig
from elmo_lab.elmo.mix import ScalarMix

_DEFAULT = ElmoConfig()  # the defaults of ``elmo.*`` have one home: the schema


def uses_input(placement: str) -> bool:
    return placement in ("input", "both")


def uses_output(placement: str) -> bool:
    return placement in ("output", "both")


class ElmoPlacedEncoder(nn.Module):
    """A task's contextual encoder with ELMo concatenated at its input, its output, both or neither.

    # Parameters
    word_dim : width of the task's own token vectors ``x_k``.
    bilm_num_layers, bilm_dim : ``L + 1`` and the width of each biLM layer.
    encoder_factory : ``in_dim -> module`` with ``.output_dim``, called as ``(x, mask)``.
    placement : ``none`` | ``input`` | ``output`` | ``both``.
    mix, layer_norm, layer, max_layer : passed to each ``ScalarMix`` (see ``elmo_lab.elmo.mix``).
    dropout : applied to each ELMo vector before concatenation.
    l2_coef : λ in ``λ · Σ w²`` (see ``regularization_loss``).
    """

    def __init__(self, word_dim: int, bilm_num_layers: int, bilm_dim: int,
                 encoder_factory: Callable[[int], nn.Module], placement: str = "none", mix: str = "all",
                 layer_norm: bool = False, layer: int | None = None, dropout: float = 0.0,
                 l2_coef: float = 0.0, max_layer: int | None = None) -> None:
        super().__init__()
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
        self.placement = placement
        self.l2_coef = l2_coef
        self.dropout = nn.Dropout(dropout)

        def new_mix() -> ScalarMix:
            return ScalarMix(bilm_num_layers, mode=mix, layer_norm=layer_norm, layer=layer, max_layer=max_layer)

        self.input_mix = new_mix() if uses_input(placement) else None
        self.output_mix = new_mix() if uses_output(placement) else None
        self.encoder = encoder_factory(word_dim + (bilm_dim if self.input_mix is not None else 0))
        self.output_dim = self.encoder.output_dim + (bilm_dim if self.output_mix is not None else 0)

    @property
    def needs_bilm(self) -> bool:
        return self.placement != "none"

    def mixes(self) -> dict[str, ScalarMix]:
        """``{name: ScalarMix}`` of the mixes in use (``input`` / ``output``), for logging."""
        named = {"input": self.input_mix, "output": self.output_mix}
        return {name: m for name, m in named.items() if m is not None}

    def regularization_loss(self) -> torch.Tensor:
        """``λ · Σ_mixes Σ_j w_j²`` on the raw mixing weights (0 when nothing is learned)."""
        penalties = [m.l2_penalty() for m in self.mixes().values()]
        if not penalties:
            return torch.zeros((), device=next(iter(self.parameters()), torch.zeros(())).device)
        return self.l2_coef * torch.stack(penalties).sum()

    def forward(self, words: torch.Tensor, mask: torch.Tensor,
                bilm_layers: torch.Tensor | None = None) -> torch.Tensor:
        """``words`` (batch, time, word_dim), ``mask`` (batch, time), ``bilm_layers`` (batch, L+1, time, bilm_dim)
        aligned with ``words`` (no sentence boundaries) → (batch, time, output_dim)."""
        if self.needs_bilm and bilm_layers is None:
            raise ValueError(f"placement {self.placement!r} needs the biLM layers")
        x = words
        if self.input_mix is not None:
            elmo_in = self.dropout(self.input_mix(bilm_layers, mask))  # (batch, time, bilm_dim)
            # (batch, time, word_dim + bilm_dim); a probe has no word vectors (word_dim 0): no copy then
            x = elmo_in if x.size(-1) == 0 else torch.cat([x, elmo_in], -1)
        h = self.encoder(x, mask)  # (batch, time, encoder.output_dim)
        if self.output_mix is not None:
            elmo_out = self.dropout(self.output_mix(bilm_layers, mask))  # (batch, time, bilm_dim)
            h = torch.cat([h, elmo_out], -1)  # (batch, time, output_dim)
        return h


@dataclass(frozen=True)
class ElmoSettings:
    """The ``elmo.*`` config: where ELMo goes and how its mixes are made (see ``ElmoPlacedEncoder``); what is not
    given is the schema's default (``elmo_lab.config.schema.ElmoConfig``)."""

    placement: str = _DEFAULT.placement.value
    mix: str = _DEFAULT.mix.value
    layer: int | None = _DEFAULT.layer
    max_layer: int | None = _DEFAULT.max_layer
    layer_norm: bool = _DEFAULT.layer_norm
    dropout: float = _DEFAULT.dropout
    l2_coef: float = _DEFAULT.l2_coef
    mix_lr: float | None = _DEFAULT.mix_lr  # read by the task's optimizer (ElmoTaskModule.configure_optimizers)

    @classmethod
    def from_config(cls, elmo: dict) -> "ElmoSettings":
        """From the ``elmo.*`` config as a plain dict (enum values as strings)."""
        return cls(**{f.name: elmo[f.name] for f in fields(cls) if f.name in elmo})

    @property
    def reads_bilm(self) -> bool:
        """Some placement reads the biLM layers."""
        return self.placement != "none"

    def place(self, word_dim: int, encoder_factory: Callable[[int], nn.Module], bilm_num_layers: int,
              bilm_dim: int) -> "ElmoPlacedEncoder":
        """A task's contextual encoder with ELMo placed as these settings say (each call has its own mixes).
        ``elmo.layer`` is checked here against the encoder's ``L + 1`` layers (``bilm_num_layers``)."""
        if self.reads_bilm and self.mix == "layer" and not 0 <= int(self.layer) < bilm_num_layers:
            raise ConfigError(f"elmo.layer: the encoder has layers 0..{bilm_num_layers - 1} (0 = its token layer), "
                              f"got {self.layer}")
        if self.reads_bilm and self.max_layer is not None and not 0 <= int(self.max_layer) < bilm_num_layers:
            raise ConfigError(f"elmo.max_layer: the encoder has layers 0..{bilm_num_layers - 1} (0 = its token "
                              f"layer), got {self.max_layer}")
        return ElmoPlacedEncoder(word_dim, bilm_num_layers if self.reads_bilm else 0,
                                 bilm_dim if self.reads_bilm else 0, encoder_factory, placement=self.placement,
                                 mix=self.mix, layer_norm=self.layer_norm, layer=self.layer, dropout=self.dropout,
                                 l2_coef=self.l2_coef, max_layer=self.max_layer if self.reads_bilm else None)


def placed_encoders(model: nn.Module) -> dict[str, "ElmoPlacedEncoder"]:
    """Every ``ElmoPlacedEncoder`` of ``model``, by its module path (found by walking the model, so nothing has
    to register them)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, ElmoPlacedEncoder)}


def placed_mixes(model: nn.Module) -> dict[str, ScalarMix]:
    """Every scalar mix of ``model``: ``input``/``output``, prefixed ``<encoder path>.`` when there are several
    placed encoders."""
    encoders = placed_encoders(model)
    out = {}
    for name, encoder in encoders.items():
        for mix_name, mix in encoder.mixes().items():
            out[mix_name if len(encoders) == 1 else f"{name}.{mix_name}"] = mix
    return out


def penalized_encoders(model: nn.Module) -> list["ElmoPlacedEncoder"]:
    """The placed encoders of ``model`` whose penalty can be non-zero: λ > 0 and a mix with learned weights."""
    return [e for e in placed_encoders(model).values()
            if e.l2_coef and any(m.learned_weights is not None for m in e.mixes().values())]


def elmo_penalty(model: nn.Module, encoders: list["ElmoPlacedEncoder"] | None = None) -> torch.Tensor:
    """Σ of ``λ·Σw²`` over ``encoders`` (default: ``penalized_encoders(model)``; the others add exactly 0); a zero
    scalar when there are none."""
    terms = [encoder.regularization_loss() for encoder in
             (penalized_encoders(model) if encoders is None else encoders)]
    if not terms:
        return torch.zeros(())
    return torch.stack([t.to(terms[0].device) for t in terms]).sum()
