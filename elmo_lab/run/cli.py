"""The one way the Hydra entry points (``train.py``, ``pretrain.py``) run: one-line errors, their own ``--help``.

Hydra normally prints its own multi-line report (or a traceback); ``run_hydra_cli`` asks Hydra to raise instead
(``HYDRA_FULL_ERROR=1``) and turns the project's user errors into one line naming the key and the valid choices
(``error: ...``, exit status 2), and answers ``--help`` with ``help_text``: the groups that entry point composes.
Inside the job, ``run_job`` validates the config (light), only then imports the pipeline (torch and Lightning), and
reports the errors raised there (``ConfigError``, ``DataError``, ...) through ``report_user_error``, so Hydra logs no
"Error executing job" line.  Anything else (a bug) keeps its traceback.
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from elmo_lab.util.errors import UserError


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def describe(ex: BaseException) -> str:
    """One line for a Hydra / OmegaConf / project error."""
    if isinstance(ex, MissingConfigException):
        m = re.search(r"Could not find '([^']+)'", str(ex))
        options = [o for o in getattr(ex, "options", None) or [] if not o.startswith("_")]  # _x: shared bases
        missing = m.group(1) if m else _first_line(ex)
        group, _, name = missing.rpartition("/")
        if options:
            hint = difflib.get_close_matches(name, options, n=1)
            near = f" (did you mean {hint[0]}?)" if hint else ""
            return f"{group}={name}: no such option{near}; valid choices: {', '.join(sorted(options))}"
        return f"{_first_line(ex)}"
    cause = ex.__cause__ if isinstance(ex.__cause__, OmegaConfBaseException) else None
    inner = cause or ex
    full_key = getattr(inner, "full_key", None)
    message = _first_line(inner)
    m = re.match(r"Invalid value '(.*)', expected one of \[(.*)\]", message)
    if m and full_key:
        return f"{full_key}: invalid value {m.group(1)!r}; valid choices: {m.group(2)}"
    m = re.match(r"Key '(.+)' not in '(.+)'", message) or re.match(r"Key '(.+)' is not in struct", message)
    if m and full_key:
        node = getattr(inner, "parent_node", None)
        keys = list(node.keys()) if node is not None and hasattr(node, "keys") else []
        hint = difflib.get_close_matches(m.group(1), keys, n=1)
        near = f" (did you mean {hint[0]}?)" if hint else ""
        valid = f"; valid keys: {', '.join(keys)}" if keys else ""
        return f"{full_key}: no such key{near}{valid}"
    if isinstance(inner, OmegaConfBaseException) and full_key:
        return f"{full_key}: {message}"
    lines = [line.strip() for line in str(ex).splitlines() if line.strip()]
    text = lines[0] if lines else type(ex).__name__
    if text.endswith(":") and len(lines) > 1:  # "In 'x': ConfigKeyError raised while composing config:" + detail
        return f"{text} {lines[1]}"
    if ex.__cause__ is not None and _first_line(ex.__cause__) not in text:
        return f"{text}: {_first_line(ex.__cause__)}"
    return text


def report_user_error(ex: BaseException, run_dir: str | Path | None = None, log_name: str = "train.log") -> NoReturn:
    """Print ``error: <ex>`` and exit 2, removing what Hydra wrote into a run directory that never got started
    (its ``.hydra/``, the job's log ``log_name`` and ``run_config.yaml``; never anything else)."""
    print(f"error: {ex}", file=sys.stderr)
    if run_dir is not None:
        run_dir = Path(run_dir)
        if not (run_dir / "checkpoints").exists() and not (run_dir / "results.json").exists():
            shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
            for name in (log_name, "run_config.yaml"):
                (run_dir / name).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only if now empty
    sys.exit(2)


def run_job(cfg: DictConfig, check: Callable[[DictConfig], None], target: str, **kwargs: Any) -> Any:
    """The body of an entry point's ``@hydra.main`` job: ``check(cfg)`` (light: still before anything heavy
    loads), then import ``target`` (``"module:function"``; torch and Lightning load there, once the config is known
    good) and return ``function(cfg, **kwargs)``.  A ``UserError`` from either is one ``error:`` line, exit 2, and
    leaves no trace in a run directory that never started.  A wandb run that the job started is finished."""
    try:
        check(cfg)
        module, _, function = target.partition(":")
        return getattr(importlib.import_module(module), function)(cfg, **kwargs)
    except UserError as ex:
        job = HydraConfig.get()
        report_user_error(ex, job.runtime.output_dir, f"{job.job.name}.log")
    finally:
        wandb = sys.modules.get("wandb")  # only a run that logged to wandb has imported it
        if wandb is not None and wandb.run is not None:
            wandb.finish()


def help_text(conf_dir: str | Path, primary: str, usage: str) -> str:
    """The ``--help`` of an entry point: usage, then each config group ``primary.yaml`` composes (directly, through
    an experiment, or Hydra's own: ``elmo_lab.config.groups``) with its choices.  Read from the yaml files alone, so
    it answers at once and lists exactly what this entry point can compose."""
    from elmo_lab.config.groups import composed_groups, group_choices

    lines = [f"usage: {usage}", "", "config groups (group=choice):"]
    for group in composed_groups(conf_dir, primary):
        choices = group_choices(conf_dir, group)
        if choices:
            lines.append(f"  {group + ':':<16} {', '.join(choices)}")
    lines += ["", "any key: key=value (an existing key), +key=value (a new one); -m sweeps comma-separated values",
              f"the composed config: python {primary}.py --cfg job;  Hydra's own help: --hydra-help"]
    return "\n".join(lines)


def run_hydra_cli(main: Callable[[], object], help: str | None = None) -> None:
    """Call a ``@hydra.main`` function; print project/config errors as ``error: <one line>`` and exit 2.
    ``help``: printed for ``--help``/``-h`` instead of Hydra's (which lists every group in the search path)."""
    if help is not None and any(a in ("--help", "-h") for a in sys.argv[1:]):
        print(help)
        sys.exit(0)
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except UserError as ex:
        report_user_error(ex)
    except (HydraException, OmegaConfBaseException) as ex:
        print(f"error: {describe(ex)}", file=sys.stderr)
        sys.exit(2)
