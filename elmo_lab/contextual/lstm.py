"""The character-CNN biLMs trained by ``pretrain.py`` (``bilm.kind=lstm``, the default) as a ``ContextualEncoder``:
ELMo's LSTM biLM, and the transformer biLM (``elmo_lab.bilm.transformer``) when the options file of ``bilm.spec``
says ``"arch": "transformer"`` (``elmo_lab.bilm.architectures`` picks the class; everything below holds for both,
except that a transformer carries no state, so ``bilm.stateful=true`` is refused for it).

Its input is the biLM's character ids (built by collate, ``CharIds``); its cache identity is the digest of its
options and weights (``elmo_lab.cache.store.weights_digest``, the keys the layer store has always used); it can
carry LSTM state between batches (``bilm.stateful``); its prepare step fine-tunes it as a language model on the
task's training text (``bilm.finetune.*``).  The recurrence backend (``bilm.recurrence``) is set when it is built.

``bilm.directions=forward|backward`` keeps one direction's half of every layer: layer j ≥ 1 is ``forward_j`` (the
first ``projection_dim`` columns of ``[forward_j; backward_j]``) or ``backward_j`` (the last ones), and layer 0 is
the character CNN's token representation itself (``projection_dim`` wide: the token layer is ``[token; token]`` under
``both``, so either half is the same token vector).  ``output_dim`` is then ``projection_dim``.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

import hashlib

import torch

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.bilm.model import CharBiLMBase
from elmo_lab.config.choices import Directions, values
from elmo_lab.config.schema import ConfigError
from elmo_lab.contextual.base import ContextualEncoder, PrepareContext

RANDOM_WEIGHTS_SEED = 12345
DIRECTIONS = values(Directions)


class CharIds:
    """Collate-side input of the LSTM biLM: ``(batch, time + 2, max_chars)`` character ids with ``<S>``/``</S>``."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def __call__(self, sentences: list[list[str]]) -> torch.Tensor:
        return batch_to_char_ids(sentences, self.max_chars)  # (batch, time + 2, max_chars)


class LstmBiLM(ContextualEncoder):
    """A character-CNN biLM (``elmo_lab.bilm.model.BiLM`` or ``TransformerBiLM``, kept as ``self.bilm``) behind the
    encoder contract.

    # Parameters
    bilm : the loaded biLM.
    spec : ``bilm.spec`` (where a fine-tuning softmax is found, and the manifest's label).
    finetune : the ``bilm.finetune.*`` config (a plain dict); ``enabled`` makes ``prepare`` fine-tune.
    directions : ``both``, or ``forward`` / ``backward``: that direction's half of every layer (module docstring).
    """

    kind = "lstm"
    supports_state = True
    directions_supported = True

    def __init__(self, bilm: CharBiLMBase, spec: str = "default", finetune: dict | None = None,
                 directions: str = "both") -> None:
        super().__init__()
        if directions not in DIRECTIONS:
            raise ConfigError(f"bilm.directions: expected one of {', '.join(DIRECTIONS)}, got {directions!r}")
        self.bilm = bilm
        self.spec = spec
        self.finetune = dict(finetune or {})
        self.directions = directions

    @classmethod
    def from_config(cls, bilm: dict) -> "LstmBiLM":
        """``bilm.spec`` loaded (``bilm.random_weights``: its architecture with freshly initialised weights, the same
        in every run: a fixed seed, the global RNG left as it was), the recurrence backend set."""
        from elmo_lab.bilm.pretrained import load_named_bilm, resolve_bilm  # they pull in the downloader
        from elmo_lab.bilm.recurrence_masked import set_recurrence

        set_recurrence(bilm.get("recurrence", "loop"))  # ELMO_LAB_RECURRENCE still overrides it
        if bilm.get("random_weights", False):
            from elmo_lab.bilm.weights import load_bilm

            options, _ = resolve_bilm(bilm["spec"])
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_WEIGHTS_SEED)
                model = load_bilm(options, None)  # no weights file: PyTorch's default initialisation
        else:
            model = load_named_bilm(bilm["spec"])
        if bilm.get("stateful", False) and not model.carries_state:
            raise ConfigError(f"bilm.stateful: the biLM of bilm.spec={bilm['spec']} is a transformer, which carries no "
                              "state between batches; use bilm.stateful=false")
        return cls(model, spec=str(bilm["spec"]), finetune=bilm.get("finetune"),
                   directions=str(bilm.get("directions", "both")))

    @classmethod
    def layers_in(cls, bilm: dict) -> int:
        """``n_layers + 1`` from the options file of ``bilm.spec`` (no weights are read)."""
        from elmo_lab.bilm.architectures import load_options
        from elmo_lab.bilm.pretrained import resolve_bilm

        options, _ = resolve_bilm(bilm["spec"])
        return load_options(options).n_layers + 1

    @property
    def num_layers(self) -> int:
        return self.bilm.num_layers

    @property
    def output_dim(self) -> int:
        joint = self.bilm.output_dim  # 2 * projection_dim
        return joint if self.directions == "both" else joint // 2

    @property
    def max_chars(self) -> int:
        return self.bilm.options.max_characters_per_token

    def batch_input(self) -> CharIds:
        return CharIds(self.max_chars)

    def encode(self, tokens: Sequence[Sequence[str]], inputs: Any = None, stateful: bool = False) -> torch.Tensor:
        char_ids = inputs if inputs is not None else batch_to_char_ids([list(t) for t in tokens], self.max_chars)
        layers = self.bilm(char_ids.to(self.device), stateful=stateful).layers  # (batch, L + 1, time, 2 * proj)
        return one_direction(layers, self.directions)  # (batch, L + 1, time, dim)

    def cache_identity(self) -> str:
        from elmo_lab.cache.store import weights_digest

        digest = weights_digest(self.bilm)  # options + weights: the keys of entries written before the interface
        if self.directions == "both":
            return digest
        return hashlib.sha256(f"{digest}|directions={self.directions}".encode()).hexdigest()

    def describe(self) -> dict:
        o = self.bilm.options
        return {"kind": self.kind, "arch": o.summary, "options": asdict(o),
                "directions": self.directions}

    def reset_state(self) -> None:
        self.bilm.reset_state()

    @property
    def adapts(self) -> bool:
        return bool(self.finetune.get("enabled", False))

    def prepare(self, context: PrepareContext) -> dict | None:
        """``bilm.finetune.enabled``: LM training on the task's training text (labels ignored), on the trainer's
        device, in float32; the softmax comes from beside the weights of a ``pretrain.py`` export."""
        if not self.adapts:
            return None
        try:
            from elmo_lab.lm.finetune import finetune_bilm
        except ImportError:
            raise ConfigError("bilm.finetune.enabled: biLM fine-tuning (elmo_lab.lm.finetune) is not available in "
                              "this installation") from None
        from elmo_lab.bilm.pretrained import resolve_bilm

        f = self.finetune
        options_path, _ = resolve_bilm(self.spec)
        home = self.device
        self.bilm.to(context.device)
        try:
            report = finetune_bilm(self.bilm, context.train_text, context.dev_text, epochs=f["epochs"], lr=f["lr"],
                                   batch_size=f["batch_size"], max_steps=f.get("max_steps"),
                                   softmax_source=options_path.parent, seed=context.seed)
        finally:
            self.bilm.to(home)  # the trainer moves the whole task model itself
        report["device"] = str(context.device)
        return report


def one_direction(layers: torch.Tensor, directions: str) -> torch.Tensor:
    """``(batch, L + 1, time, 2 * proj)`` ``[forward; backward]`` layers → the ``directions`` half
    (``(batch, L + 1, time, proj)``), or all of them for ``both``.  Layer 0 is ``[token; token]``: either half is
    the token representation."""
    if directions == "both":
        return layers
    half = layers.shape[-1] // 2
    return layers[..., :half] if directions == "forward" else layers[..., half:]  # (batch, L + 1, time, proj)
