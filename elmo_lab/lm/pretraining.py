"""What ``pretrain.py`` runs: config check → data → LM module → Lightning fit (resumable) → perplexities → export.

The run directory works as a task run's does (``elmo_lab.run.run_dir``, shared with ``train.py``): rerunning a
command resumes from ``checkpoints/last.ckpt``, a rerun with a config that differs in a result-relevant key (all but
``PRETRAIN_RESULT_NEUTRAL_KEYS``) is refused before anything loads, a finished run (``FINISHED_FILE``: written once
training reached its epochs or steps, not when ``trainer.max_time`` cut it) says so and does nothing,
``force=true`` starts over, and under DDP only rank 0 writes there.  The final evaluation honours
``trainer.limit_val_batches`` / ``limit_test_batches`` as the in-training checks do.
"""
from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from elmo_lab.config.pretrain import PRETRAIN_RESULT_NEUTRAL_KEYS, arch_options, validate_pretrain
from elmo_lab.lm.datamodule import LMDataModule
from elmo_lab.lm.export import export_lm
from elmo_lab.lm.module import BiLMLanguageModel
from elmo_lab.lm.perplexity import BATCHING_WORDS, evaluate_perplexity
from elmo_lab.run.run_dir import make_loggers, prepare_run_dir
from elmo_lab.util.atomic import write_json_atomic

FINISHED_FILE = "pretrain_results.json"  # in the run directory: the exported metadata of a finished run


def _plain(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` resolved into plain containers, choices as strings (what the LM code and the metadata take)."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def build(cfg: DictConfig) -> tuple[LMDataModule, BiLMLanguageModel]:
    """The data module (set up) and a fresh LM module for ``cfg`` (``conf/pretrain.yaml`` layout)."""
    plain = _plain(cfg)
    vocab, data, arch = plain["vocab"], plain["data"], plain["bilm_arch"]
    dm = LMDataModule(plain["corpus"], vocab_max_size=vocab["max_size"], vocab_min_count=vocab["min_count"],
                      vocab_path=vocab["path"], window=data["window"], batch_size=data["batch_size"],
                      eval_batch_size=data["eval_batch_size"], max_valid_sentences=data["max_valid_sentences"],
                      seed=plain["seed"], max_chars=arch["char_cnn"].get("max_characters_per_token", 50),
                      batching=data["batching"], lowercase_share=data["lowercase_share"])
    dm.setup()
    assert dm.vocab is not None
    model = BiLMLanguageModel(arch_options(arch), len(dm.vocab), **plain["model"], seed=plain["seed"])
    return dm, model


def run_pretraining(cfg: DictConfig, command: str = "python pretrain.py") -> dict[str, Any]:
    """Train (or resume), evaluate and export; returns the metadata written beside the exported files (``{}`` on the
    other ranks of a distributed run: they train, rank 0 evaluates and exports)."""
    validate_pretrain(cfg)
    run_dir = Path(cfg.paths.output_dir)
    plain = _plain(cfg)
    # a rerun with another config is refused before the corpus loads (pretrain.py: before torch)
    prepare_run_dir(run_dir, plain, cfg.force, writer=False, ignored=PRETRAIN_RESULT_NEUTRAL_KEYS)
    finished = run_dir / FINISHED_FILE
    if finished.is_file() and not cfg.force:
        metadata = json.loads(finished.read_text())
        valid = metadata.get("perplexity", {}).get("valid", {}).get("average")
        print(f"pretraining already finished: exported to {metadata.get('export_dir')} (valid perplexity {valid:.2f});"
              " force=true reruns it", flush=True)
        return metadata
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    pl.seed_everything(cfg.seed, workers=True)
    dm, model = build(cfg)
    sizes = dm.describe()
    n_params = sum(p.numel() for p in model.bilm.parameters())
    n_softmax = sum(p.numel() for p in model.softmax.parameters())
    if rank_zero_only.rank == 0:  # DDP: the other ranks run this script too
        print(f"corpus {cfg.corpus.name}: {json.dumps(sizes)}; biLM {n_params:,} parameters + softmax {n_softmax:,} "
              f"({type(model.softmax).__name__})", flush=True)
    ckpt_dir = run_dir / "checkpoints"
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=ckpt_dir, save_last=True, save_top_k=0,
        train_time_interval=datetime.timedelta(minutes=cfg.checkpoint_every_minutes))
    # use_distributed_sampler=False: under DDP the training loaders shard themselves (LMDataModule), and every rank
    # evaluates the whole dev set, so the logged perplexities are exact (a DistributedSampler would pad with repeats)
    corpus = str(cfg.corpus.name)
    loggers = make_loggers(cfg, group=f"pretrain/{corpus}", name=f"pretrain/{corpus}/{run_dir.name}",
                           tags=[f"corpus:{corpus}"])
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=[checkpoint], logger=loggers or False,
                                      default_root_dir=str(run_dir), use_distributed_sampler=False)
    # rank 0 (known from the launcher's environment) saves run_config.yaml, or with force deletes the checkpoints
    prepare_run_dir(run_dir, plain, cfg.force, trainer.is_global_zero, outputs=(FINISHED_FILE,),
                    ignored=PRETRAIN_RESULT_NEUTRAL_KEYS)
    last = ckpt_dir / "last.ckpt"
    started = time.time()
    trainer.fit(model, datamodule=dm, ckpt_path=str(last) if last.is_file() and not cfg.force else None)
    trainer.save_checkpoint(last)  # the final state, also when max_time or max_steps stopped the run (every rank)
    train_seconds = time.time() - started
    if not trainer.is_global_zero:  # DDP: rank 0 alone evaluates and exports
        return {}

    assert dm.splits is not None and dm.vocab is not None
    results: dict[str, Any] = {}
    model.to(trainer.strategy.root_device)  # after a GPU fit Lightning has moved the model back to the CPU
    data = plain["data"]
    # corpus=file without corpus.test_path evaluates its dev text as "test": reported once, as what it is
    own_test = cfg.corpus.name != "file" or bool(cfg.corpus.test_path)
    limits = {"valid": cfg.trainer.get("limit_val_batches"), "test": cfg.trainer.get("limit_test_batches")}
    for split in ("valid", "test") if cfg.evaluate_test and own_test else ("valid",):
        ppl = evaluate_perplexity(model.bilm, model.softmax, dm.vocab, dm.splits[split], data["window"],
                                  data["eval_batch_size"], batching=data["batching"], limit_batches=limits[split])
        results[split] = ppl
        limited = limits[split] is not None and not (isinstance(limits[split], float) and limits[split] >= 1.0)
        part = f" (trainer.limit_{'val' if split == 'valid' else split}_batches={limits[split]})" if limited else ""
        print(f"{split} perplexity{part}: forward {ppl['forward']:.2f}  backward {ppl['backward']:.2f}  "
              f"average {ppl['average']:.2f}", flush=True)
    if cfg.evaluate_test and not own_test:
        print("no test perplexity: corpus=file has no test text (corpus.test_path); the dev text is the valid split",
              flush=True)
    model.cpu()
    metadata = {
        "command": command,
        "corpus": plain["corpus"],
        "corpus_sizes": sizes,
        "bilm_parameters": n_params,
        "softmax_parameters": n_softmax,
        "softmax_training": type(model.softmax).__name__,
        "tokens_seen": int(model.tokens_seen),
        "epochs_of_data": round(int(model.tokens_seen) / max(dm.encoded["train"].n_predictions, 1), 3),
        "global_steps": trainer.global_step,
        "train_seconds_this_call": round(train_seconds, 1),
        "perplexity": results,
        "perplexity_definition": "per prediction (words + one sentence boundary per sentence and direction), "
                                 f"{BATCHING_WORDS[data['batching']]}, exact full softmax; "
                                 "average = exp(mean of the two directions' mean NLL)",
        "model": plain["model"],
        "data": data,
    }
    out = export_lm(plain["export"]["dir"], model.bilm, model.softmax, dm.vocab, plain["export"]["dtype"], metadata)
    print(f"exported to {out}", flush=True)
    if _training_complete(trainer):
        write_json_atomic(finished, {**metadata, "export_dir": str(out)})
    return metadata


def _training_complete(trainer: pl.Trainer) -> bool:
    """Whether the fit reached its ``max_steps`` or ``max_epochs`` (and was not cut by ``max_time``: a rerun with
    a larger one resumes it)."""
    steps, epochs = trainer.max_steps, trainer.max_epochs
    return (steps is not None and steps >= 0 and trainer.global_step >= steps) or \
        (epochs is not None and epochs >= 0 and trainer.current_epoch >= epochs)
