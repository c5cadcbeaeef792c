"""``ContextualEncoder``: what the pipeline, the datamodule, the layer cache and the probes need from the thing that
turns token sequences into ``L + 1`` layers per token.

An encoder kind (``bilm.kind``, ``elmo_lab.config.encoder_kinds``) subclasses it and gives

- ``from_config(bilm)``: itself, built from the ``bilm.*`` config (a plain dict);
- ``num_layers`` (``L + 1``) and ``output_dim``: what the mixes and the probes are built for (``layers_in(bilm)``:
  the same count before a run, for the probe sweep);
- ``encode(tokens, inputs)``: ``(batch, L + 1, time, dim)``, one row per token sequence, zero at padding, no
  sentence boundaries, aligned with the tokens;
- ``batch_input()``: what a batch must carry for it (character ids today, word pieces for another kind), built by
  the data loader's workers with a picklable callable the encoder hands out; None builds it from the tokens inside
  ``encode``.  The task datamodule only stores the result under ``batch["encoder_input"]``;
- ``cache_identity()``: a digest of its weights and of everything else that changes its output (the shared layer
  cache keys entries by it), and ``describe()`` for the cache manifest;
- ``directions_supported``: it is a biLM whose layers are ``[forward; backward]`` halves and honours
  ``bilm.directions=forward|backward`` (one half); a kind without it refuses anything but ``both`` at build;
- state: ``supports_state`` and ``reset_state()`` (a stateful encoder carries state between batches, so it is never
  cached); freezing and checkpoints are handled by the stage that holds it (``elmo_lab.elmo.provider``);
- ``adapts`` and ``prepare(context)``: a change of its own weights before task training (the LSTM biLM's fine-tuning
  on the task's text), owned by the encoder, not the pipeline.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import nn

ENCODER_INPUT = "encoder_input"  # the batch key under which collate puts what ``batch_input()`` builds
BatchInput = Callable[[list[list[str]]], Any]  # token lists of a batch -> what ``encode`` reads (picklable)


@dataclass
class PrepareContext:
    """What an encoder's ``prepare`` may use: the task's training and dev text (distinct token sequences), the
    device to work on (the trainer's) and the run's seed."""

    train_text: list[list[str]]
    dev_text: list[list[str]]
    device: torch.device
    seed: int


class ContextualEncoder(nn.Module, ABC):
    """Token sequences → ``(batch, L + 1, time, dim)`` layers (see the module docstring)."""

    kind: ClassVar[str] = ""
    supports_state: ClassVar[bool] = False
    directions_supported: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_config(cls, bilm: dict) -> "ContextualEncoder":
        """The encoder that the ``bilm.*`` config (a plain dict) describes."""

    @classmethod
    def layers_in(cls, bilm: dict) -> int:
        """``L + 1`` of the encoder ``bilm.*`` describes, before any run (``experiment=probe_layers`` sweeps one job
        per layer).  By default it builds the encoder; a kind whose weights are large reads its description."""
        return cls.from_config(bilm).num_layers

    @property
    @abstractmethod
    def num_layers(self) -> int:
        """``L + 1`` representations per token."""

    @property
    @abstractmethod
    def output_dim(self) -> int:
        """The width of every layer."""

    @abstractmethod
    def encode(self, tokens: Sequence[Sequence[str]], inputs: Any = None, stateful: bool = False) -> torch.Tensor:
        """``(batch, L + 1, time, dim)`` for ``tokens``; ``inputs`` is what ``batch_input()`` built for them (None:
        build it here)."""

    def batch_input(self) -> BatchInput | None:
        """A picklable callable that collate runs on a batch's token lists (None: ``encode`` needs only tokens)."""
        return None

    def identity_config(self) -> dict:
        """Everything besides the weights that changes the output (hashed into ``cache_identity``)."""
        return {"kind": self.kind}

    def cache_identity(self) -> str:
        """SHA-256 of ``identity_config()`` and of every weight tensor (memoised while the weights stay)."""
        from elmo_lab.cache.store import weights_digest

        return weights_digest(self, config=self.identity_config())

    def describe(self) -> dict:
        """What the layer cache's manifest records about the encoder (``cache info`` shows ``arch``)."""
        return {"kind": self.kind, "arch": f"{self.kind} {self.num_layers}x{self.output_dim}"}

    def reset_state(self) -> None:
        """Forget the state carried between stateful calls (only kinds with ``supports_state`` have one)."""

    @property
    def adapts(self) -> bool:
        """``prepare`` changes the weights (so a run keeps them in its checkpoints)."""
        return False

    def prepare(self, context: PrepareContext) -> dict | None:
        """Adapt the encoder before task training (e.g. LM fine-tuning on ``context.train_text``); a JSON report
        (the run's ``finetune.json``), or None when there is nothing to do."""
        return None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
