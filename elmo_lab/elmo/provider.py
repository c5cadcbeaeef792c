"""``BiLMLayers``: the stage of a task model that turns token sequences into biLM layers.

Built once per run from the ``bilm.*`` config (``BiLMLayers.from_config``) and handed to the task model, which keeps
it as its ``elmo`` submodule and calls ``layers(tokens, char_ids)`` once per token sequence of a batch (a
sentence, a passage, a question).  It owns

- the pretrained biLM, loaded only when something reads it (``needed``: ``elmo.placement != none`` or
  ``bilm.finetune``; the pipeline decides); a frozen biLM stays in eval mode and, when constant for the run, is
  left out of checkpoints (restored from ``bilm.spec`` on load); a stateful one is reset by ``reset_state``;
- the per-sequence layer cache (``SequenceLayerCache``) when the biLM is frozen and stateless (``bilm.cache``):
  the pipeline fills it from the datamodule's sequences (``cache.add``) before training.

What the data side needs follows from it as plain values, read by the pipeline: ``char_ids_needed`` (batches must
carry biLM character ids: the biLM runs per batch) and ``max_chars``.  It knows nothing of placements or mixes:
those are the task model's modules (``elmo_lab.elmo.placements``).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.bilm.model import BiLM
from elmo_lab.cache.store import LayerStore
from elmo_lab.elmo.layer_cache import SequenceLayerCache

BILM_PREFIX = "bilm."
DEFAULT_MAX_CHARS = 50


class BiLMLayers(nn.Module):
    """The biLM of a run (or none), its freezing, checkpoint hooks, state and layer cache.

    # Parameters
    bilm : the pretrained biLM, or None when nothing reads it.
    freeze : keep the biLM fixed (no gradients, eval mode).
    stateful : carry LSTM state across batches like bilm-tf (``reset_state`` at epoch starts).
    cache : reuse the layers of each distinct sequence (applies only when frozen and stateless).
    cache_store : where the reused layers go: a ``LayerStore`` shared across runs, or None (this run's memory).
    finetuned : the biLM is changed before task training (``bilm.finetune``), so it is kept in checkpoints.
    """

    def __init__(self, bilm: BiLM | None, freeze: bool = True, stateful: bool = False, cache: bool = False,
                 cache_store: LayerStore | None = None, finetuned: bool = False) -> None:
        super().__init__()
        self.bilm = bilm
        self.freeze, self.stateful, self.finetuned = freeze, stateful, finetuned
        use_cache = bilm is not None and cache and freeze and not stateful
        self.cache = SequenceLayerCache(cache_store) if use_cache else None
        if bilm is not None and freeze:
            bilm.requires_grad_(False)
            bilm.eval()
        self.register_state_dict_post_hook(_drop_constant_bilm)
        self.register_load_state_dict_pre_hook(_restore_constant_bilm)

    @classmethod
    def from_config(cls, bilm: dict, needed: bool) -> "BiLMLayers":
        """The stage for the ``bilm.*`` config (a plain dict); loads the biLM only if ``needed``.
        ``bilm.random_weights``: the architecture of ``bilm.spec`` with freshly initialised weights, the same in every
        run (a fixed seed, the global RNG left as it was) — the untrained control of probing studies."""
        finetune = bool(bilm.get("finetune", {}).get("enabled", False))
        model = None
        if needed or finetune:
            from elmo_lab.bilm.pretrained import load_named_bilm, resolve_bilm  # they pull in the downloader

            if bilm.get("random_weights", False):
                from elmo_lab.bilm.weights import load_bilm

                options, _ = resolve_bilm(bilm["spec"])
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(12345)
                    model = load_bilm(options, None)  # no weights file: PyTorch's default initialisation
            else:
                model = load_named_bilm(bilm["spec"])
        return cls(model, freeze=bilm.get("freeze", True), stateful=bilm.get("stateful", False),
                   cache=bool(needed and bilm.get("cache", False)), cache_store=LayerStore.from_config(bilm),
                   finetuned=finetune)

    # --- plain values for the data side and the placements ------------------------------------------------------
    @property
    def char_ids_needed(self) -> bool:
        """Batches must carry biLM character ids: the biLM runs per batch (no cache)."""
        return self.bilm is not None and self.cache is None

    @property
    def max_chars(self) -> int:
        return self.bilm.options.max_characters_per_token if self.bilm is not None else DEFAULT_MAX_CHARS

    @property
    def num_layers(self) -> int:
        """``L + 1`` representations per token (0 without a biLM)."""
        return self.bilm.num_layers if self.bilm is not None else 0

    @property
    def output_dim(self) -> int:
        return self.bilm.output_dim if self.bilm is not None else 0

    @property
    def constant(self) -> bool:
        """The biLM never changes in this run (frozen, not fine-tuned): checkpoints leave it out."""
        return self.bilm is not None and self.freeze and not self.finetuned

    # --- the layers ---------------------------------------------------------------------------------------------
    def layers(self, tokens: Sequence[Sequence[str]], char_ids: torch.Tensor | None = None) -> torch.Tensor | None:
        """The biLM layers of a batch of token sequences: (batch, L + 1, time, dim), or None without a biLM.
        ``char_ids`` (batch, time + 2, chars) are the collated ids (built from ``tokens`` if absent)."""
        if self.bilm is None:
            return None
        if self.cache is not None:
            cached = self.cache.lookup(self.bilm, tokens)
            if cached is not None:
                return cached
        device = next(self.bilm.parameters()).device
        if char_ids is None:
            char_ids = batch_to_char_ids([list(t) for t in tokens], self.max_chars)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            out = self.bilm(char_ids.to(device), stateful=self.stateful)
        return out.layers  # (batch, L + 1, time, dim)

    def reset_state(self) -> None:
        """Start a stateful biLM's rows from zero state (epoch starts)."""
        if self.bilm is not None and self.stateful:
            self.bilm.reset_state()

    def train(self, mode: bool = True) -> "BiLMLayers":
        """A frozen biLM stays in eval mode (no dropout inside it) while the task layers train."""
        super().train(mode)
        if self.bilm is not None and self.freeze:
            self.bilm.eval()
        return self


def _drop_constant_bilm(module: BiLMLayers, state: dict, prefix: str, local_metadata: Any) -> None:
    """state_dict hook: a constant biLM is not saved (it is reloaded from ``bilm.spec``)."""
    if module.constant:
        for key in [k for k in state if k.startswith(prefix + BILM_PREFIX)]:
            del state[key]


def _restore_constant_bilm(module: BiLMLayers, state: dict, prefix: str, *args: Any) -> None:
    """load_state_dict pre-hook: put the loaded biLM's own weights where a checkpoint left them out."""
    if module.constant and not any(k.startswith(prefix + BILM_PREFIX) for k in state):
        state.update({prefix + BILM_PREFIX + k: v for k, v in module.bilm.state_dict().items()})
