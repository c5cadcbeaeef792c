"""The data behind ``python -m elmo_lab report``: find the runs of one or more sweeps, group them into configurations,
summarise each over its seeds and compare it with its ``none`` baseline.

A *configuration* is everything a run was set up with except what cannot change its result (seed, paths, run name,
loggers, threads, ``force``, ``test``, progress bars, Hydra's own keys).  These settings are read generically from
the resolved config stored in each ``results.json``, so a sweep over any key (``task.lr``, ``trainer.max_epochs``,
a key a future task adds) separates configurations without this module knowing the key.  Runs that differ only by
seed are one configuration, summarised by the mean and the sample standard deviation (ddof=1).

A ``none`` run uses no biLM, so its ELMo and biLM settings (``elmo.*`` but the placement, ``bilm.*``) do not count:
the baselines of sweeps over λ, mixes or biLMs are one configuration, and the same seed met twice there is a
duplicate that is left out instead of counted twice.

Nothing is mixed in silently: a run directory that was started but holds no ``results.json``, an unreadable
``results.json``, and runs whose data sizes or biLM differ from the rest of their configuration are reported as
``Issue``\\ s and left out of the statistics.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

import numpy as np

from elmo_lab.config.schema import RESULT_NEUTRAL_KEYS, with_keys_added_later
from elmo_lab.training.results import RESULTS_FILE
from elmo_lab.util.errors import UserError

RUN_MARKERS = ("checkpoints", "run_config.yaml")  # a run directory that was started
SKIP_DIRS = {"checkpoints", "wandb", "csv", ".hydra", "__pycache__", ".git"}  # never hold a run of their own
# Not settings of a comparison: what cannot change a result, and what names one run (its seed, its directory).
IGNORED_KEYS = RESULT_NEUTRAL_KEYS + ("seed", "run_name", "hydra", "paths", "bilm.spec")
# results.json's top-level copies of config values, for results written without a full config.
TOP_LEVEL_SETTINGS = {"placement": "elmo.placement", "mix": "elmo.mix", "l2_coef": "elmo.l2_coef"}
ELMO_PREFIXES = ("elmo.", "bilm.")  # settings that, apart from the placement, mean nothing for placement none
BILM_KEY = "bilm.spec"  # the biLM's name (a path's last component), as in the run directory


def elmo_only(key: str) -> bool:
    """A setting of the ELMo mix or the biLM, meaningless for a ``none`` run."""
    return key.startswith(ELMO_PREFIXES) and key != "elmo.placement"


class ReportError(ValueError, UserError):
    """Bad input for the report command: a missing folder, no results, an unknown metric."""


@dataclass
class Issue:
    """A run left out of the report: ``kind`` is incomplete / unreadable / mismatched / duplicate."""

    path: str
    kind: str
    reason: str


@dataclass
class Run:
    """One finished run: its ``results.json`` content and the settings that identify its configuration."""

    path: str  # the run directory, as reached from the folder given
    data: dict = field(repr=False)
    task: str
    settings: dict[str, Any]
    bilm: str  # the biLM's full identity (spec, and a fingerprint when results.json records one)
    seed: Any
    metrics: dict[str, float | None]
    data_sizes: dict

    @property
    def placement(self) -> str:
        return str(self.settings.get("elmo.placement", ""))

    def key(self) -> str:
        """The configuration this run belongs to."""
        return json.dumps([self.task, sorted(self.settings.items())], default=str)


@dataclass
class Config:
    """The runs of one configuration (same task and settings, different seeds)."""

    task: str
    settings: dict[str, Any]
    runs: list[Run]
    baseline: Config | None = field(default=None, repr=False)  # the none configuration to compare with

    @property
    def placement(self) -> str:
        return str(self.settings.get("elmo.placement", ""))

    @property
    def is_baseline(self) -> bool:
        return self.placement == "none"

    def key_without(self, left_out: Collection[str] | Callable[[str], bool]) -> str:
        """The task and every setting but those ``left_out`` (keys, or a test of a key), as one comparable key:
        configurations with the same key differ only in the settings left out (a family of a curve, a pair of a
        control task, a configuration and its baseline)."""
        drop = left_out if callable(left_out) else left_out.__contains__
        return json.dumps([self.task, sorted((k, v) for k, v in self.settings.items() if not drop(k))], default=str)

    def values(self, metric: str) -> np.ndarray:
        return np.array([r.metrics[metric] for r in self.runs if r.metrics.get(metric) is not None], dtype=float)

    def mean_std(self, metric: str) -> tuple[float | None, float | None, int]:
        """Mean, sample standard deviation (None below two values) and number of values of ``metric``."""
        v = self.values(metric)
        if not len(v):
            return None, None, 0
        return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None), len(v)

    def mean_layer_weights(self) -> dict[str, tuple[list[float], float]]:
        """``{mix name: (s averaged over seeds, mean γ)}``; seeds whose ``s`` has another length are skipped."""
        out = {}
        names = dict.fromkeys(n for r in self.runs for n in r.data.get("layer_weights", {}))
        for name in names:
            entries = [r.data["layer_weights"][name] for r in self.runs if name in r.data["layer_weights"]]
            size = Counter(len(e["s"]) for e in entries).most_common(1)[0][0]
            same = [e for e in entries if len(e["s"]) == size]
            out[name] = (np.mean([e["s"] for e in same], axis=0).tolist(),
                         float(np.mean([e["gamma"] for e in same])))
        return out


@dataclass
class Difference:
    """Mean of a configuration minus the mean of its baseline, with the standard error of the difference."""

    delta: float
    se: float | None  # sqrt(s1²/n1 + s2²/n2); None unless both sides have two or more seeds


def difference(config: Config, baseline: Config | None, metric: str) -> Difference | None:
    """``config``'s mean of ``metric`` minus ``baseline``'s, with the standard error of the difference."""
    if baseline is None or baseline is config:
        return None
    m1, s1, n1 = config.mean_std(metric)
    m2, s2, n2 = baseline.mean_std(metric)
    if m1 is None or m2 is None:
        return None
    se = math.sqrt(s1 ** 2 / n1 + s2 ** 2 / n2) if s1 is not None and s2 is not None else None
    return Difference(m1 - m2, se)


# ----------------------------------------------------------------------------------------------- finding runs


def _incomplete_reason(run_dir: Path) -> str:
    if (run_dir / "checkpoints" / "last.ckpt").is_file():
        return "no results.json but checkpoints/last.ckpt: unfinished, killed or failed (rerunning resumes it)"
    return "no results.json: started but never finished (failed, or still running)"


def find_runs(roots: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Issue]]:
    """Every ``results.json`` under ``roots`` (recursively; a root may be the file itself), and the run
    directories that were started (``checkpoints/`` or ``run_config.yaml``) but have none."""
    found: dict[Path, Path] = {}
    issues: dict[Path, Issue] = {}
    for root in roots:
        root = Path(root)
        if not root.exists():
            raise ReportError(f"{root}: no such file or directory")
        if root.is_file():
            if root.name != RESULTS_FILE:
                raise ReportError(f"{root}: not a folder or a {RESULTS_FILE}")
            found.setdefault(root.resolve(), root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            started = any(m in dirnames or m in filenames for m in RUN_MARKERS)
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            here = Path(dirpath)
            if RESULTS_FILE in filenames:
                found.setdefault((here / RESULTS_FILE).resolve(), here / RESULTS_FILE)
            elif started:
                issues.setdefault(here.resolve(), Issue(str(here), "incomplete", _incomplete_reason(here)))
    return sorted(found.values()), sorted(issues.values(), key=lambda i: i.path)


# ----------------------------------------------------------------------------------------------- reading runs


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts → ``{"a.b.c": leaf}``; lists and empty dicts are leaves."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _ignored(key: str) -> bool:
    """Seeds, paths, output and logging settings: never a configuration difference."""
    if any(key == k or key.startswith(k + ".") for k in IGNORED_KEYS):
        return True
    last = key.rsplit(".", 1)[-1]
    return last == "dir" or last.endswith(("_dir", "_path", "dirpath"))


def bilm_name(spec: Any) -> str:
    """A biLM spec as one name: ``default``, ``elmo_small``, or a directory's last component."""
    return Path(str(spec).split(",")[0].rstrip("/")).name or "bilm"


def settings_of(data: dict) -> dict[str, Any]:
    """The settings that identify a run's configuration, as ``{dotted key: value}``."""
    config = with_keys_added_later(data.get("config") or {})  # runs from before a key existed group with its value
    settings = {k: v for k, v in _flatten(config).items() if not _ignored(k)}
    for top, key in TOP_LEVEL_SETTINGS.items():
        if top in data:
            settings.setdefault(key, data[top])
    spec = _get(config, "bilm", "spec")
    if spec is not None:
        settings[BILM_KEY] = bilm_name(spec)
    if settings.get("elmo.placement") == "none":
        settings = {k: v for k, v in settings.items() if not elmo_only(k)}
    return settings


def _checked_metrics(metrics: Any) -> dict[str, float | None]:
    if not isinstance(metrics, dict):
        raise ValueError("no 'metrics' object")
    for name, value in metrics.items():
        if value is not None and not _number(value):
            raise ValueError(f"metric {name!r} is not a number ({value!r})")
    return {k: (None if v is None or math.isnan(v) else float(v)) for k, v in metrics.items()}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _checked_layer_weights(weights: Any) -> dict:
    """The well-formed ``{mix: {"s": [numbers], "gamma": number}}`` entries (a missing γ reads as NaN), with the
    norm-weighted ``"share"`` of ``contributions`` where it is a list of numbers as long as ``s`` (runs written
    before it have none).  The center of gravity is recomputed from ``s`` by whoever needs it."""
    if not isinstance(weights, dict):
        return {}
    out = {}
    for name, w in weights.items():
        if not (isinstance(w, dict) and isinstance(w.get("s"), list) and w["s"] and all(map(_number, w["s"]))
                and _number(w.get("gamma", 0.0))):
            continue
        out[name] = {"s": [float(x) for x in w["s"]], "gamma": float(w.get("gamma", math.nan))}
        share = _get(w, "contributions", "share")
        if isinstance(share, list) and len(share) == len(w["s"]) and all(map(_number, share)):
            out[name]["share"] = [float(x) for x in share]
    return out


def _get(tree: dict, *keys: str) -> Any:
    """``tree[k1][k2]...``, or None where a level is missing or not a dict."""
    for key in keys:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


def read_run(results_path: Path) -> Run:
    """Parse one ``results.json``; ``ValueError`` with a short reason when it cannot be used."""
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    config = data.get("config") if data.get("config") is not None else {}
    if not isinstance(config, dict):
        raise ValueError("'config' is not an object")
    data["config"] = config
    task = data.get("task") or _get(config, "task", "name")
    if not task:
        raise ValueError("no 'task'")
    metrics = _checked_metrics(data.get("metrics"))
    data["layer_weights"] = _checked_layer_weights(data.get("layer_weights"))
    bilm = json.dumps([_get(config, "bilm", "spec"), data.get("bilm")], default=str)
    sizes = data.get("data_sizes") if isinstance(data.get("data_sizes"), dict) else {}
    return Run(str(results_path.parent), data, str(task), settings_of(data), bilm,
               data.get("seed", config.get("seed")), metrics, sizes)


# ------------------------------------------------------------------------------------------------- grouping


def _split_off(runs: list[Run], attribute: str, what: str) -> tuple[list[Run], list[Issue]]:
    """Keep the runs whose ``attribute`` has the group's most common value; the others are mismatched."""
    def value(run: Run) -> str:
        return json.dumps(getattr(run, attribute), sort_keys=True, default=str)

    usual = Counter(value(r) for r in runs).most_common(1)[0][0]
    keep = [r for r in runs if value(r) == usual]
    issues = [Issue(r.path, "mismatched", f"{what} {_short(getattr(r, attribute))}, but "
                    f"{_short(getattr(keep[0], attribute))} in the {len(keep)} other run(s) of its configuration")
              for r in runs if value(r) != usual]
    return keep, issues


def _short(value: Any) -> str:
    if isinstance(value, str) and value.startswith("["):  # a biLM identity: show its spec
        value = json.loads(value)[0]
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict) else str(value)


def _without_duplicates(runs: list[Run]) -> tuple[list[Run], list[Issue]]:
    """One run per seed; a seed met again is a duplicate (same configuration and seed), left out."""
    first: dict[str, Run] = {}
    issues = []
    for r in runs:
        seed = json.dumps(r.seed, default=str)
        if seed in first:
            issues.append(Issue(r.path, "duplicate", f"same configuration and seed {r.seed} as {first[seed].path} "
                                                     "(counted once)"))
        else:
            first[seed] = r
    return list(first.values()), issues


def group_runs(runs: list[Run]) -> tuple[list[Config], list[Issue]]:
    """Configurations from runs, after leaving out mismatched and duplicate runs."""
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(r.key(), []).append(r)
    configs, issues = [], []
    for members in groups.values():
        members, bad_sizes = _split_off(members, "data_sizes", "data sizes")
        bad_bilm: list[Issue] = []
        if members[0].placement != "none":
            members, bad_bilm = _split_off(members, "bilm", "biLM")
        members, duplicates = _without_duplicates(members)
        issues += bad_sizes + bad_bilm + duplicates
        members.sort(key=lambda r: (0, r.seed, "") if _number(r.seed) else (1, 0, str(r.seed)))
        configs.append(Config(members[0].task, members[0].settings, members))
    return configs, issues
