"""Train a task model with ELMo where you say: ``python train.py task=mr elmo.placement=both``.

Configs: ``conf/`` (groups task, bilm, elmo, trainer, logger, callbacks, paths, experiment, hydra/launcher), typed
by ``elmo_lab/config.py``.  The run directory gets ``results.json``, ``layer_weights.png``, ``checkpoints/``,
CSV logs and an offline wandb run.  Config mistakes print one ``error: ...`` line and exit with status 2.
"""
from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from elmo_lab.config import register_configs
from elmo_lab.errors import UserError
from elmo_lab.training.cli import report_user_error, run_hydra_cli
from elmo_lab.training.tasks import register_task_schemas

register_configs()
register_task_schemas("tasks")  # each task module's typed task.* schema


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from elmo_lab.training.pipeline import train  # imported here: config errors are reported before Lightning loads

    try:
        return train(cfg)
    except UserError as ex:
        report_user_error(ex, HydraConfig.get().runtime.output_dir)
    finally:
        wandb = sys.modules.get("wandb")  # only a run that logged to wandb has imported it
        if wandb is not None and wandb.run is not None:
            wandb.finish()


if __name__ == "__main__":
    run_hydra_cli(main)
