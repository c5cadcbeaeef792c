"""``ContextualLayers``: the stage of a task model that turns token sequences into an encoder's layers.

Built once per run from the ``bilm.*`` config (``ContextualLayers.from_config``) and handed to the task model, which
keeps it as its ``elmo`` submodule and calls ``layers_of(encoded)`` once per token sequence of a batch (a sentence, a
passage, a question: what the datamodule's ``encode_tokens`` made of it).  It holds

- the contextual encoder (``bilm.kind``: the LSTM biLM by default; ``elmo_lab.contextual``), loaded only when
  something reads it (``needed``: ``elmo.placement != none``, or an encoder that adapts itself; the pipeline
  decides); a frozen encoder stays in eval mode and, when constant for the run, is left out of checkpoints
  (rebuilt from ``bilm.*`` on load); a stateful one is reset by ``reset_state``;
- the per-sequence layer cache (``SequenceLayerCache``) when the encoder is frozen and stateless (``bilm.cache``):
  the pipeline fills it from the datamodule's sequences (``cache.add``) before training.

What the data side needs follows from it as one plain value, read by the pipeline: ``batch_input`` (what collate
builds for the encoder when it runs per batch; None when its layers come from the cache).  It knows nothing of
placements or mixes: those are the task model's modules (``elmo_lab.elmo.placements``).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from elmo_lab.cache.store import LayerStore
from elmo_lab.config.schema import ConfigError
from elmo_lab.contextual.base import ENCODER_INPUT, BatchInput, ContextualEncoder, PrepareContext
from elmo_lab.config.encoder_kinds import encoder_class
from elmo_lab.elmo.layer_cache import SequenceLayerCache

ENCODER_PREFIX = "encoder."
LAYERS = "encoder_layers"  # the batch key of layers computed once for a batch that several models read
LEGACY_PREFIX = "bilm."  # checkpoints written before the encoder interface kept the LSTM biLM here


class ContextualLayers(nn.Module):
    """The contextual encoder of a run (or none), its freezing, checkpoint hooks, state and layer cache.

    # Parameters
    encoder : the encoder, or None when nothing reads it.
    freeze : keep the encoder fixed (no gradients, eval mode).
    stateful : carry state across batches (``reset_state`` at epoch starts; only kinds that support it).
    cache : reuse the layers of each distinct sequence (applies only when frozen and stateless).
    cache_store : where the reused layers go: a ``LayerStore`` shared across runs, or None (this run's memory).
    """

    def __init__(self, encoder: ContextualEncoder | None, freeze: bool = True, stateful: bool = False,
                 cache: bool = False, cache_store: LayerStore | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.freeze, self.stateful = freeze, stateful
        use_cache = encoder is not None and cache and freeze and not stateful
        self.cache = SequenceLayerCache(cache_store) if use_cache else None
        if encoder is not None and freeze:
            encoder.requires_grad_(False)
            encoder.eval()
        self.register_state_dict_post_hook(_drop_constant_encoder)
        self.register_load_state_dict_pre_hook(_restore_constant_encoder)

    @classmethod
    def from_config(cls, bilm: dict, needed: bool) -> "ContextualLayers":
        """The stage for the ``bilm.*`` config (a plain dict); builds the encoder of ``bilm.kind`` only if ``needed``
        or if it would adapt itself (``bilm.finetune.enabled``)."""
        kind = str(bilm.get("kind", "lstm"))
        stateful = bool(bilm.get("stateful", False))
        encoder = None
        if needed or bilm.get("finetune", {}).get("enabled", False):
            cls_ = encoder_class(kind)
            if stateful and not cls_.supports_state:
                raise ConfigError(f"bilm.stateful: encoder kind {kind!r} carries no state between batches; "
                                  "use bilm.stateful=false")
            directions = str(bilm.get("directions", "both"))
            if directions != "both" and not cls_.directions_supported:
                raise ConfigError(f"bilm.directions: encoder kind {kind!r} has no forward/backward directions; "
                                  "use bilm.directions=both")
            encoder = cls_.from_config(bilm)
        return cls(encoder, freeze=bilm.get("freeze", True), stateful=stateful,
                   cache=bool(needed and bilm.get("cache", False)), cache_store=LayerStore.from_config(bilm))

    # --- plain values for the data side and the placements ------------------------------------------------------
    @property
    def batch_input(self) -> BatchInput | None:
        """What collate builds for the encoder (it runs per batch: no cache), or None."""
        return self.encoder.batch_input() if self.encoder is not None and self.cache is None else None

    @property
    def num_layers(self) -> int:
        """``L + 1`` representations per token (0 without an encoder)."""
        return self.encoder.num_layers if self.encoder is not None else 0

    @property
    def output_dim(self) -> int:
        return self.encoder.output_dim if self.encoder is not None else 0

    @property
    def constant(self) -> bool:
        """The encoder never changes in this run (frozen, not adapted): checkpoints leave it out."""
        return self.encoder is not None and self.freeze and not self.encoder.adapts

    # --- the layers ---------------------------------------------------------------------------------------------
    def layers(self, tokens: Sequence[Sequence[str]], inputs: Any = None) -> torch.Tensor | None:
        """The encoder's layers of a batch of token sequences: (batch, L + 1, time, dim), or None without one.
        ``inputs`` is what collate built for the encoder (``batch[ENCODER_INPUT]``; built from ``tokens`` if absent)."""
        if self.encoder is None:
            return None
        if self.cache is not None:
            cached = self.cache.lookup(self.encoder, tokens)
            if cached is not None:
                return cached
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            return self.encoder.encode(tokens, inputs, stateful=self.stateful)  # (batch, L + 1, time, dim)

    def layers_of(self, encoded: dict) -> torch.Tensor | None:
        """``layers`` of one encoded token sequence batch (``encode_tokens``' dict: ``tokens`` and, when the encoder
        runs per batch, ``encoder_input``): (batch, L + 1, time, dim), or None without an encoder.  A batch that already
        holds them (``LAYERS``: set once per batch where several models read the same batch) is answered from it."""
        if LAYERS in encoded:
            return encoded[LAYERS]
        return self.layers(encoded["tokens"], encoded.get(ENCODER_INPUT))

    def prepare(self, context: PrepareContext) -> dict | None:
        """The encoder's own step before task training (fine-tuning); then it is frozen again if ``bilm.freeze``."""
        report = self.encoder.prepare(context) if self.encoder is not None else None
        self.settle()
        return report

    def settle(self) -> None:
        """After ``prepare`` (here, or on the rank that ran it): gradients only for an encoder that trains."""
        if self.encoder is not None:
            self.encoder.requires_grad_(not self.freeze)

    def reset_state(self) -> None:
        """Start a stateful encoder's rows from zero state (epoch starts)."""
        if self.encoder is not None and self.stateful:
            self.encoder.reset_state()

    def train(self, mode: bool = True) -> "ContextualLayers":
        """A frozen encoder stays in eval mode (no dropout inside it) while the task layers train."""
        super().train(mode)
        if self.encoder is not None and self.freeze:
            self.encoder.eval()
        return self


def _drop_constant_encoder(module: ContextualLayers, state: dict, prefix: str, local_metadata: Any) -> None:
    """state_dict hook: a constant encoder is not saved (it is rebuilt from ``bilm.*``)."""
    if module.constant:
        for key in [k for k in state if k.startswith(prefix + ENCODER_PREFIX)]:
            del state[key]


def _restore_constant_encoder(module: ContextualLayers, state: dict, prefix: str, *args: Any) -> None:
    """load_state_dict pre-hook: a fine-tuned LSTM biLM saved under its old name moves to its new one, and a
    constant encoder's own weights go where a checkpoint left them out."""
    legacy = [k for k in state if k.startswith(prefix + LEGACY_PREFIX)]
    for key in legacy:
        state[prefix + ENCODER_PREFIX + "bilm." + key[len(prefix + LEGACY_PREFIX):]] = state.pop(key)
    if module.constant and not any(k.startswith(prefix + ENCODER_PREFIX) for k in state):
        state.update({prefix + ENCODER_PREFIX + k: v for k, v in module.encoder.state_dict().items()})
