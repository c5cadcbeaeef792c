"""Train a task model with ELMo where you say: ``python train.py task=mr elmo.placement=both``.

Configs: ``conf/`` (groups task, bilm, elmo, trainer, logger, callbacks, paths, experiment, hydra/launcher), typed
by ``elmo_lab/config/``.  The run directory gets ``results.json``, ``layer_weights.png``, ``checkpoints/``,
CSV logs and an offline wandb run.  Config mistakes print one ``error: ...`` line and exit with status 2, before
torch or Lightning is imported (composition and validation use only the light schema modules).
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from elmo_lab.config.schema import register_configs, validate
from elmo_lab.training.cli import help_text, report_user_error, run_hydra_cli
from elmo_lab.training.tasks import register_task_schemas
from elmo_lab.util.errors import UserError

CONF = Path(__file__).resolve().parent / "conf"
register_configs()
register_task_schemas(CONF / "task")  # the typed task.* schemas


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        validate(cfg)  # value ranges the types cannot say, still before anything heavy loads
        from elmo_lab.training.pipeline import train  # torch + Lightning load here, once the config is known good

        return train(cfg)
    except UserError as ex:
        report_user_error(ex, HydraConfig.get().runtime.output_dir)
    finally:
        wandb = sys.modules.get("wandb")  # only a run that logged to wandb has imported it
        if wandb is not None and wandb.run is not None:
            wandb.finish()


if __name__ == "__main__":
    run_hydra_cli(main, help=help_text(CONF, "train", "python train.py [-m] [group=choice ...] [key=value ...]",
                                       extra_groups=["probe", "hydra/launcher"]))
