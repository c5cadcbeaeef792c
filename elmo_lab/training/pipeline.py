"""``train(cfg)``: one task run from a composed config — build, fit (resuming), evaluate the best checkpoint, and
write ``results.json`` and the layer-weight heatmap into the run directory.

The run directory is deterministic from the config (``hydra.run.dir``), so rerunning a killed command resumes
from ``checkpoints/last.ckpt``; a finished run (``results.json`` present) is reported and skipped unless
``force=true``.  A rerun whose config differs from the one the directory was started with is refused (the check
and the loggers: ``elmo_lab.training.run_dir``, shared with ``pretrain.py``).

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
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from elmo_lab.config.schema import ConfigError, validate
from elmo_lab.bilm.recurrence_masked import set_recurrence
from elmo_lab.elmo.placements import ElmoSettings
from elmo_lab.elmo.provider import BiLMLayers
from elmo_lab.training.callbacks import LayerWeightLogger, ValidationHistory, layer_weights
from elmo_lab.training.run_dir import make_loggers, prepare_run_dir
from elmo_lab.training.tasks import load_task
from elmo_lab.metrics.examples import EXAMPLES_FILE
from elmo_lab.training.results import RESULTS_FILE, chance_report, write_json_atomic, write_results

log = logging.getLogger(__name__)
# A frozen biLM is kept in eval mode on purpose (no dropout inside it); Lightning would warn about it every run.
warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
# What a finished task run leaves besides checkpoints/ (and the task's prediction files): force=true deletes them.
RUN_OUTPUTS = (RESULTS_FILE, "layer_weights.png", "finetune.json", EXAMPLES_FILE)


def _finetune(cfg: DictConfig, elmo: BiLMLayers, datamodule: Any, run_dir: Path, device: torch.device) -> dict:
    """``bilm.finetune.enabled``: LM training of the biLM on the task's training text (labels ignored), on
    ``device`` (the trainer's: a ``trainer=gpu`` run fine-tunes on the GPU too), in float32."""
    try:
        from elmo_lab.lm.finetune import finetune_bilm
    except ImportError:
        raise ConfigError("bilm.finetune.enabled: biLM fine-tuning (elmo_lab.lm.finetune) is not available in "
                          "this installation") from None
    from elmo_lab.bilm.pretrained import resolve_bilm

    f = cfg.bilm.finetune
    options_path, _ = resolve_bilm(cfg.bilm.spec)  # a pretrain.py export keeps its LM softmax beside the weights
    home = next(elmo.bilm.parameters()).device
    elmo.bilm.to(device)
    try:
        report = finetune_bilm(elmo.bilm, datamodule.sentences("train"), datamodule.sentences("dev"),
                               epochs=f.epochs, lr=f.lr, batch_size=f.batch_size, max_steps=f.max_steps,
                               softmax_source=options_path.parent, seed=cfg.seed)
    finally:
        elmo.bilm.to(home)  # the trainer moves the whole task model itself
    report["device"] = str(device)
    elmo.bilm.requires_grad_(not cfg.bilm.freeze)
    write_json_atomic(run_dir / "finetune.json", report)
    return report


def train(cfg: DictConfig) -> float | None:
    """Run one task training as ``cfg`` says; return ``cfg.optimized_metric`` (for sweepers)."""
    validate(cfg)
    run_dir = Path(cfg.paths.output_dir)
    results_path = run_dir / RESULTS_FILE
    if results_path.is_file() and not cfg.force:
        metrics = json.loads(results_path.read_text())["metrics"]
        print(f"run already finished: {results_path} ({cfg.optimized_metric} = "
              f"{metrics.get(cfg.optimized_metric)}); force=true reruns it")
        return metrics.get(cfg.optimized_metric)
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    placement, e = plain["elmo"]["placement"], plain["elmo"]
    prepare_run_dir(run_dir, plain, cfg.force, writer=False)  # before the data loads (train.py: before torch)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_recurrence(cfg.bilm.recurrence)  # ELMO_LAB_RECURRENCE still overrides it

    # data errors come first (one line, nothing written): every rank reads the data, none writes yet
    task = load_task(cfg.task.module)
    if task.check is not None:
        task.check(plain)
    # one way: config -> biLM stage -> data (plain values from it) -> cache filled from the data -> model
    settings = ElmoSettings.from_config(plain["elmo"])
    elmo = BiLMLayers.from_config(plain["bilm"], needed=settings.reads_bilm)  # the one place a biLM is loaded
    datamodule = task.datamodule(plain["task"], seed=cfg.seed, char_ids=elmo.char_ids_needed,
                                 max_chars=elmo.max_chars)
    datamodule.setup()
    if elmo.cache is not None:  # computed at the first batch: after fine-tuning and any checkpoint restore
        elmo.cache.add(datamodule.all_sequences())
    data_info = {**datamodule.model_info(), "word_vectors": datamodule.word_vectors}  # word_vectors: task.word_vectors
    model = task.module(task=plain["task"], elmo=elmo, settings=settings, data_info=data_info,
                        seed=cfg.seed)
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
    if cfg.bilm.finetune.enabled:  # after the trainer exists: a bad accelerator fails before minutes of LM training
        finetune_file = run_dir / "finetune.json"
        if resume:
            finetune = json.loads(finetune_file.read_text())
        elif writer:
            finetune = _finetune(cfg, elmo, datamodule, run_dir, trainer.strategy.root_device)
        else:  # DDP starts every rank from rank 0's module state, fine-tuned biLM included
            elmo.bilm.requires_grad_(not cfg.bilm.freeze)
    for lg in trainer.loggers:
        lg.log_hyperparams(plain)
    if resume:
        log.info("resuming from %s", resume)
    trainer.fit(model, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    fit_history = list(history.history)  # loading the best checkpoint below restores the callback's older state

    best = next((cb.best_model_path for cb in trainer.checkpoint_callbacks if cb.monitor), "")
    ckpt = best or (str(last) if last.is_file() else None)
    metrics = dict(trainer.validate(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False)[0])
    if cfg.test:
        metrics.update(trainer.test(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False)[0])
    weights = layer_weights(model)
    for cb in callbacks:
        if isinstance(cb, LayerWeightLogger):
            cb.write_heatmap(trainer, model, title=f"{cfg.task.name}: placement={placement}, mix={e['mix']}, "
                                                   f"λ={e['l2_coef']}")
    if writer:
        write_results(run_dir, task=cfg.task.name, placement=placement, mix=e["mix"], l2_coef=e["l2_coef"],
                      seed=cfg.seed, metrics=metrics, layer_weights=weights, data_sizes=datamodule.data_sizes(),
                      config=plain, finetune=finetune, objective=cfg.optimized_metric,
                      data_notes={**datamodule.data_notes(), **datamodule.subset_notes(),
                                  **datamodule.word_vector_notes()},
                      history=fit_history, chance=chance_report(metrics, datamodule.chance_levels()))
        print("metrics: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())))
        for name, w in weights.items():
            print(f"layer weights {name}: s = [{', '.join(f'{x:.2f}' for x in w['s'])}], gamma = {w['gamma']:.2f}")
        print(f"results: {results_path}")
    return metrics.get(cfg.optimized_metric)
