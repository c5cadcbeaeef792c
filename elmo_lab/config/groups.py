"""The Hydra config groups, read from ``conf/`` itself so that no list of them is kept by hand: a group is a folder
of ``conf/`` holding yaml files (``hydra/launcher`` included), its choices are those files (without the
``_``-prefixed shared bases) and the options registered in Hydra's ConfigStore, and an entry point composes the groups its yaml's defaults name, those its groups'
files name in turn (``experiment=table2`` composes ``table2`` and ``table3``), and Hydra's own (``hydra/launcher``).

Light: omegaconf only, so ``--help`` answers at once.
"""
from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf


def config_groups(conf_dir: str | Path) -> list[str]:
    """Every group under ``conf_dir``, as Hydra names it (``task``, ``hydra/launcher``)."""
    conf_dir = Path(conf_dir)
    return sorted(str(p.relative_to(conf_dir)) for p in conf_dir.rglob("*") if p.is_dir() and group_choices(conf_dir,
                  str(p.relative_to(conf_dir))))


def group_choices(conf_dir: str | Path, group: str) -> list[str]:
    """The options of a config group: its yaml files and the options registered in Hydra's ConfigStore (the
    published ELMo shapes of ``bilm_arch``), without the ``_``-prefixed shared bases and schemas."""
    folder = Path(conf_dir) / group
    names = {p.stem for p in folder.glob("*.yaml")} if folder.is_dir() else set()
    if group.startswith("hydra/"):  # Hydra's plugins register theirs (hydra/launcher: basic, joblib, ...) when found
        from hydra.core.plugins import Plugins

        Plugins.instance()
    stored = ConfigStore.instance().repo
    for part in group.split("/"):
        stored = stored.get(part, {}) if isinstance(stored, dict) else {}
    names |= {name.removesuffix(".yaml") for name in stored if name.endswith(".yaml")}
    return sorted(n for n in names if not n.startswith("_"))


def _named_groups(path: Path) -> list[str]:
    """The groups a yaml file's ``defaults`` list names (``- task: mr``, ``- override /task: probe``)."""
    defaults = OmegaConf.to_container(OmegaConf.load(path)).get("defaults") or []
    return [str(key).removeprefix("override ").strip().strip("/") for entry in defaults if isinstance(entry, dict)
            for key in entry]


def composed_groups(conf_dir: str | Path, primary: str) -> list[str]:
    """The groups ``primary.yaml`` composes, directly or through the files of its groups, then Hydra's own; in the
    order they are met."""
    conf_dir = Path(conf_dir)
    found = _named_groups(conf_dir / f"{primary}.yaml")
    for group in found:  # grows while it is read: a group's files may name further groups
        for path in sorted((conf_dir / group).glob("*.yaml")):
            found += [g for g in _named_groups(path) if g not in found]
    return found + [g for g in config_groups(conf_dir) if g.startswith("hydra/") and g not in found]
