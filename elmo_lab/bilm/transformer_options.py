"""The transformer biLM's architecture (``elmo_lab.bilm.transformer``), as its ``options.json`` records it.

The layout follows the LSTM biLM's: the same ``char_cnn`` section (the token encoder is the same module), a
``transformer`` section in place of ``lstm``, and ``"arch": "transformer"`` so that a loader picks the right class
(``elmo_lab.bilm.architectures``).  The defaults of the keys a file may leave out are those of the pretraining
schema (``elmo_lab.config.pretrain.TransformerConfig``), their one home.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elmo_lab.bilm.options import (BiLMConfigError, CharCnnShape, _as_int, char_cnn_from_dict, char_cnn_to_dict,
                                   check_char_cnn, read_options_json)
from elmo_lab.config.pretrain import TRANSFORMER_ARCH as ARCH
from elmo_lab.config.pretrain import CharCnnConfig, TransformerConfig

_TF, _CNN = TransformerConfig(), CharCnnConfig()


@dataclass
class TransformerOptions(CharCnnShape):
    """Architecture of a character-CNN transformer biLM.

    # Parameters
    filters, char_embedding_dim, n_highway, activation, n_characters, max_characters_per_token : the char CNN, as
        in ``BiLMOptions``.
    dim : model width: the token vectors, every block's output and the softmax input (each biLM layer is
        ``2 * dim`` wide).
    ffn_dim : inner width of each block's feed-forward layer.
    n_layers : self-attention blocks per direction.
    n_heads : attention heads per block (``dim`` must be a multiple).
    """

    filters: list[list[int]]
    char_embedding_dim: int
    dim: int
    ffn_dim: int
    n_layers: int = _TF.n_layers
    n_heads: int = _TF.n_heads
    n_highway: int = _CNN.n_highway
    activation: str = _CNN.activation.value
    n_characters: int = _CNN.n_characters
    max_characters_per_token: int = _CNN.max_characters_per_token

    def __post_init__(self) -> None:
        check_char_cnn(self)
        if self.dim is None or self.ffn_dim is None:
            raise BiLMConfigError("transformer.dim and transformer.ffn_dim must be given")
        for name in ("dim", "ffn_dim", "n_layers", "n_heads"):
            setattr(self, name, _as_int(getattr(self, name), f"transformer.{name}"))
            if getattr(self, name) < 1:
                raise BiLMConfigError(f"transformer.{name} must be a positive integer, got {getattr(self, name)}")
        if self.dim % self.n_heads:
            raise BiLMConfigError(f"transformer.n_heads ({self.n_heads}) must divide transformer.dim ({self.dim})")

    @property
    def projection_dim(self) -> int:  # type: ignore[override]
        """The token vectors' and each direction's width (the name the token encoder and the softmax read)."""
        return self.dim

    @property
    def summary(self) -> str:
        """A short label of the architecture (the layer cache's manifest shows it)."""
        return f"transformer {self.n_layers}x{self.dim}"

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "options") -> "TransformerOptions":
        """Read the layout ``to_dict`` writes; ``source`` names the file in error messages."""
        try:
            t = d[ARCH]
            given = {**char_cnn_from_dict(d["char_cnn"]), "dim": t["dim"], "ffn_dim": t["ffn_dim"]}
            for key in ("n_layers", "n_heads"):
                if t.get(key) is not None:
                    given[key] = t[key]
            return cls(**given)
        except (KeyError, TypeError) as e:
            raise BiLMConfigError(f"{source}: missing key {e.args[0]!r} (expected the transformer biLM's options "
                                  "layout)") from None
        except BiLMConfigError as e:
            raise BiLMConfigError(f"{source}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"arch": ARCH,
                ARCH: {"dim": self.dim, "ffn_dim": self.ffn_dim, "n_layers": self.n_layers, "n_heads": self.n_heads},
                "char_cnn": char_cnn_to_dict(self)}

    @classmethod
    def load(cls, path: str | Path) -> "TransformerOptions":
        return cls.from_dict(read_options_json(path), source=str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
