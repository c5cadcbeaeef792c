"""Helpers for tests that train task models: a tiny biLM, composed ``train.py`` configs (outputs in tmp), FAST."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from elmo_lab import BiLM, BiLMOptions
from elmo_lab.config.schema import register_configs
from elmo_lab.training.tasks import register_task_schemas

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
TINY = dict(filters=[[1, 4], [2, 8]], char_embedding_dim=4, n_highway=1, lstm_dim=16, projection_dim=8, n_layers=2,
            cell_clip=3.0, proj_clip=3.0, use_skip_connections=True)


# conf/bilm_arch/transformer-tiny.yaml's transformer biLM, as TransformerOptions fields
TINY_TRANSFORMER = dict(filters=[[1, 4], [2, 8]], char_embedding_dim=4, n_highway=1, dim=8, ffn_dim=16, n_layers=2,
                        n_heads=2)


def tiny_bilm(seed: int = 0) -> BiLM:
    torch.manual_seed(seed)
    return BiLM(BiLMOptions(**TINY)).eval()


def tiny_transformer(seed: int = 0) -> "TransformerBiLM":
    """A tiny transformer biLM (random weights, eval mode) of ``TINY_TRANSFORMER``."""
    from elmo_lab.bilm.transformer import TransformerBiLM
    from elmo_lab.bilm.transformer_options import TransformerOptions

    torch.manual_seed(seed)
    return TransformerBiLM(TransformerOptions(**TINY_TRANSFORMER)).eval()


@contextmanager
def train_composer() -> Iterator[Callable[[list[str]], DictConfig]]:
    """A function that composes ``conf/train.yaml`` with overrides (and the ``hydra`` node), like ``python train.py``
    would: the schemas are registered and Hydra initialised once for all its calls (a tenth of a second each)."""
    register_configs()
    register_task_schemas(CONF / "task")
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        yield lambda overrides: compose("train", overrides=overrides, return_hydra_config=True)


def compose_train(overrides: list[str], run_dir: Path | None = None) -> DictConfig:
    """Compose ``conf/train.yaml`` like ``python train.py`` would, with ``paths.output_dir`` in ``run_dir`` (and the
    biLM layer store beside it, unless the overrides name one)."""
    with train_composer() as compose_one:
        cfg = compose_one(overrides)
    if run_dir is not None:
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
            if cfg.bilm.get("cache_dir") is None:  # keep the tests' biLM layers out of the user's layer store
                cfg.bilm.cache_dir = str(Path(run_dir).parent / "layers")
            del cfg["hydra"]
    return cfg


FAST = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2", "trainer.enable_progress_bar=false", "trainer.num_sanity_val_steps=0",
        "task.hidden_dim=8", "task.word_dim=8", "task.batch_size=8", "task.eval_batch_size=16", "logger=csv",
        "threads=1"]


def settings_group(config_dir: Path, group: str, name: str, settings: list[str]) -> Path:
    """``config_dir/group/name.yaml``, a ``_global_`` config holding ``settings`` (``key=value``): fixed settings
    as one group option (``--config-dir=config_dir group=name``), so that a sweep's job folders, named after the
    overrides, stay short.  Returns ``config_dir``."""
    from omegaconf import OmegaConf

    (config_dir / group).mkdir(parents=True, exist_ok=True)
    (config_dir / group / f"{name}.yaml").write_text("# @package _global_\n" +
                                                     OmegaConf.to_yaml(OmegaConf.from_dotlist(settings)))
    return config_dir


def train_cli(args: list[str], cwd: Path, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` as a user runs it (wandb offline, into ``cwd``; no ``HYDRA_FULL_ERROR``), in ``cwd``;
    ``env`` adds variables."""
    full = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(cwd), **(env or {}))
    full.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout)


def train_main_in_process(args: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    """``python train.py ARGS`` run as ``__main__`` in this process (``sys.argv`` patched): for composition errors,
    which a fresh interpreter would spend ~10 s on importing torch to print.  Returns (exit status, stderr)."""
    import runpy

    import pytest

    monkeypatch.chdir(cwd)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)  # run_hydra_cli sets it; restored afterwards
    monkeypatch.setattr(sys, "argv", [str(REPO / "train.py"), *args])
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(REPO / "train.py"), run_name="__main__")
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return int(exited.value.code), captured.err


def in_process_error_line(args: list[str], cwd: Path, monkeypatch, capsys) -> str:
    """The single ``error: ...`` line ``python train.py ARGS`` prints when run in this process
    (``train_main_in_process``), asserting exit status 2 and nothing else on stderr."""
    status, err = train_main_in_process(args, cwd, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1, err
    return lines[0]


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single ``error: ...`` line a failed CLI run printed (asserting exit status 2 and nothing else)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    return lines[0]


def example_metric(run_dir: Path, name: str) -> float:
    """The test metric ``name`` recomputed from the run's per-example statistics (``test_examples.json``)."""
    from elmo_lab.metrics.examples import EXAMPLES_FILE, read_example_table

    return read_example_table(run_dir / EXAMPLES_FILE).metrics[name].metric()
