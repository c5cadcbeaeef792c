"""What ``pretrain.py`` runs: data → LM module → Lightning fit (resumable) → perplexities → export."""
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

from elmo_lab.lm.datamodule import LMDataModule
from elmo_lab.lm.export import export_lm
from elmo_lab.lm.module import BiLMLanguageModel
from elmo_lab.lm.perplexity import BATCHING_WORDS, evaluate_perplexity


def _loggers(cfg: DictConfig) -> list[Any]:
    if not cfg.get("logger"):
        return []
    return [instantiate(c) for c in cfg.logger.values() if c is not None and "_target_" in c]


def build(cfg: DictConfig) -> tuple[LMDataModule, BiLMLanguageModel]:
    """The data module (set up) and a fresh LM module for ``cfg`` (``conf/pretrain.yaml`` layout)."""
    dm = LMDataModule(OmegaConf.to_container(cfg.corpus, resolve=True), vocab_max_size=cfg.vocab.max_size,
                      vocab_min_count=cfg.vocab.min_count, vocab_path=cfg.vocab.path, window=cfg.data.window,
                      batch_size=cfg.data.batch_size, eval_batch_size=cfg.data.eval_batch_size,
                      max_valid_sentences=cfg.data.max_valid_sentences, seed=cfg.seed,
                      max_chars=cfg.bilm_arch.char_cnn.get("max_characters_per_token", 50), batching=cfg.data.batching)
    dm.setup()
    assert dm.vocab is not None
    model = BiLMLanguageModel(OmegaConf.to_container(cfg.bilm_arch, resolve=True), len(dm.vocab),
                              **OmegaConf.to_container(cfg.model, resolve=True), seed=cfg.seed)
    return dm, model


def run_pretraining(cfg: DictConfig, command: str = "python pretrain.py") -> dict[str, Any]:
    """Train (or resume), evaluate and export; returns the metadata written beside the exported files (``{}`` on the
    other ranks of a distributed run: they train, rank 0 evaluates and exports)."""
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    pl.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
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
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=[checkpoint], logger=_loggers(cfg) or False,
                                      default_root_dir=str(run_dir), use_distributed_sampler=False)
    last = ckpt_dir / "last.ckpt"
    started = time.time()
    trainer.fit(model, datamodule=dm, ckpt_path=str(last) if last.is_file() else None)
    trainer.save_checkpoint(last)  # the final state, also when max_time or max_steps stopped the run (every rank)
    train_seconds = time.time() - started
    if not trainer.is_global_zero:  # DDP: rank 0 alone evaluates and exports
        return {}

    assert dm.splits is not None and dm.vocab is not None
    results: dict[str, Any] = {}
    model.to(trainer.strategy.root_device)  # after a GPU fit Lightning has moved the model back to the CPU
    for split in ("valid", "test") if cfg.evaluate_test else ("valid",):
        ppl = evaluate_perplexity(model.bilm, model.softmax, dm.vocab, dm.splits[split], cfg.data.window,
                                  cfg.data.eval_batch_size, batching=cfg.data.batching)
        results[split] = ppl
        print(f"{split} perplexity: forward {ppl['forward']:.2f}  backward {ppl['backward']:.2f}  "
              f"average {ppl['average']:.2f}", flush=True)
    model.cpu()
    metadata = {
        "command": command,
        "corpus": OmegaConf.to_container(cfg.corpus, resolve=True),
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
                                 f"{BATCHING_WORDS[cfg.data.batching]}, exact full softmax; "
                                 "average = exp(mean of the two directions' mean NLL)",
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
    }
    out = export_lm(cfg.export.dir, model.bilm, model.softmax, dm.vocab, cfg.export.dtype, metadata)
    print(f"exported to {out}", flush=True)
    return metadata
