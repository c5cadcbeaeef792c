"""The biLM's architecture, as the official ``options.json`` describes it.

``BiLMOptions.from_dict`` reads the bilm-tf / AllenNLP layout (``{"lstm": {...}, "char_cnn": {...}}``) and
``to_dict`` writes it back, so a model trained here can be read by the reference tools and vice versa.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elmo_lab.config.pretrain import CharCnnConfig, LstmConfig
from elmo_lab.util.errors import UserError

# The defaults of the keys an ``options.json`` may leave out: those of the pretraining schema (``bilm_arch.*``), their
# one home.  The shapes themselves (filters, widths) have no default; the published ones are in
# ``elmo_lab.config.published``.
_LSTM, _CNN = LstmConfig(), CharCnnConfig()


class BiLMConfigError(ValueError, UserError):
    """An options file or options dict that does not describe a valid biLM."""


def _as_int(value: Any, name: str) -> int:
    """Accept ints (and integral floats such as ``64.0``); anything else is a config error naming the key."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise BiLMConfigError(f"{name} must be an integer, got {value!r}")
    return int(value)


class CharCnnShape:
    """What the char-CNN token encoder (``elmo_lab.bilm.token_encoder``) reads from an architecture: the fields
    ``filters``, ``char_embedding_dim``, ``n_highway``, ``activation``, ``n_characters``,
    ``max_characters_per_token`` and ``projection_dim`` (the token vectors' width), shared by every biLM kind."""

    filters: list[list[int]]
    projection_dim: int

    @property
    def has_cnn_projection(self) -> bool:
        """bilm-tf projects the char-CNN output only when the filters do not already number ``projection_dim``."""
        return self.n_filters != self.projection_dim

    @property
    def n_filters(self) -> int:
        return sum(n for _, n in self.filters)

    @property
    def output_dim(self) -> int:
        """Width of every biLM layer (forward and backward concatenated)."""
        return 2 * self.projection_dim


def check_char_cnn(options: Any) -> None:
    """Validate (and normalise to ints) the char-CNN fields of ``options``; ``BiLMConfigError`` naming the key."""
    try:
        options.filters = [[_as_int(w, "filters"), _as_int(n, "filters")] for w, n in options.filters]
    except (TypeError, ValueError):
        raise BiLMConfigError(f"char_cnn.filters must be a list of [width, n_filters] pairs, "
                              f"got {options.filters!r}") from None
    for name in ("char_embedding_dim", "n_highway", "n_characters", "max_characters_per_token"):
        setattr(options, name, _as_int(getattr(options, name), name))
    if options.activation not in ("relu", "tanh"):
        raise BiLMConfigError(f"char_cnn.activation must be 'relu' or 'tanh', got {options.activation!r}")
    if not options.filters:
        raise BiLMConfigError("char_cnn.filters must list at least one [width, n_filters] pair")
    for width, n in options.filters:
        if not 1 <= width <= options.max_characters_per_token or n < 1:
            raise BiLMConfigError(f"char_cnn.filters entry [{width}, {n}] is not a valid [width, n_filters]")
    for name in ("char_embedding_dim", "max_characters_per_token"):
        if getattr(options, name) < 1:
            raise BiLMConfigError(f"{name} must be a positive integer, got {getattr(options, name)!r}")
    if options.n_highway < 0:
        raise BiLMConfigError(f"char_cnn.n_highway must be >= 0, got {options.n_highway}")


def char_cnn_from_dict(cnn: dict[str, Any]) -> dict[str, Any]:
    """The char-CNN fields given in an ``options.json`` ``char_cnn`` section (absent optional keys left out)."""
    given = {"filters": cnn["filters"], "char_embedding_dim": cnn["embedding"]["dim"]}
    for key in ("n_highway", "activation", "n_characters", "max_characters_per_token"):
        if cnn.get(key) is not None:
            given[key] = cnn[key]
    return given


def char_cnn_to_dict(options: Any) -> dict[str, Any]:
    """The ``options.json`` ``char_cnn`` section of ``options``."""
    return {"embedding": {"dim": options.char_embedding_dim}, "filters": options.filters,
            "n_highway": options.n_highway, "n_characters": options.n_characters,
            "max_characters_per_token": options.max_characters_per_token, "activation": options.activation}


@dataclass
class BiLMOptions(CharCnnShape):
    """Architecture of a character-CNN biLM.

    # Parameters
    filters : ``[[width, n_filters], ...]`` for the char CNN.
    char_embedding_dim : size of each character vector.
    n_highway : highway layers after the CNN.
    activation : ``relu`` or ``tanh``, applied to the max-pooled convolutions.
    n_characters : rows of the char embedding (262 for byte ids +1 shift).
    max_characters_per_token : characters per token (50 for the published models).
    lstm_dim : LSTM cells per layer and direction.
    projection_dim : LSTM output size (and token-encoding size); each biLM layer is ``2 * projection_dim`` wide.
    n_layers : LSTM layers per direction.
    cell_clip, proj_clip : clip the cell / projected hidden state to ``±value`` (``None`` = no clipping).
    use_skip_connections : layers after the first add their input (the previous layer's output) to their output.
    """

    filters: list[list[int]]
    char_embedding_dim: int
    lstm_dim: int
    projection_dim: int
    n_highway: int = _CNN.n_highway
    activation: str = _CNN.activation.value
    n_characters: int = _CNN.n_characters
    max_characters_per_token: int = _CNN.max_characters_per_token
    n_layers: int = _LSTM.n_layers
    cell_clip: float | None = _LSTM.cell_clip
    proj_clip: float | None = _LSTM.proj_clip
    use_skip_connections: bool = _LSTM.use_skip_connections

    def __post_init__(self) -> None:
        check_char_cnn(self)
        for name in ("lstm_dim", "projection_dim", "n_layers"):
            setattr(self, name, _as_int(getattr(self, name), name))
            if getattr(self, name) < 1:
                raise BiLMConfigError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("cell_clip", "proj_clip"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise BiLMConfigError(f"lstm.{name} must be a non-negative number or null, got {value!r}")
            setattr(self, name, float(value) if value else None)
        if self.projection_dim > self.lstm_dim:
            raise BiLMConfigError(f"lstm.projection_dim ({self.projection_dim}) must be <= lstm.dim "
                                  f"({self.lstm_dim}): without a projection the LSTM layers are lstm.dim wide")

    @property
    def summary(self) -> str:
        """A short label of the architecture (the layer cache's manifest shows it)."""
        return f"lstm {self.lstm_dim}/{self.projection_dim}"

    @property
    def has_lstm_projection(self) -> bool:
        """bilm-tf gives the LSTM cells a projection (``W_P_0``) only when ``projection_dim < dim``."""
        return self.projection_dim < self.lstm_dim

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "options") -> "BiLMOptions":
        """Read the official ``options.json`` layout; ``source`` names the file in error messages."""
        try:
            lstm, cnn = d["lstm"], d["char_cnn"]
            given = {**char_cnn_from_dict(cnn), "lstm_dim": lstm["dim"], "projection_dim": lstm["projection_dim"]}
            for key in ("n_layers", "cell_clip", "proj_clip", "use_skip_connections"):
                if key in lstm:
                    given[key] = lstm[key]
            return cls(**given)
        except KeyError as e:
            raise BiLMConfigError(f"{source}: missing key {e.args[0]!r} (expected the bilm-tf options layout)") from None
        except BiLMConfigError as e:
            raise BiLMConfigError(f"{source}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """The official ``options.json`` layout."""
        return {
            "lstm": {
                "cell_clip": self.cell_clip or 0,
                "use_skip_connections": self.use_skip_connections,
                "n_layers": self.n_layers,
                "proj_clip": self.proj_clip or 0,
                "projection_dim": self.projection_dim,
                "dim": self.lstm_dim,
            },
            "char_cnn": char_cnn_to_dict(self),
        }

    @classmethod
    def load(cls, path: str | Path) -> "BiLMOptions":
        return cls.from_dict(read_options_json(path), source=str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def read_options_json(path: str | Path) -> dict[str, Any]:
    """The JSON object of an ``options.json``; ``BiLMConfigError`` naming the file (and line) otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BiLMConfigError(f"{path}: options file not found") from None
    except json.JSONDecodeError as e:
        raise BiLMConfigError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise BiLMConfigError(f"{path}: expected a JSON object (the biLM options), got {type(data).__name__}")
    return data
