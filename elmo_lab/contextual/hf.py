"""A Hugging Face transformer (``bilm.kind=hf``, ``bilm.spec=<directory | minilm | hub name>``) as a
``ContextualEncoder``: ``AutoModel`` with ``output_hidden_states``, its layers pooled from word pieces to words.

- **Layers.** ``hidden_states`` holds the embedding layer and one output per transformer layer.  The layers handed
  on are ``0..bilm.max_layer`` (default: all), the embedding layer included unless ``bilm.include_embeddings=false``
  (the default includes it, as jiant does and as ELMo's own layer 0 is its token layer; AllenNLP's
  ``last_layer_only=False`` leaves it out).  ``max_layer=k`` is the layer set the encoder hands on and the layer
  cache stores (a deep model's lower layers only, at a fraction of the storage); the mix of layers 0..k of the whole
  set, for cumulative scoring, is ``elmo.max_layer`` (any encoder, one cache entry for every k).
- **Pooling.** Words are split into pieces by the fast tokenizer (``is_split_into_words``, aligned by
  ``word_ids()``); ``bilm.pooling`` = ``mean`` (default) | ``first`` | ``last`` makes one vector per word.  Mean is
  AllenNLP's choice (``PretrainedTransformerMismatchedEmbedder``): it uses every piece, so no part of a long word is
  thrown away and the result does not depend on where the tokenizer happens to split.
- **Long sentences** are cut into overlapping windows that fit the model's positions (``bilm.window``, default the
  model's limit); each piece is read from the window in which it has the most context.  Nothing is truncated.
- **Freezing** is the stage's (``bilm.freeze``, default true: the mix still learns); ``bilm.freeze=false`` fine-tunes.
- **Cache identity**: the SHA-256 of the model directory's files (weights, config, tokenizer) with the pooling,
  the layer set, ``max_layer`` and the window, so frozen runs share the layer cache.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from elmo_lab.config.schema import ConfigError
from elmo_lab.contextual.base import ContextualEncoder
from elmo_lab.contextual.hf_words import POOLINGS, SentencePieces, pieces_of, pool_words, windows

RANDOM_WEIGHTS_SEED = 12345
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "longformer")  # positions start at pad_token_id + 1


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError("bilm.kind: hf needs the transformers package: pip install 'elmo_lab[hf]'") from None
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


def _position_limit(config: Any, tokenizer: Any) -> int:
    """How many pieces (special tokens included) one model call can take."""
    limit = getattr(config, "max_position_embeddings", None) or 10**9
    if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
        limit -= (config.pad_token_id or 0) + 1
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    return min(limit, tokenizer_limit) if isinstance(tokenizer_limit, int) and tokenizer_limit > 0 else limit


class HfEncoder(ContextualEncoder):
    """A Hugging Face model and its fast tokenizer behind the encoder contract (see the module docstring).

    # Parameters
    model, tokenizer : an ``AutoModel`` and its fast tokenizer.
    model_dir : the directory they came from (hashed for the cache identity).
    pooling : first | mean | last.  include_embeddings, max_layer : the layer set.  window : pieces per model call
        (special tokens included; None: the model's limit).
    """

    kind = "hf"

    def __init__(self, model: Any, tokenizer: Any, model_dir: Path, pooling: str = "mean",
                 include_embeddings: bool = True, max_layer: int | None = None, window: int | None = None,
                 random_weights: bool = False) -> None:
        super().__init__()
        self.model, self.tokenizer, self.model_dir = model, tokenizer, Path(model_dir)
        self.pooling, self.include_embeddings, self.random_weights = pooling, include_embeddings, random_weights
        depth = int(model.config.num_hidden_layers)
        self.max_layer = depth if max_layer is None else max_layer
        self.window = window or _position_limit(model.config, tokenizer)
        self.first_layer = 0 if include_embeddings else 1
        self._digest: str | None = None

    @classmethod
    def from_config(cls, bilm: dict) -> "HfEncoder":
        """``bilm.spec`` loaded (``bilm.random_weights``: its architecture freshly initialised with a fixed seed)."""
        from elmo_lab.contextual.hf_source import resolve_model_dir

        transformers = _transformers()
        if bilm.get("finetune", {}).get("enabled", False):
            raise ConfigError("bilm.finetune.enabled: LM fine-tuning is for bilm.kind=lstm; a Hugging Face encoder "
                              "is fine-tuned with the task instead (bilm.freeze=false)")
        model_dir = resolve_model_dir(str(bilm["spec"]))
        config = cls._config(model_dir, transformers)
        options = _check_options(bilm, int(config.num_hidden_layers))
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True, use_fast=True,
                                                                   **_tokenizer_kwargs(config))
            if bilm.get("random_weights", False):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(RANDOM_WEIGHTS_SEED)
                    model = transformers.AutoModel.from_config(config)
            else:
                model = transformers.AutoModel.from_pretrained(str(model_dir), local_files_only=True)
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(f"bilm.spec: cannot load a model and tokenizer from {model_dir} "
                              f"({str(error).splitlines()[0][:200]})") from None
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError(f"bilm.spec: {model_dir} has no fast tokenizer (word alignment needs word_ids(); "
                              "add a tokenizer.json)")
        encoder = cls(model, tokenizer, model_dir, random_weights=bool(bilm.get("random_weights", False)), **options)
        encoder.model.eval()
        encoder.encode([["a"]])  # refuses an architecture without hidden states now, not mid-run
        return encoder

    @staticmethod
    def _config(model_dir: Path, transformers: Any) -> Any:
        try:
            config = transformers.AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(f"bilm.spec: {model_dir}/config.json is not a model config Hugging Face "
                              f"transformers knows ({str(error).splitlines()[0][:160]})") from None
        if getattr(config, "num_hidden_layers", None) is None:
            raise ConfigError(f"bilm.spec: {model_dir}: model type {config.model_type!r} has no num_hidden_layers "
                              "(expected an encoder or decoder stack with hidden states)")
        return config

    @classmethod
    def layers_in(cls, bilm: dict) -> int:
        """From ``config.json`` alone: ``max_layer + 1``, less one without the embedding layer."""
        from elmo_lab.contextual.hf_source import resolve_model_dir

        config = cls._config(resolve_model_dir(str(bilm["spec"])), _transformers())
        options = _check_options(bilm, int(config.num_hidden_layers))
        top = int(config.num_hidden_layers) if options["max_layer"] is None else options["max_layer"]
        return top + 1 - (0 if options["include_embeddings"] else 1)

    @property
    def num_layers(self) -> int:
        return self.max_layer + 1 - self.first_layer

    @property
    def output_dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, tokens: Sequence[Sequence[str]], inputs: Any = None, stateful: bool = False) -> torch.Tensor:
        time = max((len(t) for t in tokens), default=0)
        out = torch.zeros(len(tokens), self.num_layers, time, self.output_dim, device=self.device)  # (b, L+1, t, d)
        if not tokens:
            return out
        sentences = [pieces_of(self.tokenizer, list(t)) for t in tokens]
        for i, (sentence, layers) in enumerate(zip(tokens, self._piece_layers(sentences))):
            if sentence:
                out[i, :, : len(sentence)] = pool_words(layers, sentences[i].words, len(sentence),
                                                        self.pooling)  # (L+1, n_words, dim)
        return out

    def _piece_layers(self, sentences: list[SentencePieces]) -> list[torch.Tensor]:
        """``(L+1, n_pieces, dim)`` per sentence: the chosen layers of every content piece, every sentence's windows
        in one model call (a long sentence has several)."""
        rows, plans = [], []
        for pieces in sentences:
            capacity = self.window - len(pieces.prefix) - len(pieces.suffix)
            if capacity < 1:
                raise ConfigError(f"bilm.window: {self.window} leaves no room beside the tokenizer's "
                                  f"{len(pieces.prefix) + len(pieces.suffix)} special tokens")
            spans, owner = windows(len(pieces.ids), capacity)
            plans.append((len(rows), spans, owner, len(pieces.prefix)))
            rows += [pieces.prefix + pieces.ids[s:e] + pieces.suffix for s, e in spans]
        stacked = self._hidden(rows)  # (rows, L+1, width, dim)
        result = []
        for first_row, spans, owner, start in plans:
            picks = [stacked[first_row + owner[p], :, start + p - spans[owner[p]][0]] for p in range(len(owner))]
            result.append(torch.stack(picks, dim=1) if picks  # (L+1, n_pieces, dim)
                          else stacked.new_zeros(self.num_layers, 0, self.output_dim))
        return result

    def _hidden(self, rows: list[list[int]]) -> torch.Tensor:
        """``(rows, L+1, width, dim)``: the chosen hidden states of piece-id rows, right-padded and masked."""
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)  # (rows, width)
        mask = torch.zeros(len(rows), width, dtype=torch.long)  # (rows, width)
        for w, row in enumerate(rows):
            ids[w, : len(row)], mask[w, : len(row)] = torch.tensor(row, dtype=torch.long), 1
        output = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                            output_hidden_states=True)
        hidden = getattr(output, "hidden_states", None)
        if hidden is None:
            raise ConfigError(f"bilm.spec: {self.model_dir}: {type(self.model).__name__} returns no hidden states "
                              "(expected an architecture with output_hidden_states)")
        return torch.stack(hidden[self.first_layer: self.max_layer + 1], dim=1)  # (rows, L+1, width, dim)

    def identity_config(self) -> dict:
        return {"kind": self.kind, "pooling": self.pooling, "layers": [self.first_layer, self.max_layer],
                "max_layer": self.max_layer, "window": self.window, "random_weights": self.random_weights}

    def cache_identity(self) -> str:
        """SHA-256 of the model directory's files and of ``identity_config()`` (the files hashed once)."""
        import hashlib
        import json

        from elmo_lab.contextual.hf_source import files_digest

        if self._digest is None:
            self._digest = files_digest(self.model_dir)
        payload = json.dumps({"files": self._digest, **self.identity_config()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def describe(self) -> dict:
        config = self.model.config
        return {"kind": self.kind, "arch": f"hf {config.model_type} {self.num_layers}x{self.output_dim}",
                "model_dir": str(self.model_dir), **self.identity_config()}


def _tokenizer_kwargs(config: Any) -> dict:
    """Byte-level BPE tokenizers (GPT-2, RoBERTa) need a space before pre-split words to tokenise them as words."""
    return {"add_prefix_space": True} if config.model_type in ("gpt2", "roberta", "gpt_neo", "bart") else {}


def _check_options(bilm: dict, depth: int) -> dict:
    """The ``bilm.*`` keys of this kind, checked against a model of ``depth`` layers."""
    pooling = str(bilm.get("pooling", "mean"))
    if pooling not in POOLINGS:
        raise ConfigError(f"bilm.pooling: expected one of {', '.join(POOLINGS)}, got {pooling!r}")
    max_layer = bilm.get("max_layer")
    include = bool(bilm.get("include_embeddings", True))
    lowest = 0 if include else 1
    if max_layer is not None and not lowest <= int(max_layer) <= depth:
        raise ConfigError(f"bilm.max_layer: the model has layers {lowest}..{depth}"
                          f"{'' if include else ' (bilm.include_embeddings=false)'}, got {max_layer}")
    window = bilm.get("window")
    if window is not None and int(window) < 3:
        raise ConfigError(f"bilm.window: must be >= 3 pieces (special tokens included), got {window}")
    return {"pooling": pooling, "include_embeddings": include,
            "max_layer": None if max_layer is None else int(max_layer), "window": None if window is None else int(window)}
