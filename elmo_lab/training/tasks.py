"""How the pipeline finds a task: ``task.module`` names a Python module defining ``TASK = Task(...)``.

The task modules live outside the package (the top-level ``tasks/`` folder, one module per task); the core imports
them only by the name the config gives, so a new task needs no change here.  ``register_task_schemas`` puts each
task's typed config (``SCHEMA`` of a light ``<module>_schema`` module beside it, or ``Task.config``, a dataclass)
into Hydra's ConfigStore as ``task/_<x>_schema``, which the task's yaml lists first in its defaults: a wrong
``task.*`` value then fails at composition, before anything loads.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from elmo_lab.config.schema import ConfigError


@dataclass(frozen=True)
class Task:
    """What a task module contributes: its datamodule and LightningModule classes, optionally its config schema (for a
    task without a light ``<module>_schema`` module beside it, ``register_task_schemas``) and a check of the whole
    composed config that runs before any data is read (``check(config)`` raising ``ConfigError``, e.g. a probe refusing
    an unfrozen biLM); and what the report needs to know of it: its row in the paper and the units of its metrics."""

    datamodule: type
    module: type
    config: type | None = None
    check: Callable[[dict], None] | None = None
    #: where a run of this task is in Peters et al. (2018), for the composed config: ``{"row", "metric"[,
    #: "column"]}`` naming a row of ``elmo_lab/resources/paper/peters2018.json``, or None (written to results.json)
    paper_row: Callable[[dict], dict | None] | None = None
    #: ``fraction`` (0-1, most metrics) or ``points`` (0-100, e.g. SQuAD EM/F1): how the report scales to points
    metric_units: str = "fraction"


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


def _light_schema(module_name: str) -> type | None:
    """``SCHEMA`` of the module ``<task module>_schema`` beside the task (``tasks/ner_schema.py`` for ``tasks.ner``),
    or None when the task has no such module.  Only that small module is imported, not the task."""
    schema_module = f"{module_name}_schema"
    try:
        found = importlib.util.find_spec(schema_module) is not None
    except ModuleNotFoundError:  # the task's package does not exist: load_task names it later
        return None
    return getattr(importlib.import_module(schema_module), "SCHEMA", None) if found else None


def register_task_schemas(task_conf: str | Path | None = None) -> list[str]:
    """Register every task's typed ``task.*`` schema in Hydra's ConfigStore (group ``task``); return the names.

    A task yaml in ``task_conf`` whose defaults name ``_<x>_schema`` and which sets ``module`` gets its schema from
    ``SCHEMA`` in the light module ``<module>_schema`` beside the task (the built-in tasks: ``tasks/<x>_schema.py``,
    which import no torch), or else from its ``module``'s ``Task.config`` (that module is then imported before
    composition).  So a new task needs no change to the core, and composing a config imports no torch.
    """
    store = ConfigStore.instance()
    names = []
    if task_conf is not None:
        for name, module_name in _schemas_named_in(Path(task_conf)).items():
            schema = _light_schema(module_name)
            if schema is None:
                task = load_task(module_name)
                schema = task.config
            if schema is not None:
                store.store(group="task", name=name, node=schema)
                names.append(name)
    return names
