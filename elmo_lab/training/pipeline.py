"""``train(cfg)``: one task run from a composed config — build, fit (resuming), evaluate the best checkpoint, and
write ``results.json`` and the layer-weight heatmap into the run directory.

The run directory is deterministic from the config (``hydra.run.dir``), so rerunning a killed command resumes
from ``checkpoints/last.ckpt``; a finished run (``results.json`` present) with the same settings is reported and
skipped unless ``force=true``.  A rerun whose config differs from the one the directory was started with, finished
or not, is refused (the check and the loggers: ``elmo_lab.run.run_dir``, shared with ``pretrain.py``).

Under DDP every process runs ``train`` on the same composed config (Lightning restarts the command for the other
ranks of ``trainer=ddp``; SLURM or torchrun start them all at once), so all of them read the same run directory.
The trainer is therefore built first: it knows this process's global rank, and only rank 0 deletes or writes
anything there (``run_config.yaml``, ``finetune.json``, ``results.json``, the heatmap, the predictions file).
The directory must be on a file system that every node sees (the best checkpoint is read back by all ranks).
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from elmo_lab.config.schema import ConfigError, validate
from elmo_lab.elmo.placements import ElmoSettings
from elmo_lab.contextual.base import PrepareContext
from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.training.callbacks import LayerWeightLogger, ValidationHistory, measure_layer_norms
from elmo_lab.run.run_dir import make_loggers, prepare_run_dir
from elmo_lab.training.tasks import load_task
from elmo_lab.metrics.examples import EXAMPLES_FILE
from elmo_lab.training.results import RESULTS_FILE, write_json_atomic, write_run_results

log = logging.getLogger(__name__)
# A frozen biLM is kept in eval mode on purpose (no dropout inside it); Lightning would warn about it every run.
warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
# What a finished task run leaves besides checkpoints/ (and the task's prediction files): force=true deletes them.
RUN_OUTPUTS = (RESULTS_FILE, "layer_weights.png", "finetune.json", EXAMPLES_FILE)


def _check_objective(objective: str, model: pl.LightningModule, task: str) -> None:
    """``task.objective`` is one of the validation metrics this task's model logs (named by computing a fresh copy
    of its metric collection: no data involved)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "compute called before update"
        logged = {"val/loss", *model.val_metrics.clone().compute()}
    if objective not in logged:
        raise ConfigError(f"task.objective: task {task} logs no {objective}; valid choices: "
                          f"{', '.join(sorted(logged))}")


def train(cfg: DictConfig) -> float | None:
    """Run one task training as ``cfg`` says; return ``cfg.optimized_metric`` (for sweepers)."""
    validate(cfg)
    if cfg.probe_set.probes:  # several probes in this one job
        from elmo_lab.training.probe_set import train_probe_set

        return train_probe_set(cfg)
    run_dir = Path(cfg.paths.output_dir)
    results_path = run_dir / RESULTS_FILE
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    placement, e = plain["elmo"]["placement"], plain["elmo"]
    # before the data loads (train.py: before torch); a finished run answers only for the settings it ran
    prepare_run_dir(run_dir, plain, cfg.force, writer=False)
    task = load_task(cfg.task.module)
    if task.check is not None:
        task.check(plain)
    if results_path.is_file() and not cfg.force:
        metrics = json.loads(results_path.read_text())["metrics"]
        print(f"run already finished: {results_path} ({cfg.optimized_metric} = "
              f"{metrics.get(cfg.optimized_metric)}); force=true reruns it")
        return metrics.get(cfg.optimized_metric)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    # data errors come first (one line, nothing written): every rank reads the data, none writes yet
    # one way: config -> encoder stage -> data (a plain value from it) -> cache filled from the data -> model
    settings = ElmoSettings.from_config(plain["elmo"])
    elmo = ContextualLayers.from_config(plain["bilm"], needed=settings.reads_bilm)  # the one place it is built
    datamodule = task.datamodule(plain["task"], seed=cfg.seed, encoder_input=elmo.batch_input)
    datamodule.setup()
    if elmo.cache is not None:  # computed at the first batch: after fine-tuning and any checkpoint restore
        elmo.cache.add(datamodule.all_sequences())
    data_info = {**datamodule.model_info(), "word_vectors": datamodule.word_vectors}  # word_vectors: task.word_vectors
    # the initial weights depend on the seed alone (not on what building the encoder or reading the data drew), as
    # in a probe-set job (elmo_lab.training.probe_set), which builds its models after one shared encoder and data
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    model = task.module(task=plain["task"], elmo=elmo, settings=settings, data_info=data_info,
                        seed=cfg.seed)
    _check_objective(cfg.optimized_metric, model, str(cfg.task.name))  # before any training, not after an epoch
    callbacks = [hydra.utils.instantiate(c) for c in (cfg.callbacks or {}).values() if c is not None]
    history = ValidationHistory()  # the dev metrics per epoch, for results.json
    callbacks.append(history)
    tags = [f"task:{cfg.task.name}", f"placement:{placement}", f"mix:{e['mix']}", f"l2:{e['l2_coef']}"]
    loggers = make_loggers(cfg, group=str(cfg.task.name), name=f"{cfg.task.name}/{run_dir.name}", tags=tags)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                                                  default_root_dir=str(run_dir))
    writer = trainer.is_global_zero  # known from the launcher's environment before any process group exists
    prepare_run_dir(run_dir, plain, cfg.force, writer, (*RUN_OUTPUTS, *task.module.prediction_files))
    last = run_dir / "checkpoints" / "last.ckpt"
    # force: rank 0 has deleted the checkpoints, maybe after another rank looked
    resume = last if last.is_file() and not cfg.force else None
    finetune = None
    if elmo.encoder is not None and elmo.encoder.adapts:  # after the trainer exists: a bad accelerator fails first
        finetune_file = run_dir / "finetune.json"  # the encoder's prepare report (LM fine-tuning)
        if resume:  # the adapted encoder is in the checkpoint
            finetune = json.loads(finetune_file.read_text())
        elif writer:
            finetune = elmo.prepare(PrepareContext(datamodule.sentences("train"), datamodule.sentences("dev"),
                                                   trainer.strategy.root_device, cfg.seed))
            write_json_atomic(finetune_file, finetune)
        else:  # DDP starts every rank from rank 0's module state, adapted encoder included
            elmo.settle()
    for lg in trainer.loggers:
        lg.log_hyperparams(plain)
    if resume:
        log.info("resuming from %s", resume)
    trainer.fit(model, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    fit_history = list(history.history)  # loading the best checkpoint below restores the callback's older state

    best = next((cb.best_model_path for cb in trainer.checkpoint_callbacks if cb.monitor), "")
    ckpt = best or (str(last) if last.is_file() else None)
    # the final pass (test, or dev without a test) also measures each mixed layer's token norms, for the
    # norm-weighted contributions beside the raw weights in results.json (under DDP: rank 0's share of the split)
    norms_split = "test" if cfg.test else "dev"
    measure_layer_norms(model, on=not cfg.test)
    metrics = dict(trainer.validate(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False)[0])
    if cfg.test:
        measure_layer_norms(model)
        metrics.update(trainer.test(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False)[0])
    for cb in callbacks:
        if isinstance(cb, LayerWeightLogger):
            cb.write_heatmap(trainer, model, title=f"{cfg.task.name}: placement={placement}, mix={e['mix']}, "
                                                   f"λ={e['l2_coef']}")
    if writer:
        write_run_results(run_dir, plain, task, datamodule, model, metrics, fit_history, norms_split, finetune)
    return metrics.get(cfg.optimized_metric)
