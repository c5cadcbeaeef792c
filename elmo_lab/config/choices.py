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


PLACEMENTS = values(Placement)
MIX_MODES = values(Mix)
RECURRENCES = values(Recurrence)
