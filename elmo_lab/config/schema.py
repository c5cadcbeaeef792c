"""The typed configuration schema for ``train.py``, registered in Hydra's ConfigStore, and its validation.

Enums make a wrong choice fail at composition with the list of valid values
(``elmo.placement=bogus`` → ``expected one of [none, input, output, both]``); dataclasses make a misspelt key fail
(``elmo.placment=both`` → ``no key 'placment'``).  Value ranges that a type cannot say (λ ≥ 0, 0 ≤ dropout < 1) are
checked by ``validate`` right after composition.  ``ConfigError`` is the one error type for all of these; the CLI
prints it as one ``error: ...`` line (see ``elmo_lab.run.cli``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from elmo_lab.config.choices import Directions, Mix, Optimizer, Placement, Pooling, Recurrence, Scheduler
from elmo_lab.config.encoder_kinds import encoder_kinds, is_known_kind
from elmo_lab.config.errors import ConfigError
from elmo_lab.config.probes import (MAX_PROBE_LAYERS, ProbeSetConfig, probe_choices, probe_elmo_settings,
                                    probe_run_name, validate_probe_set)

DEFAULT_WORD_DIM = 100  # task.word_dim without pretrained word vectors


@dataclass
class ElmoConfig:
    """``elmo.*``: the scalar mix(es) and where they go."""

    placement: Placement = Placement.input
    mix: Mix = Mix.all
    layer: Optional[int] = None  # the layer for mix=layer (0 = token layer, L = top biLSTM layer)
    # mix layers 0..k only (null: all), any encoder: cumulative scoring (probe=upto<k>); not with mix=layer
    max_layer: Optional[int] = None
    layer_norm: bool = False
    dropout: float = 0.5
    l2_coef: float = 0.001
    # the learning rate of the mixes' raw weights w (γ keeps task.lr); null: task.lr.  A probe at task.lr 0.001
    # moves softmax(w) little in a few hundred steps (docs/results.md, the probing suite)
    mix_lr: Optional[float] = None


@dataclass
class FinetuneConfig:
    """``bilm.finetune.*``: adapt the biLM to the task's training text (labels ignored) before task training."""

    enabled: bool = False
    epochs: int = 1
    lr: float = 0.2  # Adagrad, as the biLM was pretrained
    batch_size: int = 32
    max_steps: Optional[int] = None


@dataclass
class BilmConfig:
    """``bilm.*``: which pretrained biLM, and how it is used."""

    kind: str = "lstm"  # the contextual encoder (elmo_lab.config.encoder_kinds): a registered kind or module:Class
    # lstm: default | elmo_small | elmo_medium | elmo_original | a directory | OPTIONS,WEIGHTS;
    # hf: a Hugging Face model directory | minilm | a hub name in the local Hugging Face cache
    spec: str = "default"
    freeze: bool = True  # the paper keeps the biLM frozen; only the mixes learn
    stateful: bool = False  # carry LSTM state across batches like the reference code (non-deterministic order)
    cache: bool = True  # frozen & stateless: run the biLM once per distinct sentence, reuse its layers (fp16)
    cache_on_disk: bool = True  # keep them in a store shared by all runs (elmo_lab.cache.store), not in RAM
    cache_dir: Optional[str] = None  # null = $ELMO_LAB_LAYERS, else $ELMO_LAB_CACHE/layers
    cache_max_gb: Optional[float] = 50.0  # least recently used entries are evicted beyond this (null: no cap)
    random_weights: bool = False  # a control: spec's architecture with freshly initialised weights (fixed seed)
    # both | forward | backward: one direction's half of every layer (kinds with directions; elmo_lab.contextual)
    directions: Directions = Directions.both
    recurrence: Recurrence = Recurrence.loop  # the LSTM recurrence (ELMO_LAB_RECURRENCE overrides it when set)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    # kind=hf only (elmo_lab.contextual.hf): word pieces -> words, the layer set, pieces per model call
    pooling: Pooling = Pooling.mean  # mean (AllenNLP's mismatched embedder) | first | last
    include_embeddings: bool = True  # the embedding layer is layer 0 of the mix (jiant); false: layers 1..
    max_layer: Optional[int] = None  # cut the stack at layer k: the mix of layers 0..k (null: all)
    window: Optional[int] = None  # pieces per model call, special tokens included (null: the model's positions)


@dataclass
class LrSchedulerConfig:
    """``task.lr_scheduler.*`` (see ``elmo_lab.training.optim``)."""

    name: Scheduler = Scheduler.none
    factor: float = 0.5  # plateau: lr multiplier
    patience: int = 2  # plateau: validations without improvement before the lr drops


@dataclass
class TaskConfig:
    """``task.*`` keys every task has; a task's schema (``Task.config``) extends it with its own keys."""

    name: str = MISSING
    module: str = MISSING
    data_dir: Optional[str] = None
    objective: str = "val/acc"  # the metric that picks the best checkpoint, stops early, and sweeps optimise
    objective_mode: str = "max"  # max | min
    # the task's word embeddings x_k: null = the width of task.word_vectors, or DEFAULT_WORD_DIM without them; a
    # value that differs from the vectors' width is an error (resolve_word_dim)
    word_dim: Optional[int] = None
    word_vectors: Optional[str] = None  # pretrained vectors: a name (glove_6b_50d, ...) or a GloVe/word2vec text file
    freeze_word_vectors: bool = False  # keep the pretrained vectors fixed (words without one too)
    min_count: int = 1  # words seen fewer times in train map to <UNK>
    lowercase: bool = True  # for the task's word embeddings only; the biLM always reads the original text
    batch_size: int = 32
    eval_batch_size: Optional[int] = None
    num_workers: int = 0
    optimizer: Optimizer = Optimizer.adam
    lr: float = 0.001
    betas: Optional[List[float]] = None  # Adam family; null = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.0  # sgd
    lr_scheduler: LrSchedulerConfig = field(default_factory=LrSchedulerConfig)
    gradient_clip_val: Optional[float] = None  # gradient norm clipping (trainer.gradient_clip_val)
    max_epochs: Optional[int] = 10  # default for trainer.max_epochs
    # seeds the task's own split where it makes one (MR's 80/10/10, SQuAD's held-out articles) and the train subset
    split_seed: int = 0
    # train on a nested, seeded subset of the training split (elmo_lab.data.subsets); dev and test stay whole.
    # At most one of the two: a fraction in (0, 1], or a number of examples (>= 1; sentences, SQuAD questions)
    train_fraction: float = 1.0
    train_examples: Optional[int] = None


@dataclass
class TrainConfig:
    """The whole ``train.py`` config; ``task``, ``trainer``, ``logger``, ``callbacks``, ``paths`` come from yaml."""

    task: Any = MISSING
    elmo: ElmoConfig = field(default_factory=ElmoConfig)
    bilm: BilmConfig = field(default_factory=BilmConfig)
    trainer: Any = MISSING
    logger: Any = None
    callbacks: Any = None
    paths: Any = MISSING
    seed: int = 0
    threads: Optional[int] = 1  # torch CPU threads (None: torch's default, all cores)
    force: bool = False  # rerun a finished run (otherwise: say it is finished and exit 0)
    test: bool = True  # evaluate the best checkpoint on the test split at the end
    optimized_metric: str = "${task.objective}"  # what train.py returns to sweepers
    run_name: str = MISSING
    probe_set: ProbeSetConfig = field(default_factory=ProbeSetConfig)


# Settings that cannot change a run's result: a resumed run may change them, the report does not group by them, and
# sweep job directories leave them out of their names.  The one list; each use adds only what its role needs.
RESULT_NEUTRAL_KEYS = ("force", "test", "threads", "logger", "bilm.cache_dir", "bilm.cache_max_gb",
                       "trainer.enable_progress_bar", "trainer.enable_model_summary", "trainer.log_every_n_steps",
                       "task.num_workers", "task.download", "callbacks.layer_weights.every_n_steps", "probe_set",
                       "hydra.launcher.n_jobs")
# Keys added to the schema after runs were written without them, with the value those runs had: a rerun of such a run
# directory, and the report's grouping, read the absent key as this value instead of as a change.
KEYS_ADDED_LATER = {"bilm.kind": "lstm", "elmo.max_layer": None, "elmo.mix_lr": None}


def with_keys_added_later(plain: dict) -> dict:
    """``plain`` (a run's config as plain containers) with each absent key of ``KEYS_ADDED_LATER`` set to the value
    runs had before it existed (copied where changed, never in place)."""
    out = dict(plain)
    for key, value in KEYS_ADDED_LATER.items():
        head, _, rest = key.partition(".")
        if isinstance(out.get(head), dict) and rest not in out[head]:
            out[head] = {**out[head], rest: value}
    return out


# Job directory names also leave out paths (bilm.spec is already in the sweep dir; paths would nest directories;
# a collision is caught by the resume check) and where the job runs.
JOB_NAME_EXCLUDED_KEYS = RESULT_NEUTRAL_KEYS + ("bilm.spec", "task.data_dir", "trainer", "trainer.accelerator",
                                                "trainer.devices", "trainer.num_nodes")


def _basename(spec: str) -> str:
    """``${basename:${bilm.spec}}``: a biLM spec as one path component (``default``, ``elmo_small``, ``my_lm``)."""
    return Path(str(spec).split(",")[0].rstrip("/")).name or "bilm"


# deprecated names of ``task.train_examples`` (kept working; setting both is an error)
TRAIN_EXAMPLES_ALIASES = ("max_train_questions",)
MAX_EPOCH_FACTOR = 20  # epochs_for_fraction never gives more than this many times task.max_epochs


def train_subset_request(task: Any) -> tuple[float, Optional[int]]:
    """``(fraction, examples)`` that ``task`` (a ``task.*`` config or dict) asks the training subset to be, with
    ``task.max_train_questions`` read as ``task.train_examples``; ``ConfigError`` for values out of range or for
    more than one of them set (``train_fraction`` counts as set when it is not 1)."""
    fraction = task.get("train_fraction", 1.0)
    fraction = 1.0 if fraction is None else fraction
    examples, examples_key = task.get("train_examples"), "task.train_examples"
    for alias in TRAIN_EXAMPLES_ALIASES:
        if task.get(alias) is not None:
            if examples is not None:
                raise ConfigError(f"task.train_examples and task.{alias}: set only one (task.{alias} is a "
                                  f"deprecated name of task.train_examples)")
            examples, examples_key = task.get(alias), f"task.{alias}"
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ConfigError(f"task.train_fraction: must be in (0, 1], got {fraction}")
    if examples is not None and (isinstance(examples, bool) or not isinstance(examples, int) or examples < 1):
        raise ConfigError(f"{examples_key}: must be an integer >= 1, got {examples}")
    if examples is not None and fraction != 1:
        raise ConfigError(f"task.train_fraction and {examples_key}: set only one of them "
                          f"(got {fraction} and {examples})")
    return float(fraction), examples


def epochs_for_fraction(fraction: Any, max_epochs: Any) -> Optional[int]:
    """``${epochs_for_fraction:${task.train_fraction},${task.max_epochs}}``: ``ceil(max_epochs / sqrt(fraction))``,
    at most ``MAX_EPOCH_FACTOR * max_epochs``, so a run on a small fraction still gets enough updates (updates grow
    as ``sqrt(fraction)`` instead of ``fraction``); ``None`` stays ``None`` (no epoch limit)."""
    if max_epochs is None:
        return None
    fraction = float(fraction)
    if not 0 < fraction <= 1:
        raise ConfigError(f"task.train_fraction: must be in (0, 1], got {fraction}")
    scaled = math.ceil(int(max_epochs) / math.sqrt(fraction) - 1e-9)  # 1e-9: 6 / sqrt(0.01) is 60, not 61
    return min(scaled, MAX_EPOCH_FACTOR * int(max_epochs))


def register_configs() -> None:
    """Register the schemas (``train_schema``, the root of ``conf/train.yaml``) and the resolvers the configs use:
    ``basename``, ``probe_run_name``, ``probe_choices``, ``epochs_for_fraction`` and ``job_name_excluded_keys``
    (``hydra.job.config.override_dirname``)."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    for j in range(MAX_PROBE_LAYERS):  # probe=layer<j>: one layer; upto<j>: the mix of 0..j (mix.yaml: all of them)
        for name in (f"layer{j}", f"upto{j}"):
            cs.store(group="probe", name=name, package="_global_", node={"elmo": probe_elmo_settings(name)})
    OmegaConf.register_new_resolver("probe_choices", probe_choices, replace=True)
    OmegaConf.register_new_resolver("basename", _basename, replace=True)
    OmegaConf.register_new_resolver("probe_run_name", probe_run_name, replace=True)
    OmegaConf.register_new_resolver("epochs_for_fraction", epochs_for_fraction, replace=True)
    OmegaConf.register_new_resolver("job_name_excluded_keys", lambda: list(JOB_NAME_EXCLUDED_KEYS), replace=True)


def validate_run(cfg: DictConfig) -> None:
    """The checks both entry points share: the seed (numpy takes 0 .. 2**32 - 1) and the trainer's limits."""
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed: must be in [0, 4294967295] (numpy's seeds), got {cfg.seed}")
    trainer = cfg.get("trainer") or {}
    epochs = trainer.get("max_epochs")
    if epochs is not None and epochs != -1 and epochs < 1:
        raise ConfigError(f"trainer.max_epochs: must be >= 1 (or -1: until another limit stops it), got {epochs}")
    max_time = trainer.get("max_time")
    if isinstance(max_time, str) and not re.fullmatch(r"\d+:\d+:\d+:\d+", max_time.strip()):
        raise ConfigError(f"trainer.max_time: expected DD:HH:MM:SS (e.g. 00:00:50:00 for 50 minutes), "
                          f"got {max_time!r}")


SUBWORD_KEY_DEFAULTS = {"pooling": Pooling.mean, "include_embeddings": True, "max_layer": None, "window": None}


def validate(cfg: DictConfig) -> None:
    """Check what the types cannot; raise ``ConfigError`` naming the key, the rule and the value."""
    validate_run(cfg)
    if cfg.get("probe_set") is not None and cfg.probe_set.probes:
        validate_probe_set(cfg)
    checks = [
        ("elmo.l2_coef", cfg.elmo.l2_coef >= 0, "must be >= 0"),
        ("elmo.mix_lr", cfg.elmo.mix_lr is None or cfg.elmo.mix_lr > 0, "must be > 0 (or null: task.lr)"),
        ("elmo.dropout", 0 <= cfg.elmo.dropout < 1, "must be in [0, 1)"),
        ("bilm.finetune.epochs", cfg.bilm.finetune.epochs >= 1, "must be >= 1"),
        ("bilm.finetune.batch_size", cfg.bilm.finetune.batch_size >= 1, "must be >= 1"),
        ("bilm.finetune.lr", cfg.bilm.finetune.lr > 0, "must be > 0"),
    ]
    for key, ok, rule in checks:
        if not ok:
            raise ConfigError(f"{key}: {rule}, got {OmegaConf.select(cfg, key)}")
    if not is_known_kind(str(cfg.bilm.kind)):
        raise ConfigError(f"bilm.kind: unknown encoder kind {cfg.bilm.kind!r}; valid kinds: "
                          f"{', '.join(encoder_kinds())} or a module:Class path")
    if str(cfg.bilm.kind) == "lstm":  # the sub-word keys would be silently ignored by the LSTM biLM
        for key, default in SUBWORD_KEY_DEFAULTS.items():
            if cfg.bilm.get(key) != default:
                raise ConfigError(f"bilm.{key}: only for sub-word encoders (bilm.kind=hf), not the LSTM biLM; "
                                  f"got {cfg.bilm.get(key)}")
    if cfg.elmo.layer is not None and cfg.elmo.layer < 0:
        raise ConfigError(f"elmo.layer: must be >= 0 (0 = the encoder's token layer), got {cfg.elmo.layer}")
    if cfg.elmo.mix == Mix.layer and cfg.elmo.layer is None:
        raise ConfigError("elmo.layer: mix=layer needs a layer index, e.g. elmo.layer=1")
    if cfg.elmo.mix != Mix.layer and cfg.elmo.layer is not None:
        raise ConfigError(f"elmo.layer: only used with elmo.mix=layer, got elmo.mix={cfg.elmo.mix.value}")
    if cfg.elmo.max_layer is not None and (cfg.elmo.max_layer < 0 or cfg.elmo.mix == Mix.layer):
        raise ConfigError(f"elmo.max_layer: the mix of layers 0..k needs k >= 0 and elmo.mix=all|top|average "
                          f"(elmo.layer picks one layer), got {cfg.elmo.max_layer} with elmo.mix={cfg.elmo.mix.value}")
    task = cfg.task
    for key in ("name", "module"):
        if not isinstance(task.get(key), str):
            raise ConfigError(f"task.{key}: every task config needs it (see conf/task/mr.yaml)")
    for key in ("batch_size", "max_epochs"):
        if key in task and task[key] is not None and task[key] < 1:
            raise ConfigError(f"task.{key}: must be >= 1, got {task[key]}")
    if "lr" in task and task.lr <= 0:
        raise ConfigError(f"task.lr: must be > 0, got {task.lr}")
    if task.get("objective_mode", "max") not in ("max", "min"):
        raise ConfigError(f"task.objective_mode: expected max or min, got {task.objective_mode!r}")
    if not str(task.get("objective", "val/")).startswith("val/"):
        raise ConfigError(f"task.objective: must be a validation metric (val/...), got {task.objective!r}; "
                          "model selection never looks at the test split")
    train_subset_request(task)
    resolve_word_dim(task)


def resolve_word_dim(task: DictConfig) -> None:
    """Set ``task.word_dim`` when null: the width of ``task.word_vectors``, or ``DEFAULT_WORD_DIM``.  The vectors'
    width wins: an explicit ``task.word_dim`` that differs is a ``ConfigError`` (as are a missing file, an unknown
    name and ``task.freeze_word_vectors`` without vectors).  Reads only the first line of a vectors file."""
    if "word_dim" not in task:
        return
    vectors = task.get("word_vectors")
    if not vectors:
        if task.get("freeze_word_vectors"):
            raise ConfigError("task.freeze_word_vectors: needs task.word_vectors (a name such as glove_6b_50d or a "
                              "GloVe/word2vec text file)")
        if task.word_dim is None:
            task.word_dim = DEFAULT_WORD_DIM
        elif task.word_dim < 1:
            raise ConfigError(f"task.word_dim: must be >= 1, got {task.word_dim}")
        return
    from elmo_lab.data.word_vector_sources import NAMED
    from elmo_lab.data.word_vectors import WordVectorError, peek_dimension

    if vectors in NAMED:
        dim = NAMED[vectors].dim
    else:
        path = Path(str(vectors)).expanduser()
        if not path.is_file():
            raise ConfigError(f"task.word_vectors: {vectors!r} is neither a file nor a known name; known names: "
                              f"{', '.join(NAMED)}")
        try:
            dim = peek_dimension(path)
        except WordVectorError as e:
            raise ConfigError(f"task.word_vectors: {e}") from None
    if task.word_dim is None:
        task.word_dim = dim
    elif task.word_dim != dim:
        raise ConfigError(f"task.word_dim: {task.word_dim}, but task.word_vectors={vectors} has {dim}-d vectors; "
                          f"leave task.word_dim unset (it becomes the vectors' width) or set it to {dim}")
