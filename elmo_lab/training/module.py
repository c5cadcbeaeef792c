"""The model side every task shares: the biLM, ELMo placement(s), metrics, the λ penalty and the optimizer.

A task's LightningModule subclasses ``ElmoTaskModule`` and provides ``build`` (its layers, using
``self.placed_encoder`` for the contextual encoder), ``step`` (loss, predictions, targets for one batch) and
``make_metrics``.  Everything else — running the biLM once per batch, freezing it, adding ``λ·Σw²`` of every mix to
the loss, ``split/metric`` logging through torchmetrics, per-step reseeding for exact resume — lives here once.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Any, Callable

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MetricCollection

from ..bilm.chars import batch_to_char_ids
from ..bilm.model import BiLM
from ..mix import ScalarMix
from ..placements import ElmoPlacedEncoder


def load_task_bilm(spec: str) -> BiLM:
    """The pretrained biLM named by ``bilm.spec`` (see ``elmo_lab.bilm.pretrained``)."""
    from ..bilm.pretrained import load_named_bilm  # imported late: it pulls in the downloader

    return load_named_bilm(spec)


class ElmoTaskModule(pl.LightningModule, ABC):
    """Base LightningModule of a task head.

    # Parameters
    task, elmo, bilm : the ``task.*``, ``elmo.*`` and ``bilm.*`` configs as plain dicts.
    data_info : what the model needs from the data (``vocab_size``, ``num_classes``, ...; ``datamodule.model_info()``).
    seed : the run's seed (per-step reseeding).
    """

    def __init__(self, task: dict, elmo: dict, bilm: dict, data_info: dict, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.task_cfg: DictConfig = OmegaConf.create(task)
        self.elmo_cfg: DictConfig = OmegaConf.create(elmo)
        self.bilm_cfg: DictConfig = OmegaConf.create(bilm)
        self.seed = seed
        needs_bilm = self.elmo_cfg.placement != "none" or self.bilm_cfg.finetune.enabled
        self.bilm: BiLM | None = load_task_bilm(self.bilm_cfg.spec) if needs_bilm else None
        if self.bilm is not None and self.bilm_cfg.freeze:
            self.bilm.requires_grad_(False)
        self.build(data_info)
        metrics = self.make_metrics()
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    # --- what a task provides -------------------------------------------------------------------------------
    @abstractmethod
    def build(self, data_info: dict) -> None:
        """Create the task's layers (call ``self.placed_encoder`` for each contextual encoder)."""

    @abstractmethod
    def step(self, batch: dict) -> tuple[torch.Tensor, Any, Any]:
        """One batch → (task loss, predictions, targets); predictions/targets go to ``metrics.update``."""

    @abstractmethod
    def make_metrics(self) -> MetricCollection:
        """The task's torchmetrics, keyed by bare metric name (``acc``); logged as ``val/acc``, ``test/acc``."""

    # --- ELMo, once -------------------------------------------------------------------------------------------
    def placed_encoder(self, word_dim: int, encoder_factory: Callable[[int], nn.Module]) -> ElmoPlacedEncoder:
        """The task's contextual encoder with ELMo placed as ``elmo.*`` says (each call has its own mixes)."""
        e = self.elmo_cfg
        bilm_layers = self.bilm.num_layers if self.bilm is not None else 0
        bilm_dim = self.bilm.output_dim if self.bilm is not None else 0
        return ElmoPlacedEncoder(word_dim, bilm_layers, bilm_dim, encoder_factory, placement=e.placement,
                                 mix=e.mix, layer_norm=e.layer_norm, layer=e.layer, dropout=e.dropout,
                                 l2_coef=e.l2_coef)

    def bilm_layers(self, tokens: list[list[str]], char_ids: torch.Tensor | None = None) -> torch.Tensor | None:
        """The biLM layers for a batch of token sequences, computed once: (batch, L + 1, time, dim), or None when no
        placement reads them.  ``char_ids`` (batch, time + 2, chars) are the collated ids (built from ``tokens`` if
        absent).  A frozen biLM builds no graph; with ``bilm.cache`` its layers come from the per-run cache."""
        if self.elmo_cfg.placement == "none":
            return None
        cached = self._from_cache(tokens)
        if cached is not None:
            return cached
        if char_ids is None:
            char_ids = batch_to_char_ids(tokens, self.bilm.options.max_characters_per_token).to(self.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.bilm_cfg.freeze):
            out = self.bilm(char_ids, stateful=self.bilm_cfg.stateful)
        return out.layers  # (batch, L + 1, time, dim)

    # --- the frozen biLM's outputs, computed once per run -----------------------------------------------------
    @property
    def uses_bilm_cache(self) -> bool:
        """``bilm.cache`` applies: a frozen, stateless biLM read by some placement (its output never changes)."""
        b = self.bilm_cfg
        return (self.bilm is not None and self.elmo_cfg.placement != "none" and b.get("cache", False)
                and b.freeze and not b.stateful)

    @torch.no_grad()
    def cache_bilm(self, sentences: list[list[str]], batch_size: int = 128) -> None:
        """Run the biLM once over every distinct sentence (sorted, fixed batches: the same values whatever the
        training order or a resume) and keep its layers in float16 on the CPU."""
        unique = sorted({tuple(s) for s in sentences}, key=lambda s: (len(s), s))
        max_chars = self.bilm.options.max_characters_per_token
        cache: dict[tuple[str, ...], torch.Tensor] = {}
        was_training = self.bilm.training
        self.bilm.eval()
        for i in range(0, len(unique), batch_size):
            chunk = unique[i: i + batch_size]
            layers = self.bilm(batch_to_char_ids(chunk, max_chars).to(self.device)).layers  # (b, L+1, t, dim)
            for row, sentence in enumerate(chunk):
                cache[sentence] = layers[row, :, : len(sentence)].to("cpu", torch.float16)  # (L+1, len, dim)
        self.bilm.train(was_training)
        self._bilm_cache = cache

    def _from_cache(self, tokens: list[list[str]]) -> torch.Tensor | None:
        cache = getattr(self, "_bilm_cache", None)
        if not cache:
            return None
        rows = [cache.get(tuple(t)) for t in tokens]
        if any(r is None for r in rows):
            return None
        n_layers, _, dim = rows[0].shape
        out = torch.zeros(len(rows), n_layers, max(len(t) for t in tokens), dim)  # (batch, L + 1, time, dim)
        for i, r in enumerate(rows):
            out[i, :, : r.size(1)] = r
        return out.to(self.device)

    def on_fit_start(self) -> None:
        """Fill the biLM cache from the datamodule's splits (``bilm.cache``), once per run."""
        dm = getattr(self.trainer, "datamodule", None)
        if self.uses_bilm_cache and getattr(self, "_bilm_cache", None) is None and hasattr(dm, "sentences"):
            self.cache_bilm([s for split in ("train", "dev", "test") for s in dm.sentences(split)])

    def placed_encoders(self) -> dict[str, ElmoPlacedEncoder]:
        return {name: m for name, m in self.named_modules() if isinstance(m, ElmoPlacedEncoder)}

    def mixes(self) -> dict[str, ScalarMix]:
        """Every scalar mix in the model: ``input``/``output``, prefixed by the encoder's name when there are
        several placed encoders (e.g. ``question.input``)."""
        encoders = self.placed_encoders()
        out = {}
        for name, enc in encoders.items():
            for mix_name, mix in enc.mixes().items():
                out[mix_name if len(encoders) == 1 else f"{name}.{mix_name}"] = mix
        return out

    def regularization_loss(self) -> torch.Tensor:
        """Σ over placed encoders of ``λ·Σw²``."""
        terms = [enc.regularization_loss() for enc in self.placed_encoders().values()]
        return torch.stack(terms).sum() if terms else torch.zeros((), device=self.device)

    # --- Lightning hooks --------------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _, _ = self.step(batch)
        penalty = self.regularization_loss()
        n = batch["word_ids"].size(0) if "word_ids" in batch else None
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=n)
        if self.mixes():
            self.log("train/l2_penalty", penalty, on_step=False, on_epoch=True, batch_size=n)
        return loss + penalty

    def _eval_step(self, batch: dict, split: str, metrics: MetricCollection) -> None:
        loss, preds, targets = self.step(batch)
        metrics.update(preds, targets)
        n = batch["word_ids"].size(0) if "word_ids" in batch else None
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, batch_size=n)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val", self.val_metrics)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test", self.test_metrics)

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), prog_bar=True)
        self.val_metrics.reset()

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def on_train_epoch_start(self) -> None:
        self._reset_bilm_state()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Reseed every RNG from (seed, global step): the dropout masks of a step do not depend on what ran
        before it, so a run resumed from ``last.ckpt`` ends with the same weights as an uninterrupted run."""
        s = self.seed * 1_000_003 + self.global_step
        random.seed(s)
        np.random.seed(s % 2**32)
        torch.manual_seed(s)

    def on_validation_epoch_start(self) -> None:
        self._reset_bilm_state()

    def on_test_epoch_start(self) -> None:
        self._reset_bilm_state()

    def _reset_bilm_state(self) -> None:
        if self.bilm is not None and self.bilm_cfg.stateful:
            self.bilm.reset_state()

    def train(self, mode: bool = True) -> "ElmoTaskModule":
        """A frozen biLM stays in eval mode (no dropout inside it) while the task layers train."""
        super().train(mode)
        if self.bilm is not None and self.bilm_cfg.freeze:
            self.bilm.eval()
        return self

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.task_cfg.lr, weight_decay=self.task_cfg.get("weight_decay", 0.0))

    # --- checkpoints without the frozen biLM ------------------------------------------------------------------
    def _bilm_is_constant(self) -> bool:
        return self.bilm is not None and self.bilm_cfg.freeze and not self.bilm_cfg.finetune.enabled

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Leave a frozen, un-finetuned biLM out of checkpoints (it is reloaded from ``bilm.spec``)."""
        if self._bilm_is_constant():
            state = checkpoint["state_dict"]
            for key in [k for k in state if k.startswith("bilm.")]:
                del state[key]
            checkpoint["elmo_lab_bilm_omitted"] = True

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if checkpoint.get("elmo_lab_bilm_omitted") and self.bilm is not None:
            checkpoint["state_dict"].update({f"bilm.{k}": v for k, v in self.bilm.state_dict().items()})
