"""Pretrain a biLM as a language model: ``python pretrain.py corpus=ptb`` (see ``conf/pretrain.yaml``).

Trains forward and backward LMs (separate LSTMs, shared char-CNN token encoder and softmax) on a corpus, logs dev
perplexities every epoch, prints dev/test perplexities at the end, and exports the model (``elmo_lab.lm.export``):
official ``options.json`` + ``weights.hdf5`` (usable as ``bilm=<export dir>`` or by any ELMo loader) plus the
softmax side file and vocabulary needed to keep training it (fine-tuning, ``python -m elmo_lab perplexity``).
Rerunning the same command resumes from ``<run dir>/checkpoints/last.ckpt``; rerunning it with another
result-relevant setting is refused (``force=true`` starts over).  Configs are typed by ``elmo_lab/config/pretrain.py``;
like ``train.py`` (the same ``elmo_lab.run.cli``), a config mistake prints one ``error: ...`` line and exits
with status 2 before torch or Lightning is imported.
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from elmo_lab.config.pretrain import PRETRAIN_RESULT_NEUTRAL_KEYS, register_pretrain_configs, validate_pretrain
from elmo_lab.run.cli import help_text, run_hydra_cli, run_job
from elmo_lab.run.run_dir import refuse_changed_config

CONF = Path(__file__).resolve().parent / "conf"
register_pretrain_configs()


def check(cfg: DictConfig) -> None:
    """What is checked before anything heavy loads: the value ranges the types cannot say, and a rerun's config."""
    validate_pretrain(cfg)
    refuse_changed_config(cfg, ignored=PRETRAIN_RESULT_NEUTRAL_KEYS)


@hydra.main(version_base="1.3", config_path="conf", config_name="pretrain")
def main(cfg: DictConfig) -> None:
    run_job(cfg, check, "elmo_lab.lm.pretraining:run_pretraining",
            command=" ".join(["python", "pretrain.py", *sys.argv[1:]]))


if __name__ == "__main__":
    run_hydra_cli(main, help=help_text(CONF, "pretrain", "python pretrain.py [--config-name pretrain_default_bilm] "
                                                         "[group=choice ...] [key=value ...]"))
