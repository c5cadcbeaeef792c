"""Lightning module that trains a biLM as a language model (forward + backward LM, shared char CNN and softmax).

Loss per batch = mean forward NLL + mean backward NLL (per scored prediction; see ``batching`` for which positions
are scored).  Dropout (the paper: 0.1) is applied to every LSTM layer's input by the ``BiLM`` and to the top
outputs before the softmax.  Validation logs ``val_ppl_forward``, ``val_ppl_backward`` and ``val_ppl_average``
(``exp`` of the mean of the two directions' mean NLLs, bilm-tf's definition) once per epoch.
"""
from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from elmo_lab.bilm.architectures import AnyBiLM, build_bilm, options_from_dict
from elmo_lab.config.choices import LM_OPTIMIZERS, LR_SCHEDULES
from elmo_lab.util.errors import UserError
from elmo_lab.util.optim import make_optimizer, with_schedule
from elmo_lab.util.seeding import reseed_for_step

from elmo_lab.lm.batching import IGNORE, LMBatch
from elmo_lab.lm.softmax import FullSoftmax, make_softmax


CARRIED_STATE = "carried_lstm_state"  # the checkpoint entry of the stream-batching LSTM state


class LMConfigError(ValueError, UserError):
    """A pretraining setting that is not valid (names the config key)."""


def lm_nll(bilm: AnyBiLM, softmax: FullSoftmax, batch: LMBatch, dropout: float = 0.0,
           training: bool = False) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Summed forward and backward NLL of ``batch`` and the number of scored predictions of each.

    Packed rows run statelessly through ``BiLM.forward``; stream windows (``batch.backward_char_ids``) run each
    direction on its own input with the state carried from the previous window (zeros when ``reset_state``)."""
    if batch.backward_char_ids is None:
        out = bilm(batch.char_ids, stateful=False, keep_sentence_boundaries=True)
        forward_top, backward_top = out.forward_top, out.backward_top  # (batch, time, proj) each
    else:
        if batch.reset_state:
            bilm.reset_state()
        forward_top, backward_top = bilm.directional_tops(batch.char_ids, batch.backward_char_ids, stateful=True)
    losses, counts = [], []
    for top, targets in ((forward_top, batch.forward_targets), (backward_top, batch.backward_targets)):
        if dropout and training:
            top = F.dropout(top, dropout, True)  # (batch, time, proj)
        flat_targets = targets.reshape(-1)  # (batch * time,)
        losses.append(softmax(top.reshape(-1, top.size(-1)), flat_targets))
        counts.append(int((flat_targets != IGNORE).sum()))
    return losses[0], losses[1], counts[0], counts[1]


def perplexities(nll_forward: float, nll_backward: float, n_forward: int, n_backward: int) -> dict[str, float]:
    """``{"forward", "backward", "average"}`` from summed NLLs; average = exp(mean of the two mean NLLs)."""
    f, b = nll_forward / max(n_forward, 1), nll_backward / max(n_backward, 1)
    return {"forward": math.exp(f), "backward": math.exp(b), "average": math.exp((f + b) / 2)}


class BiLMLanguageModel(pl.LightningModule):
    """# Parameters
    options : the biLM architecture in the ``options.json`` layout (the LSTM biLM's official one, or the
        transformer biLM's: ``elmo_lab.bilm.architectures``).
    vocab_size : softmax size (the ``Vocabulary`` built by the data module).
    dropout : LSTM-input (transformer: input, attention and residual) and pre-softmax dropout (paper 0.1).
    sampled_softmax : ``None`` = full up to ``full_softmax_max_vocab`` words, sampled beyond; or force it.
    num_samples : negatives of the sampled softmax (paper 8,192).
    optimizer : ``adagrad`` (bilm-tf: lr 0.2, initial accumulator 1.0), ``adam`` or ``adamw``.
    seed : every training step reseeds the RNGs from (seed, step), so a resumed run repeats the uninterrupted one.
    """

    def __init__(self, options: dict[str, Any], vocab_size: int, dropout: float = 0.1,
                 sampled_softmax: bool | None = None, num_samples: int = 8192, full_softmax_max_vocab: int = 20000,
                 optimizer: str = "adagrad", lr: float = 0.2, weight_decay: float = 0.0,
                 adagrad_initial_accumulator: float = 1.0, lr_schedule: str = "none", seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        if optimizer not in LM_OPTIMIZERS:
            raise LMConfigError(f"model.optimizer must be adagrad, adam or adamw; got {optimizer!r}")
        if lr_schedule not in LR_SCHEDULES:
            raise LMConfigError(f"model.lr_schedule must be none, plateau or linear; got {lr_schedule!r}")
        self.bilm = build_bilm(options_from_dict(options), dropout=dropout)
        self.softmax = make_softmax(self.bilm.options.projection_dim, vocab_size, sampled_softmax, num_samples,
                                    full_softmax_max_vocab)
        self.dropout = dropout
        self._val = [0.0, 0.0, 0, 0]
        # Forward-LM predictions trained on so far (saved in checkpoints; goes into the export's metadata).
        self.register_buffer("tokens_seen", torch.zeros((), dtype=torch.long))

    def on_train_batch_start(self, batch: LMBatch, batch_idx: int) -> None:
        reseed_for_step(self.hparams.seed, self.global_step)

    def training_step(self, batch: LMBatch, batch_idx: int) -> torch.Tensor:
        nll_f, nll_b, n_f, n_b = lm_nll(self.bilm, self.softmax, batch, self.dropout, training=True)
        loss = nll_f / max(n_f, 1) + nll_b / max(n_b, 1)
        if self._trainer is not None and self.trainer.world_size > 1:  # DDP: every rank trained on its own share
            n_f = int(self.trainer.strategy.reduce(torch.tensor(n_f, device=self.device), reduce_op="sum"))
        self.tokens_seen += n_f
        self.log("train_loss", loss, prog_bar=True, batch_size=batch.char_ids.size(0))
        self.log("tokens_seen", self.tokens_seen.float(), on_step=True, on_epoch=False)
        return loss

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Stream batching: keep the LSTM state the training windows carry, so that a run resumed mid-pass continues
        with the state it stopped with (``streams.StreamLoader`` continues with the next window)."""
        checkpoint[CARRIED_STATE] = self.bilm.carried_state  # (None, None) for stateless training (packed rows)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if CARRIED_STATE not in checkpoint:
            return
        state = checkpoint[CARRIED_STATE]
        if self._trainer is not None and self.trainer.global_rank > 0:
            state = (None, None)  # DDP: a checkpoint holds rank 0's state; the other ranks restart from zeros
        self.bilm.carried_state = state

    def on_validation_epoch_start(self) -> None:
        self._val = [0.0, 0.0, 0, 0]
        # Stream batching: validation within an epoch must not disturb the state the training windows carry.
        self._train_state = self.bilm.carried_state

    def validation_step(self, batch: LMBatch, batch_idx: int) -> None:
        nll_f, nll_b, n_f, n_b = lm_nll(self.bilm, self.softmax, batch)
        self._val = [self._val[0] + float(nll_f), self._val[1] + float(nll_b), self._val[2] + n_f, self._val[3] + n_b]

    def on_validation_epoch_end(self) -> None:
        self.bilm.carried_state = self._train_state
        ppl = perplexities(*self._val)
        for key, value in ppl.items():
            self.log(f"val_ppl_{key}", value, prog_bar=key == "average")

    def transfer_batch_to_device(self, batch: LMBatch, device: torch.device, dataloader_idx: int) -> LMBatch:
        return batch.to(device)

    def configure_optimizers(self) -> Any:
        """The optimizer and its schedule: ``plateau`` halves the lr after every validation whose
        ``val_ppl_average`` does not improve (the usual PTB recipe); ``linear`` decays it linearly to zero over the
        run's steps (``trainer.max_steps``, else ``max_epochs`` worth of batches): for a fixed budget, the decay
        that would otherwise come only after many epochs happens within it."""
        hp = self.hparams
        opt = make_optimizer(hp.optimizer, self.parameters(), hp.lr, weight_decay=hp.weight_decay,
                             initial_accumulator=hp.adagrad_initial_accumulator, key="model.optimizer")
        total = self.trainer.estimated_stepping_batches if hp.lr_schedule == "linear" else None
        return with_schedule(opt, hp.lr_schedule, monitor="val_ppl_average", mode="min", factor=0.5, patience=0,
                             total_steps=total, key="model.lr_schedule")
