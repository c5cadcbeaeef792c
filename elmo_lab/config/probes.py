"""The probes' part of the config: the representations a probe reads (``probe=layer<j>``, ``upto<j>``, ``mix``), their
run names, the choices a sweep takes from the encoder, and the probe-set job's keys (``probe_set.*``) and checks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from elmo_lab.config.errors import ConfigError
from elmo_lab.util.errors import UserError


@dataclass
class ProbeSetConfig:
    """``probe_set.*``: several probes trained by one job over one pass of the cached layers
    (``elmo_lab.probing.probe_set``: the same recipe and numbers as one job per probe, one run directory each);
    ``probes`` null: the job is one run, as usual."""

    # the representations: a list of probe= choices (layer<j>, upto<j>, mix), e.g. [layer0,layer1,mix], or one
    # comma-separated string ('layer0,layer1,mix'; what ${probe_choices:${bilm},true} gives)
    probes: Any = None
    control_task: List[bool] = field(default_factory=lambda: [False])  # task.control_task values
    seeds: List[int] = field(default_factory=lambda: [0])  # the seed of each probe (replaces seed)


def probe_run_name(mix: Any, layer: Any, random_weights: Any, control_task: Any = False, placement: Any = "input",
                   word_vectors: Any = None, max_layer: Any = None) -> str:
    """``probe-layer1``, ``probe-all``, ``probe-upto1`` (``elmo.max_layer``), ``probe-layer1-random``
    (``bilm.random_weights``), ``probe-layer1-control`` (``task.control_task``), ``probe-glove_6b_50d`` (word vectors
    alone: ``elmo.placement=none``): the run directory name that ``experiment=probe_layers`` gives a single run, as
    ``${probe_run_name:${elmo.mix},${elmo.layer},...}``."""
    if str(placement) == "none" and word_vectors:
        return f"probe-{Path(str(word_vectors)).stem}" + ("-control" if control_task else "")
    name = f"upto{max_layer}" if max_layer is not None and str(mix) == "all" else f"{mix}{'' if layer is None else layer}"
    if max_layer is not None and str(mix) != "all":
        name += f"-upto{max_layer}"
    return f"probe-{name}" + ("-random" if random_weights else "") + ("-control" if control_task else "")


MAX_PROBE_LAYERS = 64  # probe=layer0..63 and upto0..63 exist; elmo.layer/max_layer are checked against the encoder at build


def probe_choices(bilm: Any, cumulative: Any = False) -> str:
    """``${probe_choices:${bilm}}``: ``layer0,...,layerL,mix`` for the encoder that ``bilm.*`` describes (its
    ``layers_in``: read when ``experiment=probe_layers`` sweeps, so the sweep has one job per layer of that encoder);
    ``${probe_choices:${bilm},true}`` adds ``upto1,...,upto<L-1>`` (cumulative scoring: ``upto0`` is ``layer0`` and
    ``upto<L>`` is ``mix``)."""
    from elmo_lab.config.encoder_kinds import encoder_class

    plain = OmegaConf.to_container(bilm, resolve=True, enum_to_str=True) if isinstance(bilm, DictConfig) else bilm
    try:
        count = encoder_class(str(plain.get("kind", "lstm"))).layers_in(plain)
    except UserError as error:  # said as is, not as an error "raised while resolving interpolation"
        raise InterpolationResolutionError(f"{error} (experiment=probe_layers asks the encoder for its "
                                           "layers)") from None
    if count > MAX_PROBE_LAYERS:
        raise ConfigError(f"bilm: the encoder has {count} layers; experiment=probe_layers sweeps at most "
                          f"{MAX_PROBE_LAYERS}")
    cumulative = [f"upto{k}" for k in range(1, count - 1)] if str(cumulative).lower() == "true" else []
    return ",".join([f"layer{j}" for j in range(count)] + cumulative + ["mix"])


PROBE_CHOICE = re.compile(r"(layer|upto)(\d+)|mix")


def probe_elmo_settings(choice: str, key: str = "probe") -> dict:
    """``elmo.*`` of a ``probe=`` representation: ``layer<j>`` (layer j alone), ``upto<j>`` (the learned mix of layers
    0..j) or ``mix`` (the learned mix of all); ``ConfigError`` naming ``key`` for anything else."""
    match = PROBE_CHOICE.fullmatch(str(choice).strip())
    if match is None or (match.group(2) is not None and int(match.group(2)) >= MAX_PROBE_LAYERS):
        raise ConfigError(f"{key}: {choice!r} is not a representation; expected layer<j> or upto<j> "
                          f"(j < {MAX_PROBE_LAYERS}) or mix")
    j = None if match.group(2) is None else int(match.group(2))
    if match.group(1) == "layer":
        return {"placement": "input", "mix": "layer", "layer": j, "max_layer": None}
    return {"placement": "input", "mix": "all", "layer": None, "max_layer": j}


# what the probe-set job (elmo_lab.training.probe_set) does without Lightning's Trainer: these keys must keep the value
PROBE_SET_TRAINER = {"devices": 1, "num_nodes": 1, "max_steps": -1, "limit_train_batches": None,
                     "limit_val_batches": None, "limit_test_batches": None, "val_check_interval": None,
                     "accumulate_grad_batches": 1, "fast_dev_run": False,
                     "overfit_batches": 0.0, "precision": "32-true"}


def probe_set_choices(probes: Any) -> list[str]:
    """``probe_set.probes`` as a list of choices (from a list, or a comma-separated string)."""
    items = probes.split(",") if isinstance(probes, str) else list(probes or [])
    return [str(c).strip() for c in items if str(c).strip()]


def validate_probe_set(cfg: DictConfig) -> None:
    """``probe_set.*`` and what a probe-set job cannot do (``ConfigError`` naming the key): its representations,
    seeds and control settings, and the Trainer features it does without."""
    ps = cfg.probe_set
    choices = probe_set_choices(ps.probes)
    for choice in choices:
        probe_elmo_settings(choice, "probe_set.probes")
    if len(set(choices)) != len(choices) or not ps.seeds or not ps.control_task:
        raise ConfigError(f"probe_set: give each representation once and at least one seed and control setting, got "
                          f"probes={ps.probes}, seeds={list(ps.seeds)}, control_task={list(ps.control_task)}")
    for seed in ps.seeds:
        if not 0 <= seed < 2**32:
            raise ConfigError(f"probe_set.seeds: each must be in 0 .. 2**32 - 1, got {seed}")
    if any(ps.control_task) and "control_task" not in cfg.task:
        raise ConfigError(f"probe_set.control_task: task {cfg.task.name} has no control task (task.control_task)")
    trainer = cfg.trainer
    for key, expected in PROBE_SET_TRAINER.items():
        if trainer.get(key, expected) != expected:
            raise ConfigError(f"trainer.{key}: a probe-set job trains without Lightning's Trainer and needs "
                              f"{expected}, got {trainer.get(key)}; run the probes one job each instead")
    if trainer.get("max_epochs") is None or trainer.max_epochs < 1:
        raise ConfigError(f"trainer.max_epochs: a probe-set job trains a fixed number of epochs >= 1, got "
                          f"{trainer.get('max_epochs')}")
    every = trainer.get("check_val_every_n_epoch", 1)
    if every is None or not 1 <= every <= trainer.max_epochs:
        raise ConfigError(f"trainer.check_val_every_n_epoch: a probe-set job scores dev after every n-th epoch, "
                          f"1 <= n <= trainer.max_epochs ({trainer.max_epochs}), got {every}")
    unsupported = [("callbacks.early_stopping", (cfg.get("callbacks") or {}).get("early_stopping") is not None),
                   ("task.lr_scheduler.name", str((cfg.task.get("lr_scheduler") or {}).get("name", "none")) != "none"),
                   ("task.mdl", bool(cfg.task.get("mdl", False))), ("task.word_vectors", bool(cfg.task.get("word_vectors"))),
                   ("bilm.freeze", not cfg.bilm.freeze)]
    for key, used in unsupported:
        if used:
            raise ConfigError(f"{key}: not in a probe-set job (probe_set.probes), which trains the probes of one frozen "
                              f"encoder side by side; got {OmegaConf.select(cfg, key)}; run the probes one job each")
