"""Every ``python train.py …``, ``python pretrain.py …`` and ``python -m elmo_lab …`` example of README.md and
docs/ composes as written, so a docs example cannot drift from the code.

Nothing trains: a ``train.py`` / ``pretrain.py`` example is composed in this process as ``--cfg job`` would compose
it (the same overrides, ``~`` expanded as the entry points do, ``-m`` sweeps tried value by value) and validated by
the light checks the entry points run first (``validate``, a ``+key`` on a typed node); a ``python -m elmo_lab``
example has its arguments parsed by the command's own parser.  Examples with placeholders (``<task>``, ``...``,
``$VAR``) are left out, and the test says how many it checked.  One example also goes through ``train.py --cfg job``
in a subprocess, as a user would run it.
"""
from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from elmo_lab.__main__ import build_parser
from elmo_lab.config.pretrain import register_pretrain_configs, validate_pretrain
from elmo_lab.config.schema import register_configs, validate
from elmo_lab.run.cli import expand_home, refuse_new_keys
from elmo_lab.training.tasks import register_task_schemas

from test_docs import code_text, pages, rel, split_fenced

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
START = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:nice -n \d+\s+)?python3?\s+(train\.py|pretrain\.py|-m\s+elmo_lab)\b")
PLACEHOLDER = re.compile(r"<[^>]*>|\.\.\.|\$|…|\[")


def examples() -> list[tuple[str, str, bool]]:
    """``(page, command line, fenced)`` for every example: fenced lines (``\\`` continuations joined) and inline
    spans (``fenced`` false: a ``python -m elmo_lab`` span in prose may name a command without its arguments)."""
    found = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        fenced = set(split_fenced(text)[0])
        joined, carry = [], ""
        for line in code_text(text):
            if line.rstrip().endswith("\\"):
                carry += line.rstrip()[:-1] + " "
                continue
            joined.append((carry + line, line in fenced))
            carry = ""
        found += [(rel(page), line.strip(), inside) for line, inside in joined if START.match(line.strip())]
    return found


def _words(command: str) -> list[str]:
    """The command's arguments after the entry point (environment settings, comments and ``nice`` dropped)."""
    words = shlex.split(command, comments=True)
    while words and not words[0].startswith("python"):
        words.pop(0)
    return words[2:] if words[1] in ("train.py", "pretrain.py") else words[3:]


_COMPOSED: set[tuple[str, ...]] = set()  # (config name, *overrides) already composed and checked


def _is_group(key: str) -> bool:
    """A config group override (``experiment=x``, ``hydra/launcher=local``), not a key of the config."""
    return "/" in key or (CONF / key.lstrip("+~")).is_dir()


def _compose(entry: str, args: list[str]) -> None:
    """Compose ``args`` (overrides and Hydra flags) as the entry point would, and run its light checks; with
    ``-m``, every swept value: a group's values each composed, a key's values each set on the composed config
    (typed: a wrong value fails there) and checked."""
    config_name = {"train.py": "train", "pretrain.py": "pretrain"}[entry]
    if "--config-name" in args:
        config_name = args[args.index("--config-name") + 1]
    overrides = [expand_home(a) for i, a in enumerate(args)
                 if not a.startswith("-") and (i == 0 or args[i - 1] != "--config-name")]
    check = validate if entry == "train.py" else validate_pretrain
    sweeps = {}
    if {"-m", "--multirun"} & set(args):
        for i, parsed in enumerate(OverridesParser.create().parse_overrides(overrides)):
            if parsed.is_sweep_override():
                values = [str(v) for v in parsed.sweep_iterator()]
                overrides[i] = f"{parsed.key_or_group}={values[0]}"
                sweeps[i] = (parsed.key_or_group, values[1:])
    variants = [overrides] + [overrides[:i] + [f"{key}={v}"] + overrides[i + 1:]
                              for i, (key, values) in sweeps.items() if _is_group(key) for v in values]
    if not GlobalHydra.instance().is_initialized():
        initialize_config_dir(version_base="1.3", config_dir=str(CONF))  # once: composing is what is timed
    for variant in variants:
        if (config_name, *variant) in _COMPOSED and not sweeps:
            continue  # the same example on another page
        _COMPOSED.add((config_name, *variant))
        cfg = compose(config_name, overrides=variant, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        refuse_new_keys(cfg, [o for o in variant if o.startswith("+")])
        check(cfg)
    for key, values in (sweep for sweep in sweeps.values() if not _is_group(sweep[0])):
        first = OmegaConf.select(cfg, key)
        for value in values:
            OmegaConf.update(cfg, key, yaml.safe_load(value))
            check(cfg)
        OmegaConf.update(cfg, key, first)


def _check(page: str, command: str, fenced: bool = True) -> str | None:
    """What is wrong with one example, or ``None``."""
    words = _words(command)
    entry = next((w for w in shlex.split(command, comments=True) if w in ("train.py", "pretrain.py")), "elmo_lab")
    try:
        if entry == "elmo_lab":
            if fenced and "--help" not in words:
                build_parser(words).parse_args(words)
        elif "--help" not in words and "--hydra-help" not in words:
            _compose(entry, words)
    except SystemExit:  # argparse: the message is on stderr
        return f"{page}: {command}: the command's arguments do not parse"
    except Exception as error:  # noqa: BLE001 - every failure is reported with its example
        return f"{page}: {command}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


def test_every_docs_example_composes(capsys: pytest.CaptureFixture) -> None:
    GlobalHydra.instance().clear()
    register_configs()
    register_task_schemas(CONF / "task")
    register_pretrain_configs()
    checked = [example for example in examples() if not PLACEHOLDER.search(example[1])]
    problems = [p for p in itertools.starmap(_check, checked) if p]
    capsys.readouterr()
    assert problems == []
    entries = {START.match(c).group(1).split()[-1] for _, c, _ in checked}
    assert len(checked) > 60 and entries == {"train.py", "pretrain.py", "elmo_lab"}, (len(checked), entries)


def test_a_drifted_example_is_caught() -> None:
    GlobalHydra.instance().clear()
    _COMPOSED.clear()
    register_configs()
    register_task_schemas(CONF / "task")
    assert _check("made-up.md", "python train.py task=mr elmo.placement=inputt") is not None
    assert _check("made-up.md", "python train.py -m task=mr seed=0,1 task.hidden_dimm=3") is not None
    assert _check("made-up.md", "python train.py -m task=mr elmo.placement=none,inputt") is not None
    assert _check("made-up.md", "python -m elmo_lab report --no-such-flag out") is not None
    assert _check("made-up.md", "python train.py task=mr +task.foo=1") is not None
    assert _check("made-up.md", "python train.py -m task=mr elmo.placement=none,input seed=0,1") is None


def test_a_docs_example_through_the_cli(tmp_path: Path) -> None:
    """``--cfg job`` of a docs example with ``~`` in a path key, run as a user runs it."""
    command = next(c for _, c, _ in examples() if "task.data_dir=~/" in c and " -m " not in c)
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), *_words(command), "--cfg", "job"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"data_dir: {Path.home()}/data/" in result.stdout
    assert list(tmp_path.iterdir()) == []
