"""How the pipeline finds a task: ``task.module`` names a Python module defining ``TASK = Task(...)``.

The task modules live outside the package (the top-level ``tasks/`` folder, one module per task); the core imports
them only by the name the config gives, so a new task needs no change here.  ``register_task_schemas`` puts each
task's typed config (``Task.config``, a dataclass) into Hydra's ConfigStore as ``task/_<module>_schema``, which the
task's yaml lists first in its defaults: a wrong ``task.*`` value then fails at composition, before anything loads.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from elmo_lab.config.schema import ConfigError


@dataclass(frozen=True)
class Task:
    """What a task module contributes: its datamodule and LightningModule classes, optionally its config schema
    (a task whose schema is not in ``elmo_lab.config.tasks``) and a check of the whole composed config that runs
    before any data is read (``check(config)`` raising ``ConfigError``, e.g. a probe refusing an unfrozen biLM)."""

    datamodule: type
    module: type
    config: type | None = None
    check: Callable[[dict], None] | None = None


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


def _schemas_named_in(task_conf: Path) -> dict[str, str]:
    """``{schema name: task module}`` for each ``conf/task/*.yaml`` whose defaults list a ``_<module>_schema``
    (read as plain yaml: nothing is imported)."""
    found = {}
    for path in sorted(task_conf.glob("*.yaml")):
        node = OmegaConf.load(path)
        module = node.get("module") if isinstance(node, DictConfig) else None
        for entry in (node.get("defaults") or []) if isinstance(node, DictConfig) else []:
            if isinstance(entry, str) and entry.startswith("_") and entry.endswith("_schema") and module:
                found[entry] = str(module)
    return found


def register_task_schemas(task_conf: str | Path | None = None) -> list[str]:
    """Register every task's typed ``task.*`` schema in Hydra's ConfigStore (group ``task``); return the names.

    The built-in tasks' schemas come from ``elmo_lab.config.tasks`` (light: nothing heavy is imported).  A task
    yaml in ``task_conf`` that names another schema (a task added under ``tasks/`` with ``Task.config``) gets it
    from its ``module``, which is imported for that: so a new task needs no change to the core.
    """
    from elmo_lab.config.tasks import TASK_SCHEMAS

    store = ConfigStore.instance()
    for name, node in TASK_SCHEMAS.items():
        store.store(group="task", name=name, node=node)
    names = list(TASK_SCHEMAS)
    if task_conf is not None:
        for name, module_name in _schemas_named_in(Path(task_conf)).items():
            if name in TASK_SCHEMAS:
                continue
            task = load_task(module_name)
            if task.config is not None:
                store.store(group="task", name=name, node=task.config)
                names.append(name)
    return names
