"""Which biLM an ``options.json`` (or a ``bilm_arch`` dict) describes, and building it: the one place that tells
the LSTM biLM (``BiLMOptions`` → ``BiLM``, the bilm-tf layout) from the transformer biLM (``"arch": "transformer"``,
``TransformerOptions`` → ``TransformerBiLM``).  Everything that loads or trains a biLM goes through here, so
exports, ``bilm=DIR``, perplexity, ``embed`` and fine-tuning work for both."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions, read_options_json
from elmo_lab.bilm.transformer import TransformerBiLM
from elmo_lab.bilm.transformer_options import ARCH, TransformerOptions

AnyOptions = Union[BiLMOptions, TransformerOptions]
AnyBiLM = Union[BiLM, TransformerBiLM]


def is_transformer(d: dict[str, Any]) -> bool:
    """An options dict of the transformer biLM (``"arch": "transformer"``, or a ``transformer`` section)."""
    return d.get("arch") == ARCH or d.get(ARCH) is not None


def options_from_dict(d: dict[str, Any], source: str = "options") -> AnyOptions:
    """The options of whichever biLM ``d`` describes."""
    return (TransformerOptions if is_transformer(d) else BiLMOptions).from_dict(d, source)


def load_options(path: str | Path) -> AnyOptions:
    """The options in an ``options.json`` file, of either kind."""
    return options_from_dict(read_options_json(path), source=str(path))


def build_bilm(options: AnyOptions, dropout: float = 0.0) -> AnyBiLM:
    """A freshly initialised biLM of ``options``' kind."""
    return TransformerBiLM(options, dropout) if isinstance(options, TransformerOptions) else BiLM(options, dropout)
