"""The Lightning plumbing every task shares: metrics and logging, the λ penalty, the optimizer and lr schedule,
per-step reseeding, and gathering test predictions into the run directory.

A task's LightningModule subclasses ``ElmoTaskModule`` and provides ``build`` (its layers, getting each contextual
encoder from ``self.placed_encoder``), ``step`` (a ``StepOutput``: loss, predictions, targets for one batch) and
``make_metrics``; optionally ``prediction_files``, ``prediction_records``/``write_predictions`` (a predictions file) and
``batch_size``.  The encoder stage (``self.elmo``, a ``ContextualLayers``: the contextual encoder, its cache, freezing,
checkpoints without it) is handed in by the pipeline; the placed encoders and their mixes are this model's own
submodules, found by walking it (``elmo_lab.elmo.placements``).
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torchmetrics import MetricCollection

from elmo_lab.elmo.mix import ScalarMix
from elmo_lab.elmo.placements import ElmoPlacedEncoder, ElmoSettings, elmo_penalty, penalized_encoders, placed_mixes
from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.metrics.examples import EXAMPLES_FILE, ExampleScores, example_table_json
from elmo_lab.util.atomic import atomic_path
from elmo_lab.util.seeding import reseed_for_step
from elmo_lab.training.optim import build_optimizer


JSONL_PREDICTIONS = "predictions.jsonl"  # the default predictions file (``write_predictions``)


class StepOutput(NamedTuple):
    """What ``ElmoTaskModule.step`` returns for one batch."""

    loss: torch.Tensor  # the task loss (the λ penalty is added by training_step)
    predictions: Any  # what the metrics' update takes first, and prediction_records reads
    targets: Any  # what the metrics' update takes second


class ElmoTaskModule(pl.LightningModule, ABC):
    """Base LightningModule of a task head.

    # Parameters
    task : the ``task.*`` config as a plain dict.
    elmo : the run's encoder stage (``ContextualLayers.from_config``); kept as the submodule ``elmo``.
    settings : the ``elmo.*`` config (placement, mix, λ, ...): how ``placed_encoder`` places ELMo.
    data_info : what the model needs from the data (``vocab_size``, ``num_classes``, ...; ``datamodule.model_info()``).
    seed : the run's seed (per-step reseeding).
    """

    #: the files ``write_predictions`` puts into the run directory (removed when a run is started over)
    prediction_files: tuple[str, ...] = ()

    def __init__(self, task: dict, elmo: ContextualLayers, settings: ElmoSettings | dict, data_info: dict,
                 seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["elmo", "settings", "data_info"])  # data_info may hold a vocabulary
        self.task_cfg: DictConfig = OmegaConf.create(task)
        self.seed = seed
        self.elmo = elmo
        self.settings = settings if isinstance(settings, ElmoSettings) else ElmoSettings.from_config(settings)
        if self.settings.reads_bilm and elmo.encoder is None:
            raise ValueError(f"placement {self.settings.placement!r} needs a biLM")
        self._test_records: list[tuple[int, Any]] = []
        self.build(data_info)
        metrics = self.make_metrics()
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    # --- what a task provides -------------------------------------------------------------------------------
    @abstractmethod
    def build(self, data_info: dict) -> None:
        """Create the task's layers (``self.placed_encoder`` for each contextual encoder)."""

    @abstractmethod
    def step(self, batch: dict) -> StepOutput:
        """One batch → ``StepOutput(loss, predictions, targets)``; predictions/targets go to ``metrics.update``."""

    @abstractmethod
    def make_metrics(self) -> MetricCollection:
        """The task's torchmetrics, keyed by bare metric name (``acc``); logged as ``val/acc``, ``test/acc``."""

    def prediction_records(self, batch: dict, predictions: Any) -> list[Any] | None:
        """Test predictions of a batch as one record per example, in batch order (None: no predictions file)."""
        return None

    def write_predictions(self, records: list[Any], run_dir: Path) -> Path | None:
        """Write the records of the whole test split (in dataset order) into ``run_dir``; rank 0 only.  The default
        writes ``predictions.jsonl``, one JSON object per record and line (records must be JSON values, e.g.
        ``{"index", "tokens", "gold", "pred"}``); a task with an established format of its own overrides it."""
        path = run_dir / JSONL_PREDICTIONS
        with atomic_path(path) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        return path

    def example_scores(self, records: list[Any]) -> tuple[list[str], dict[str, ExampleScores]] | None:
        """Per-example statistics of the test metrics from the test split's records (in dataset order), for the
        report's paired test over test examples: ``(keys, {metric name: ExampleScores})``, one key per example
        that names it and its gold answer (``elmo_lab.metrics.examples``).  None: the task gives none."""
        return None

    def results_sections(self) -> dict[str, Any]:
        """Task-specific sections of ``results.json`` beside the common keys (e.g. the probe's ``mdl``), computed
        during the fit; none by default."""
        return {}

    def batch_size(self, batch: dict) -> int:
        """Examples in a batch (for epoch averages of the loss)."""
        return len(batch["index"]) if "index" in batch else len(batch["tokens"])

    # --- ELMo ---------------------------------------------------------------------------------------------------
    def placed_encoder(self, word_dim: int, encoder_factory: Callable[[int], torch.nn.Module]) -> ElmoPlacedEncoder:
        """A contextual encoder (``in_dim -> module``) with ELMo placed as ``elmo.*`` says; keep it as a submodule."""
        return self.settings.place(word_dim, encoder_factory, self.elmo.num_layers, self.elmo.output_dim)

    def mixes(self) -> dict[str, ScalarMix]:
        """The scalar mixes of this model (read by ``LayerWeightLogger``)."""
        return placed_mixes(self)

    def regularization_loss(self) -> torch.Tensor:
        """λ·Σw² over every mix, added to the task loss in ``training_step``: over the placed encoders with a
        learned mix and λ > 0, found once (walking the model every step cost ~0.2 ms, as much as a linear probe's
        forward on cached layers); a zero scalar when there are none (what the penalty and its gradient are then)."""
        penalized = getattr(self, "_penalized_encoders", None)
        if penalized is None:
            penalized = self._penalized_encoders = penalized_encoders(self)
        return elmo_penalty(self, penalized).to(self.device)

    # --- Lightning hooks --------------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        """The task loss plus the λ penalty.  Logged: ``train/loss_step`` every ``trainer.log_every_n_steps`` steps
        (when loggers write it anyway), and at each epoch's end ``train/loss_epoch`` and ``train/l2_penalty``, means
        over the epoch's examples summed here: each ``self.log`` call costs Lightning ~2 ms on the CPU, as much as a
        linear probe's whole step on cached layers."""
        loss, penalty = self.training_loss(batch)
        n = self.batch_size(batch)
        sums = self._train_sums
        sums["examples"] += n
        sums["loss"] = sums["loss"] + loss.detach() * n
        sums["l2_penalty"] = sums["l2_penalty"] + penalty.detach() * n
        if self.trainer.log_every_n_steps and (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=n)
        return loss + penalty

    def training_loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(task loss, λ penalty)`` of one training batch: what every training step minimises (their sum), here
        and in a probe-set job (``elmo_lab.training.probe_set``)."""
        return self.step(batch).loss, self.regularization_loss()

    def on_train_epoch_end(self) -> None:
        sums = self._train_sums
        if sums["examples"]:
            self.log("train/loss_epoch", sums["loss"] / sums["examples"], on_epoch=True)
            if self.mixes():
                self.log("train/l2_penalty", sums["l2_penalty"] / sums["examples"], on_epoch=True, sync_dist=True)

    def _eval_step(self, batch: dict, split: str, metrics: MetricCollection) -> Any:
        loss, preds, targets = self.step(batch)
        metrics.update(preds, targets)
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, batch_size=self.batch_size(batch), sync_dist=True)
        return preds

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val", self.val_metrics)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        preds = self._eval_step(batch, "test", self.test_metrics)
        records = self.prediction_records(batch, preds)
        if records is not None:
            self._test_records.extend(zip(batch["index"].tolist(), records))

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), prog_bar=True, sync_dist=True)  # torchmetrics: already global
        self.val_metrics.reset()

    def on_test_epoch_start(self) -> None:
        self.elmo.reset_state()
        self._test_records = []

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute(), sync_dist=True)
        self.test_metrics.reset()
        if not self._test_records:
            return
        records = self._test_records
        if self.trainer.world_size > 1:  # every rank saw part of the split (a distributed sampler may repeat some)
            gathered: list = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(gathered, records)
            records = [r for part in gathered for r in part]
        if self.trainer.is_global_zero:
            self.write_test_outputs(records, Path(self.trainer.default_root_dir))

    def write_test_outputs(self, records: list[tuple[int, Any]], run_dir: Path) -> None:
        """The predictions file and the per-example scores (``EXAMPLES_FILE``) of the whole test split, from its
        ``(index, record)`` pairs in any order (each index once)."""
        by_index = dict(records)
        ordered = [by_index[i] for i in sorted(by_index)]
        self.write_predictions(ordered, run_dir)
        scores = self.example_scores(ordered)
        if scores is not None:
            with atomic_path(run_dir / EXAMPLES_FILE) as tmp:
                tmp.write_text(example_table_json(*scores), encoding="utf-8")

    def on_train_epoch_start(self) -> None:
        self.elmo.reset_state()
        self._train_sums: dict[str, Any] = {"examples": 0, "loss": 0.0, "l2_penalty": 0.0}

    def on_validation_epoch_start(self) -> None:
        self.elmo.reset_state()

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Tensors to ``device``, nested dicts, lists and tuples walked, everything else as it is; on the CPU the batch
        as it is.  Lightning's own walk visits every string of the token lists (a third of a probe's step on
        cached layers); a type it knows and this does not (a dataclass, a namedtuple) goes to Lightning's."""
        if device.type == "cpu":
            return batch
        return _to_device(batch, device, lambda b: super(ElmoTaskModule, self).transfer_batch_to_device(
            b, device, dataloader_idx))

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Reseed every RNG from (seed, global step): a run resumed from ``last.ckpt`` ends with the same weights as
        an uninterrupted run."""
        reseed_for_step(self.seed, self.global_step)

    def configure_optimizers(self) -> Any:
        """The task's optimizer (``task.optimizer``, ``lr``, ``betas``, ``weight_decay``) and optional lr schedule
        (``task.lr_scheduler``); see ``elmo_lab.training.optim``.  With ``elmo.mix_lr`` the mixes' raw weights w
        are a parameter group of their own at that learning rate (γ stays at ``task.lr``: it scales what the task
        model reads, and a large step on it made single-layer structural probes worse, docs/results.md)."""
        params: list = [p for p in self.parameters() if p.requires_grad]
        if self.settings.mix_lr is not None:
            mixed = {id(m.learned_weights) for m in self.mixes().values()
                     if m.learned_weights is not None and m.learned_weights.requires_grad}
            params = [{"params": [p for p in params if id(p) not in mixed]},
                      {"params": [p for p in params if id(p) in mixed], "lr": float(self.settings.mix_lr)}]
            params = [group for group in params if group["params"]]
        steps = self.trainer.estimated_stepping_batches if self._trainer is not None else None
        return build_optimizer(params, self.task_cfg, monitor=self.task_cfg.get("objective", "val/loss"),
                               total_steps=steps)


def _to_device(value: Any, device: torch.device, other: Callable[[Any], Any]) -> Any:
    """``value`` with its tensors on ``device`` (see ``ElmoTaskModule.transfer_batch_to_device``)."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if type(value) is dict:
        return {k: _to_device(v, device, other) for k, v in value.items()}
    if type(value) in (list, tuple):
        if all(isinstance(v, str) for v in value):
            return value
        return type(value)(_to_device(v, device, other) for v in value)
    return other(value)
