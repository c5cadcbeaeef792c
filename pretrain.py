"""Pretrain a biLM as a language model: ``python pretrain.py corpus=ptb`` (see ``conf/pretrain.yaml``).

Trains forward and backward LMs (separate LSTMs, shared char-CNN token encoder and softmax) on a corpus, logs dev
perplexities every epoch, prints dev/test perplexities at the end, and exports the model (``elmo_lab.lm.export``):
official ``options.json`` + ``weights.hdf5`` (usable as ``bilm=<export dir>`` or by any ELMo loader) plus the
softmax side file and vocabulary needed to keep training it (fine-tuning, ``python -m elmo_lab perplexity``).
Rerunning the same command resumes from ``<run dir>/checkpoints/last.ckpt``.
"""
from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from elmo_lab.util.errors import UserError


@hydra.main(version_base="1.3", config_path="conf", config_name="pretrain")
def main(cfg: DictConfig) -> None:
    from elmo_lab.lm.pretraining import run_pretraining

    try:
        run_pretraining(cfg, command=" ".join(["python", "pretrain.py", *sys.argv[1:]]))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
