"""The run directory both entry points share (``train.py``, ``pretrain.py``): its config check, and the loggers.

A run directory is deterministic from the config (``hydra.run.dir``), so rerunning a killed command resumes it from
``checkpoints/last.ckpt``.  Its first start saves the resolved config as ``run_config.yaml``; a rerun whose config
differs in a key that can change the result is refused in one line naming the differing keys, finished or not (a
finished run answers only for the settings it ran), and ``force=true`` starts it over instead.  A refusal changes
nothing in the directory.  The keys that cannot change a result (``RESULT_NEUTRAL_KEYS`` in
``elmo_lab.config.schema``, plus what each entry point adds) are left out of the comparison.

Light: nothing here imports torch or Lightning (loggers are instantiated from their ``_target_`` when asked for).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig, OmegaConf

from elmo_lab.config.schema import RESULT_NEUTRAL_KEYS, ConfigError, with_keys_added_later
from elmo_lab.util.atomic import atomic_path

RUN_CONFIG = "run_config.yaml"
MAX_LISTED = 5  # differing keys named in a refusal; the rest are counted
_STARTED_HERE: set[Path] = set()  # the run directories whose run_config.yaml this process wrote


def started_here(run_dir: str | Path) -> bool:
    """Whether this process wrote ``run_dir``'s ``run_config.yaml`` (so an error may undo that start), or none
    exists; a directory an earlier run started is never cleaned up after a refusal."""
    return Path(run_dir).resolve() in _STARTED_HERE or not (Path(run_dir) / RUN_CONFIG).is_file()


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Every (dotted) key whose value differs, as ``key: old -> new``, in key order."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            found += differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def without_keys(plain: dict, keys: Sequence[str]) -> dict:
    """``plain`` without the (dotted) ``keys``; the nested dicts on their way are copied, never changed in place."""
    out = dict(plain)
    for key in keys:
        head, _, rest = key.partition(".")
        if not rest:
            out.pop(head, None)
        elif isinstance(out.get(head), dict):
            out[head] = without_keys(out[head], (rest,))
    return out


def prepare_run_dir(run_dir: Path, plain: dict, force: bool, writer: bool = True, outputs: Sequence[str] = (),
                    ignored: Sequence[str] = RESULT_NEUTRAL_KEYS) -> None:
    """Start the run over (``force``), or check that a resumed run has the config it was started with.

    # Parameters
    run_dir : the run directory.
    plain : the resolved config as plain containers (``ignored`` keys are left out of the comparison).
    force : delete what an earlier run left (``checkpoints/`` and the files named in ``outputs``) instead of
        checking.
    writer : this process may delete and write (global rank 0).  Every process checks, so that all ranks of a
        distributed run refuse a mismatch alike instead of some waiting for the others.
    outputs : the files (relative to ``run_dir``) that a finished run of this entry point leaves.
    ignored : the keys a resumed run may change.
    """
    saved = Path(run_dir) / RUN_CONFIG
    comparable = without_keys(plain, ignored)
    if not force and saved.is_file():
        before = with_keys_added_later(OmegaConf.to_container(OmegaConf.load(saved)))
        found = differences(without_keys(before, ignored), comparable)
        if found:
            listed = "; ".join(found[:MAX_LISTED]) + (f"; and {len(found) - MAX_LISTED} more"
                                                      if len(found) > MAX_LISTED else "")
            raise ConfigError(f"{run_dir} holds a run started with another config ({listed}); rerun with "
                              "force=true to start it over, or pick another run_name=...")
    if not writer:
        return
    if force:
        shutil.rmtree(Path(run_dir) / "checkpoints", ignore_errors=True)
        for name in outputs:
            (Path(run_dir) / name).unlink(missing_ok=True)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    if not saved.is_file():
        _STARTED_HERE.add(Path(run_dir).resolve())
    with atomic_path(saved, suffix=".yaml") as tmp:  # other ranks may be reading it
        OmegaConf.save(OmegaConf.create(comparable), tmp)


def refuse_changed_config(cfg: DictConfig, ignored: Sequence[str] = RESULT_NEUTRAL_KEYS) -> None:
    """``prepare_run_dir``'s check alone, from the light entry-point code: a rerun with another config, finished or
    not, is refused before torch loads (the pipeline checks again, for callers that skip the entry points).  A forced
    run is left to the pipeline."""
    run_dir = Path(cfg.paths.output_dir)
    if cfg.force:
        return
    prepare_run_dir(run_dir, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), False, writer=False,
                    ignored=ignored)


def make_loggers(cfg: DictConfig, group: str, name: str, tags: Sequence[str] = ()) -> list:
    """The Lightning loggers of ``cfg.logger`` (each entry with a ``_target_``); a wandb logger whose ``group``,
    ``name`` or ``tags`` are left empty gets these."""
    import hydra

    out = []
    for lg in (cfg.get("logger") or {}).values():
        if lg is None or "_target_" not in lg:
            continue
        kwargs = {}
        if "WandbLogger" in lg._target_:
            kwargs = {"group": lg.get("group") or group, "tags": list(lg.get("tags") or []) or list(tags),
                      "name": lg.get("name") or name}
        out.append(hydra.utils.instantiate(lg, **kwargs))
    return out
