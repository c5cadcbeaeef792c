"""The typed configuration schema for ``pretrain.py`` (the root of ``conf/pretrain.yaml``) and its validation.

The same rules as ``train.py``'s schema (``elmo_lab.config.schema``): enums make a wrong choice fail at composition
with the valid values listed (``data.batching=streams``), dataclasses make a misspelt key fail
(``bilm_arch.lstm.dimm=8``), and ``validate_pretrain`` checks the value ranges a type cannot say right after
composition.  The yaml files (``conf/pretrain.yaml``, ``conf/corpus/``, ``conf/bilm_arch/``) hold only what differs
from the defaults below.  Light: no torch import, so a config error is reported before anything heavy loads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from elmo_lab.config.choices import Activation, Batching, ExportDtype, LMOptimizer, Scheduler
from elmo_lab.config.published import PUBLISHED_SHAPES
from elmo_lab.config.schema import RESULT_NEUTRAL_KEYS, ConfigError, validate_run

TRANSFORMER_ARCH = "transformer"  # bilm_arch.transformer, and the options.json "arch" of a transformer biLM
SPECIAL_WORDS = 3  # <S> </S> <UNK>: every softmax vocabulary starts with them (elmo_lab.data.vocab)


@dataclass
class CorpusConfig:
    """``corpus.*`` (``conf/corpus/*.yaml``): which text the LM trains on; ``elmo_lab.lm.corpora`` reads it.  The
    keys after ``name`` apply to the sources the comments name; the others ignore them."""

    name: str = MISSING  # ptb | imdb | file | mix (the corpus group: conf/corpus/<name>.yaml)
    path: Optional[str] = None  # file: the training text
    valid_path: Optional[str] = None  # file: the dev text (else the last valid_fraction of the lines)
    test_path: Optional[str] = None  # file: the test text (else the dev text)
    tokenize: bool = False  # file: raw text, sentence-split and tokenised by elmo_lab.data
    valid_fraction: float = 0.02  # file: dev share of the lines when there is no valid_path
    max_reviews: Optional[int] = None  # imdb: read only the first N reviews (quick runs)
    valid_reviews: int = 500  # imdb: the last N reviews are the dev set
    test_reviews: int = 500  # imdb: the N reviews before them the test set
    sources: Optional[List[str]] = None  # mix: imdb and/or names of elmo_lab.lm.text_sources.SOURCES
    held_out_permille: int = 10  # mix: documents per 1,000 in dev, and as many in test
    max_sentence_tokens: int = 150  # mix: longer "sentences" (tables, lists) are dropped
    dedup_min_tokens: int = 5  # mix: training sentences this long are kept once and never when held out


@dataclass
class CharEmbeddingConfig:
    """``bilm_arch.char_cnn.embedding.*``."""

    dim: int = MISSING


@dataclass
class CharCnnConfig:
    """``bilm_arch.char_cnn.*``: the token encoder, in the official ``options.json`` layout."""

    embedding: CharEmbeddingConfig = field(default_factory=CharEmbeddingConfig)
    filters: List[List[int]] = MISSING  # [[width, n_filters], ...]
    n_highway: int = 0
    n_characters: int = 262
    max_characters_per_token: int = 50
    activation: Activation = Activation.relu


@dataclass
class LstmConfig:
    """``bilm_arch.lstm.*``: the LSTM layers of each direction, in the official ``options.json`` layout."""

    dim: int = MISSING  # cells per layer
    projection_dim: int = MISSING  # the projection (= half the biLM's layer width)
    n_layers: int = 2
    cell_clip: Optional[float] = None  # null or 0: no clipping
    proj_clip: Optional[float] = None
    use_skip_connections: bool = False


@dataclass
class TransformerConfig:
    """``bilm_arch.transformer.*``: the causal self-attention stacks of each direction (``elmo_lab.bilm.transformer``);
    the one home of the transformer biLM's defaults."""

    # model width (the token vectors' and the softmax input's; half the biLM's layer width); null: no transformer
    dim: Optional[int] = None
    n_layers: int = 6  # blocks per direction (Peters et al. 2018b: 6)
    n_heads: int = 4  # attention heads (dim must be a multiple)
    ffn_dim: Optional[int] = None  # the position-wise feed-forward layer's inner width (required with dim)


@dataclass
class BilmArchConfig:
    """``bilm_arch.*`` (``conf/bilm_arch/*.yaml``): the biLM's shapes, written as ``options.json`` when exported.
    Exactly one of ``lstm`` (ELMo's LSTM biLM) and ``transformer`` (the transformer biLM) is given (its ``dim``
    set); ``arch_options`` picks it."""

    lstm: LstmConfig = field(default_factory=LstmConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    char_cnn: CharCnnConfig = field(default_factory=CharCnnConfig)


@dataclass
class VocabConfig:
    """``vocab.*``: the words the softmax predicts."""

    max_size: Optional[int] = None  # softmax words incl. <S> </S> <UNK> (null: every training word)
    min_count: int = 1
    path: Optional[str] = None  # a vocab.txt to use instead of counting the corpus


@dataclass
class DataConfig:
    """``data.*``: how the corpus is batched (``elmo_lab.lm.batching``, ``elmo_lab.lm.streams``)."""

    batching: Batching = Batching.rows  # rows: whole sentences packed into stateless rows; stream: carried state
    window: int = 64  # tokens per packed row / stream window
    batch_size: int = 32  # rows per training batch
    eval_batch_size: int = 64
    max_valid_sentences: Optional[int] = None  # per-epoch dev perplexity on the first N dev sentences (null: all)
    # case augmentation: this share of the training sentences (chosen once by the run's seed) is lowercased before
    # the vocabulary is counted, so the biLM also learns lowercased text (MR, uncased user data); dev/test stay as is
    lowercase_share: float = 0.0


@dataclass
class ModelConfig:
    """``model.*``: the arguments of ``elmo_lab.lm.module.BiLMLanguageModel`` (its seed is the run's)."""

    dropout: float = 0.1  # paper: 0.1 (LSTM inputs and pre-softmax)
    sampled_softmax: Optional[bool] = None  # null: full softmax up to full_softmax_max_vocab words, sampled beyond
    num_samples: int = 8192  # paper: 8,192 negatives
    full_softmax_max_vocab: int = 20000
    optimizer: LMOptimizer = LMOptimizer.adagrad  # bilm-tf: Adagrad lr 0.2, initial accumulator 1.0
    lr: float = 0.2
    weight_decay: float = 0.0
    adagrad_initial_accumulator: float = 1.0
    # plateau: halve the lr after each validation without dev improvement; linear: decay to 0 over the run
    lr_schedule: Scheduler = Scheduler.none


@dataclass
class ExportConfig:
    """``export.*``: where the trained biLM is written (``elmo_lab.lm.export``)."""

    dir: str = "${paths.output_dir}/model"
    dtype: ExportDtype = ExportDtype.float32  # float16 halves the files (loaders cast back to float32)


@dataclass
class PretrainConfig:
    """The whole ``pretrain.py`` config; ``corpus`` and ``bilm_arch`` are typed here, ``trainer``, ``logger`` and
    ``paths`` come from the yaml groups shared with ``train.py``."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    bilm_arch: BilmArchConfig = field(default_factory=BilmArchConfig)
    trainer: Any = MISSING
    logger: Any = None
    paths: Any = MISSING
    seed: int = 0
    threads: Optional[int] = None  # torch CPU threads (null: torch's default); 1 leaves cores to other work
    force: bool = False  # start the run directory over instead of resuming it (or refusing another config)
    run_name: str = MISSING
    vocab: VocabConfig = field(default_factory=VocabConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    checkpoint_every_minutes: float = 5.0  # checkpoints/last.ckpt is refreshed this often
    evaluate_test: bool = True  # print (and export) test perplexities at the end
    export: ExportConfig = field(default_factory=ExportConfig)


# What a resumed pretraining run may change: the keys that cannot change a training result, plus how often it
# checkpoints, whether it reports test perplexity, and trainer.max_time, a cap on the wall-clock time (it says where
# a run stops, not what a step computes: a run cut by it is resumed with a larger one).
PRETRAIN_RESULT_NEUTRAL_KEYS = RESULT_NEUTRAL_KEYS + ("checkpoint_every_minutes", "evaluate_test", "trainer.max_time")


def register_pretrain_configs() -> None:
    """Register ``pretrain_schema`` (the root of ``conf/pretrain.yaml``) in Hydra's ConfigStore, and the published
    ELMo shapes as ``bilm_arch`` choices beside the files of ``conf/bilm_arch/`` (``elmo_lab.config.published``)."""
    store = ConfigStore.instance()
    store.store(name="pretrain_schema", node=PretrainConfig)
    for shape in PUBLISHED_SHAPES.values():
        if shape["arch"]:
            store.store(group="bilm_arch", name=shape["arch"], node=shape["options"])


def validate_pretrain(cfg: DictConfig) -> None:
    """Check what the types cannot; raise ``ConfigError`` naming the key, the rule and the value."""
    validate_run(cfg)
    if cfg.corpus.name == "file" and (OmegaConf.is_missing(cfg.corpus, "path") or not cfg.corpus.path):
        raise ConfigError("corpus.path: required for corpus=file (a text file, one sentence per line)")
    optional_min = [("vocab.max_size", SPECIAL_WORDS + 1), ("data.max_valid_sentences", 1), ("threads", 1)]
    checks = [
        ("data.window", cfg.data.window >= 2, "must be >= 2"),
        ("data.batch_size", cfg.data.batch_size >= 1, "must be >= 1"),
        ("data.eval_batch_size", cfg.data.eval_batch_size >= 1, "must be >= 1"),
        ("vocab.min_count", cfg.vocab.min_count >= 1, "must be >= 1"),
        ("data.lowercase_share", 0 <= cfg.data.lowercase_share <= 1, "must be in [0, 1]"),
        ("model.dropout", 0 <= cfg.model.dropout < 1, "must be in [0, 1)"),
        ("model.lr", cfg.model.lr > 0, "must be > 0"),
        ("model.weight_decay", cfg.model.weight_decay >= 0, "must be >= 0"),
        ("model.num_samples", cfg.model.num_samples >= 1, "must be >= 1"),
        ("checkpoint_every_minutes", cfg.checkpoint_every_minutes > 0, "must be > 0"),
        ("corpus.valid_fraction", 0 < cfg.corpus.valid_fraction < 1, "must be in (0, 1)"),
        *_arch_checks(cfg),
        *((key, OmegaConf.select(cfg, key) is None or OmegaConf.select(cfg, key) >= low, f"must be >= {low} or null")
          for key, low in optional_min),
    ]
    for key, ok, rule in checks:
        if not ok:
            raise ConfigError(f"{key}: {rule}, got {OmegaConf.select(cfg, key)}")


def arch_kind(arch: DictConfig) -> str:
    """``lstm`` or ``transformer (``TRANSFORMER_ARCH``): whichever of ``bilm_arch.lstm.dim`` and
    ``bilm_arch.transformer.dim`` is set; ``ConfigError`` when both or neither are."""
    has_lstm = not OmegaConf.is_missing(arch.lstm, "dim")
    if has_lstm == (arch.transformer.dim is not None):
        raise ConfigError("bilm_arch: give exactly one of bilm_arch.lstm.* (an LSTM biLM) and bilm_arch.transformer.* "
                          "(a transformer biLM), e.g. bilm_arch=default-small or bilm_arch=default-transformer")
    return "lstm" if has_lstm else TRANSFORMER_ARCH


def arch_options(arch: dict[str, Any]) -> dict[str, Any]:
    """The ``options.json`` layout of a resolved ``bilm_arch`` (a plain dict): the chosen stack kind's section and
    ``char_cnn`` (``"arch": "transformer"`` for a transformer biLM, as ``elmo_lab.bilm.architectures`` reads it)."""
    if arch[TRANSFORMER_ARCH]["dim"] is None:
        return {"lstm": arch["lstm"], "char_cnn": arch["char_cnn"]}
    return {"arch": TRANSFORMER_ARCH, TRANSFORMER_ARCH: arch[TRANSFORMER_ARCH], "char_cnn": arch["char_cnn"]}


def _arch_checks(cfg: DictConfig) -> list[tuple[str, bool, str]]:
    """``bilm_arch``: one stack kind, its sizes; a transformer trains on packed rows (it carries no state)."""
    arch = cfg.bilm_arch
    if arch_kind(arch) == "lstm":
        return [("bilm_arch.lstm.n_layers", arch.lstm.n_layers >= 1, "must be >= 1")]
    t = arch.transformer
    return [("bilm_arch.transformer.dim", t.dim >= 1, "must be >= 1"),
            ("bilm_arch.transformer.ffn_dim", t.ffn_dim is not None and t.ffn_dim >= 1, "must be >= 1"),
            ("bilm_arch.transformer.n_layers", t.n_layers >= 1, "must be >= 1"),
            ("bilm_arch.transformer.n_heads", t.n_heads >= 1 and t.dim % t.n_heads == 0,
             f"must be >= 1 and divide bilm_arch.transformer.dim ({t.dim})"),
            ("data.batching", cfg.data.batching == Batching.rows,
             "must be rows for a transformer biLM (stream batching carries LSTM state)")]
