"""The allowed values of the config's choice keys, each defined once as an enum.

The schema uses the enums (a wrong value fails at composition with the valid ones listed); the code that acts on a
value uses the tuples derived from them (``PLACEMENTS``, ``MIX_MODES``), so the two can never disagree.
"""
from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """An enum whose string form is its value (so ``${elmo.placement}`` in a path reads ``both``)."""

    def __str__(self) -> str:
        return self.value


def values(choice: type[Choice]) -> tuple[str, ...]:
    """The values of a choice enum, in definition order."""
    return tuple(member.value for member in choice)


class Placement(Choice):
    """Where ELMo goes: nowhere (baseline), the encoder input, its output, or both (two mixes)."""

    none = "none"
    input = "input"
    output = "output"
    both = "both"


class Mix(Choice):
    """How the biLM layers are combined (see ``elmo_lab.elmo.mix``)."""

    all = "all"
    top = "top"
    average = "average"
    layer = "layer"


class Recurrence(Choice):
    """How the biLM's LSTM recurrence runs (``elmo_lab.bilm.recurrence_masked``): the step loop, the eager masked
    recurrence, or CUDA graphs (on CUDA; the masked recurrence elsewhere)."""

    loop = "loop"
    masked = "masked"
    graph = "graph"


class Directions(Choice):
    """Which of a biLM's directions its layers carry (``bilm.directions``): both halves, or one of them."""

    both = "both"
    forward = "forward"
    backward = "backward"


class Optimizer(Choice):
    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"
    adagrad = "adagrad"
    adadelta = "adadelta"


class Scheduler(Choice):
    none = "none"
    plateau = "plateau"
    linear = "linear"


class LMOptimizer(Choice):
    """The optimizers of biLM pretraining (``model.optimizer``): bilm-tf's Adagrad, or Adam / AdamW."""

    adagrad = "adagrad"
    adam = "adam"
    adamw = "adamw"


class Batching(Choice):
    """How pretraining batches the corpus (``data.batching``): packed stateless sentence rows
    (``elmo_lab.lm.batching``) or stream windows with the LSTM state carried (``elmo_lab.lm.streams``)."""

    rows = "rows"
    stream = "stream"


class Activation(Choice):
    """The char CNN's activation (``bilm_arch.char_cnn.activation``)."""

    relu = "relu"
    tanh = "tanh"


class ExportDtype(Choice):
    """The float type of an exported biLM's files (``export.dtype``)."""

    float32 = "float32"
    float16 = "float16"


PLACEMENTS = values(Placement)
MIX_MODES = values(Mix)
RECURRENCES = values(Recurrence)
LM_OPTIMIZERS = values(LMOptimizer)
LR_SCHEDULES = values(Scheduler)
BATCHINGS = values(Batching)


class Pooling(Choice):
    """Word pieces → one vector per word, for sub-word encoders (``bilm.kind=hf``)."""

    mean = "mean"
    first = "first"
    last = "last"
