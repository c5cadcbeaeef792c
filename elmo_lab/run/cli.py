"""The one way the Hydra entry points (``train.py``, ``pretrain.py``) run: one-line errors, their own ``--help``.

Hydra normally prints its own multi-line report (or a traceback); ``run_hydra_cli`` asks Hydra to raise instead
(``HYDRA_FULL_ERROR=1``) and turns the project's user errors into one line naming the key and the valid choices
(``error: ...``, exit status 2), and answers ``--help`` with ``help_text``: the groups that entry point composes.
Inside the job, ``run_job`` validates the config (light), only then imports the pipeline (torch and Lightning), and
reports the errors raised there (``ConfigError``, ``DataError``, ...) through ``report_user_error``, so Hydra logs no
"Error executing job" line.  Anything else (a bug) keeps its traceback.
"""
from __future__ import annotations

import difflib
import importlib
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, InstantiationException, MissingConfigException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from elmo_lab.run.run_dir import started_here
from elmo_lab.util.errors import UserError

EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C (SIGINT)


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


def report_user_error(ex: BaseException | str, run_dir: str | Path | None = None,
                      log_name: str = "train.log") -> NoReturn:
    """Print ``error: <ex>`` and exit 2, removing what this job wrote into a run directory that never got started
    (its ``.hydra/``, the job's log ``log_name``, the ``run_config.yaml`` it saved, and the folders Hydra created
    for it that are left empty; never anything else, and nothing of a run an earlier command started)."""
    print(f"error: {ex}", file=sys.stderr)
    if run_dir is not None:
        run_dir = Path(run_dir)
        fresh = not (run_dir / "checkpoints").exists() and not (run_dir / "results.json").exists()
        if fresh and started_here(run_dir):
            shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
            for name in (log_name, "run_config.yaml"):
                (run_dir / name).unlink(missing_ok=True)
            remove_empty_folders(run_dir)
        elif (run_dir / log_name).is_file() and (run_dir / log_name).stat().st_size == 0:
            (run_dir / log_name).unlink()  # opened by Hydra's logging for this job, nothing written to it
    sys.exit(2)


def remove_empty_folders(folder: Path, stop: Path | None = None) -> None:
    """Remove ``folder`` if empty, then each parent while it is empty and inside ``stop`` (default: the working
    directory, where Hydra created ``outputs/<task>/...`` for the run)."""
    stop = (stop or Path.cwd()).resolve()
    folder = folder.resolve()
    while True:
        try:
            folder.rmdir()  # only if empty
        except OSError:
            return
        folder = folder.parent
        if folder == stop or stop not in folder.parents:
            return


def run_job(cfg: DictConfig, check: Callable[[DictConfig], None], target: str, **kwargs: Any) -> Any:
    """The body of an entry point's ``@hydra.main`` job: ``check(cfg)`` (light: still before anything heavy
    loads), then import ``target`` (``"module:function"``; torch and Lightning load there, once the config is known
    good) and return ``function(cfg, **kwargs)``.  A ``UserError`` from either is one ``error:`` line, exit 2, and
    leaves no trace in a run directory that never started.  A wandb run that the job started is finished."""
    try:
        refuse_new_keys(cfg, HydraConfig.get().overrides.task)
        check(cfg)
        save_hydra_record(cfg)
        module, _, function = target.partition(":")
        return getattr(importlib.import_module(module), function)(cfg, **kwargs)
    except (UserError, InstantiationException, *_lightning_config_errors()) as ex:
        # Hydra's instantiate (a trainer, callback or logger config Lightning refuses) and Lightning's own config
        # checks are about the user's settings too: one line, as at composition
        job = HydraConfig.get()
        message = ex if isinstance(ex, UserError) else _instantiation_message(cfg, ex) or describe(ex)
        report_user_error(message, job.runtime.output_dir, f"{job.job.name}.log")
    finally:
        wandb = sys.modules.get("wandb")  # only a run that logged to wandb has imported it
        if wandb is not None and wandb.run is not None:
            wandb.finish()


def _instantiation_message(cfg: DictConfig, ex: BaseException) -> str | None:
    """``trainer: No supported gpu backend found! (pytorch_lightning.Trainer refused these settings)`` for Hydra's
    "Error in call to target ..." when a config node (``trainer``, ``callbacks.x``, ``logger.x``) names that
    target; ``None`` otherwise."""
    from omegaconf import OmegaConf

    m = re.match(r"Error in call to target '([^']+)'", str(ex))
    if not isinstance(ex, InstantiationException) or m is None or ex.__cause__ is None:
        return None
    name = m.group(1).rpartition(".")[2]
    nodes = {"trainer": cfg.get("trainer"), **{f"{group}.{key}": node for group in ("callbacks", "logger")
                                               for key, node in (cfg.get(group) or {}).items()}}
    for key, node in nodes.items():
        target = str(OmegaConf.select(node, "_target_", default="") or "") if isinstance(node, DictConfig) else ""
        if target.rpartition(".")[2] == name:
            return f"{key}: {_first_line(ex.__cause__)} ({target} refused these settings)"
    return None


def _lightning_config_errors() -> tuple[type[BaseException], ...]:
    """Lightning's ``MisconfigurationException``, once Lightning is loaded (it never is for a light check)."""
    module = sys.modules.get("lightning_fabric.utilities.exceptions")
    return (module.MisconfigurationException,) if module is not None else ()


def refuse_new_keys(cfg: DictConfig, overrides: Sequence[str]) -> None:
    """A ``+key=value`` override that adds a key to a typed node (the root, ``task``, ``elmo``, ``bilm``, ...) adds
    a key nothing reads, so a misspelt key would go unnoticed: refused, naming the valid keys.  Untyped nodes
    (``trainer``, ``callbacks``, ``logger``: passed to Lightning as they are) and config groups (``+experiment=x``)
    take new keys."""
    import dataclasses

    from omegaconf import OmegaConf

    for override in overrides:
        key = override.lstrip("+").split("=", 1)[0]
        if not override.startswith("+") or "@" in key or "/" in key:
            continue
        parent_key, _, name = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
        schema = OmegaConf.get_type(parent) if isinstance(parent, DictConfig) else None
        if schema is None or not dataclasses.is_dataclass(schema):
            continue
        fields = [f.name for f in dataclasses.fields(schema)]
        if name not in fields and name not in _composed_groups(cfg, parent_key):
            hint = difflib.get_close_matches(name, fields, n=1)
            near = f" (did you mean {parent_key + '.' if parent_key else ''}{hint[0]}?)" if hint else ""
            raise UserError(f"{override}: {parent_key or 'the config'} has no key {name}{near}, and nothing would "
                            f"read a new one; valid keys: {', '.join(fields)}")


def _composed_groups(cfg: DictConfig, parent_key: str) -> set[str]:
    """The config groups a run composed (``hydra.runtime.choices``): ``+group=option`` adds a group, not a key."""
    choices = HydraConfig.get().runtime.choices
    prefix = f"{parent_key}/" if parent_key else ""
    return {str(g)[len(prefix):] for g in choices if str(g).startswith(prefix)}


def save_hydra_record(cfg: DictConfig) -> None:
    """Write Hydra's record of the job (``.hydra/config.yaml``, ``hydra.yaml``, ``overrides.yaml``) into its output
    directory, as Hydra would, but only once the checks passed and only at a run's start (or ``force=true``): the
    entry points' configs set ``hydra.output_subdir: null`` so that a refused, resumed or finished rerun leaves the
    record of the run it found as it was."""
    from omegaconf import OmegaConf

    job = HydraConfig.get()
    folder = Path(job.runtime.output_dir) / ".hydra"
    if (folder / "config.yaml").is_file() and not cfg.get("force"):
        return
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": job}), folder / "hydra.yaml")
    OmegaConf.save(job.overrides.task, folder / "overrides.yaml")


def help_text(conf_dir: str | Path, primary: str, usage: str) -> str:
    """The ``--help`` of an entry point: usage, then each config group ``primary.yaml`` composes (directly, through
    an experiment, or Hydra's own: ``elmo_lab.config.groups``) with its choices.  Read from the yaml files alone, so
    it answers at once and lists exactly what this entry point can compose."""
    from elmo_lab.config.groups import composed_groups, group_choices

    lines = [f"usage: {usage}", "", "config groups (group=choice):"]
    for group in composed_groups(conf_dir, primary):
        choices = group_choices(conf_dir, group)
        if choices:
            lines.append(f"  {group + ':':<16} {', '.join(_numbered_runs(choices))}")
    lines += ["", "any key: key=value (an existing key), +key=value (a new one); -m sweeps comma-separated values",
              f"the composed config: python {primary}.py --cfg job;  Hydra's own help: --hydra-help"]
    return "\n".join(lines)


def _numbered_runs(choices: list[str]) -> list[str]:
    """Choices that differ only by a trailing number, shown as one range (``layer0 … layer63``, in number order)."""
    numbered: dict[str, list[int]] = {}
    for choice in choices:
        m = re.fullmatch(r"(\D+)(\d+)", choice)
        if m:
            numbered.setdefault(m.group(1), []).append(int(m.group(2)))
    shown, done = [], set()
    for choice in choices:
        m = re.fullmatch(r"(\D+)(\d+)", choice)
        if m is None or len(numbered[m.group(1)]) < 4:
            shown.append(choice)
        elif m.group(1) not in done:
            done.add(m.group(1))
            shown.append(f"{m.group(1)}{min(numbered[m.group(1)])} … {m.group(1)}{max(numbered[m.group(1)])}")
    return shown


def run_hydra_cli(main: Callable[[], object], help: str | None = None) -> None:
    """Call a ``@hydra.main`` function; print project/config errors as ``error: <one line>`` and exit 2.
    ``help``: printed for ``--help``/``-h`` instead of Hydra's (which lists every group in the search path)."""
    if help is not None and any(a in ("--help", "-h") for a in sys.argv[1:]):
        print(help)
        sys.exit(0)
    sys.argv[1:] = [expand_home(arg) for arg in sys.argv[1:]]
    flags = {arg.split("=", 1)[0] for arg in sys.argv[1:] if arg.startswith("-")}
    if flags & {"-m", "--multirun"} and flags & {"--cfg", "-c", "--info", "-i"}:
        report_user_error("--cfg/--info show one job's config: drop -m and give each swept key one value")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except UserError as ex:
        report_user_error(ex)
    except (HydraException, OmegaConfBaseException) as ex:
        report_user_error(describe(ex))
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as ex:
        if isinstance(ex.__context__, KeyboardInterrupt):  # Lightning's fit turns Ctrl-C into exit status 1
            _interrupted()
        raise


def expand_home(arg: str) -> str:
    """``key=~/data`` (and each ``~`` item of ``key=~/a,~/b``) with the home folder written out, as a shell does
    for a path of its own: Hydra's override grammar has no ``~`` in values, and no shell expands it after ``=``.
    Flags, ``~key`` (Hydra's delete) and quoted values are left as they are."""
    key, sep, value = arg.partition("=")
    if not sep or arg.startswith(("-", "~")) or "~" not in value:
        return arg
    return key + "=" + ",".join(os.path.expanduser(item) if item.startswith("~") else item
                                for item in value.split(","))


def _interrupted() -> NoReturn:
    print("error: interrupted (rerun the same command to resume from checkpoints/last.ckpt)", file=sys.stderr)
    sys.exit(EXIT_INTERRUPTED)


class LauncherCheck(Callback):
    """A Hydra callback (``hydra.callbacks`` in the entry points' configs): a sweep with ``hydra/launcher=slurm``
    on a machine without SLURM's ``srun`` is refused in one line before anything is written (submitit would raise
    a traceback once the sweep directory exists)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        target = str(OmegaConf.select(config, "hydra.launcher._target_") or "")
        if "Slurm" in target and shutil.which("srun") is None:
            report_user_error("hydra/launcher=slurm: no srun on this machine (not a SLURM cluster); submit from a "
                              "SLURM login node, or sweep here with hydra/launcher=local")
