"""Train a task model with ELMo where you say: ``python train.py task=mr elmo.placement=both``.

Configs: ``conf/`` (``python train.py --help`` lists its groups and their choices), typed by ``elmo_lab/config/``.  The run directory gets ``results.json``, ``layer_weights.png``, ``checkpoints/``,
CSV logs and an offline wandb run.  Config mistakes print one ``error: ...`` line and exit with status 2, before
torch or Lightning is imported (composition and validation use only the light schema modules); ``pretrain.py``
runs the same way (``elmo_lab.run.cli``).
"""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from elmo_lab.config.schema import register_configs, validate
from elmo_lab.run.cli import help_text, run_hydra_cli, run_job
from elmo_lab.run.run_dir import refuse_changed_config
from elmo_lab.training.tasks import register_task_schemas

CONF = Path(__file__).resolve().parent / "conf"
register_configs()
register_task_schemas(CONF / "task")  # the typed task.* schemas


def check(cfg: DictConfig) -> None:
    """What is checked before anything heavy loads: the value ranges the types cannot say, and a rerun's config."""
    validate(cfg)
    refuse_changed_config(cfg)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run_job(cfg, check, "elmo_lab.training.pipeline:train")


if __name__ == "__main__":
    run_hydra_cli(main, help=help_text(CONF, "train", "python train.py [-m] [group=choice ...] [key=value ...]"))
