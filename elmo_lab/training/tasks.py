"""How the pipeline finds a task: ``task.module`` names a Python module defining ``TASK = Task(...)``.

The task modules live outside the package (the top-level ``tasks/`` folder, one module per task); the core imports
them only by the name the config gives, so a new task needs no change here.  ``register_task_schemas`` puts each
task's typed config (``Task.config``, a dataclass) into Hydra's ConfigStore as ``task/_<module>_schema``, which the
task's yaml lists first in its defaults: a wrong ``task.*`` value then fails at composition, before anything loads.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore

from ..config import ConfigError


@dataclass(frozen=True)
class Task:
    """What a task module contributes: its datamodule and LightningModule classes, and its config schema."""

    datamodule: type
    module: type
    config: type | None = None


def load_task(module_name: str) -> Task:
    """Import ``module_name`` (``task.module``) and return its ``TASK``."""
    try:
        mod = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise ConfigError(f"task.module: no module named {module_name!r}") from None
        raise
    task = getattr(mod, "TASK", None)
    if not isinstance(task, Task):
        raise ConfigError(f"task.module: {module_name} defines no TASK = Task(datamodule=..., module=...)")
    return task


def schema_name(module_name: str) -> str:
    """``tasks.sentiment`` → ``_sentiment_schema`` (the leading ``_`` keeps it out of ``task=`` choices)."""
    return f"_{module_name.rsplit('.', 1)[-1]}_schema"


def register_task_schemas(package: str) -> list[str]:
    """Register the config schema of every task module in ``package``; return the registered names."""
    pkg = importlib.import_module(package)
    store = ConfigStore.instance()
    names = []
    for info in pkgutil.iter_modules(pkg.__path__):
        mod: Any = importlib.import_module(f"{package}.{info.name}")
        task = getattr(mod, "TASK", None)
        if isinstance(task, Task) and task.config is not None:
            name = schema_name(mod.__name__)
            store.store(group="task", name=name, node=task.config)
            names.append(name)
    return names
