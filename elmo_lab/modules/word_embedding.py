"""The task's word embeddings x_k, learned from scratch or started from pretrained vectors (``task.word_vectors``).

One implementation for every task: the data module calls ``pretrained_words`` once its vocabulary exists (so a bad
vectors file fails with the other data errors, before anything is written), and a task model makes its
``nn.Embedding`` with ``word_embedding(task_cfg, data_info)``.

With vectors (the paper's baselines feed GloVe to the task RNN):

- the vocabulary is the training words (``task.min_count``) plus every other word of any split (rare training words,
  dev and test words) that has a pretrained vector — such a vector is information from outside the task data, as
  in the common GloVe setups, and without it those words would all be ``<UNK>``;
- lookup follows the vectors' training (lowercased for GloVe 6B: ``elmo_lab.data.word_vectors``);
- a word without a vector (``<UNK>`` included) starts from N(0, σ²) per dimension, σ the standard deviation of the
  vectors found, drawn from a generator seeded by the run's seed; the padding row is zero;
- ``task.freeze_word_vectors=true`` keeps the whole matrix fixed (the words without a vector too), otherwise it is
  trained with the rest of the model;
- the width is the vectors' (``elmo_lab.config.schema.resolve_word_dim``: an explicit ``task.word_dim`` must agree).

Coverage (how many training words and tokens found a vector) goes into ``results.json`` under
``data_notes.word_vectors`` and is printed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from elmo_lab.config.schema import DEFAULT_WORD_DIM
from elmo_lab.data.splits import SPLITS
from elmo_lab.data.word_vector_sources import load_word_vectors
from elmo_lab.data.word_vectors import WordVectorError


@dataclass
class PretrainedWords:
    """The initial embedding matrix of a task vocabulary (row 0 = padding) and what to report about it."""

    weight: torch.Tensor  # (vocab, dim)
    freeze: bool
    notes: dict[str, Any]


def _covered(sequences: Iterable[Sequence[str]], has_vector: Callable[[str], bool]) -> tuple[int, int]:
    tokens = found = 0
    for sequence in sequences:
        tokens += len(sequence)
        found += sum(has_vector(w) for w in sequence)
    return found, tokens


def pretrained_words(task: Any, vocab: Any, splits: dict[str, list], sequences_of: Callable[[Any], list],
                     seed: int) -> PretrainedWords | None:
    """The vectors ``task.word_vectors`` names for ``vocab`` (a ``WordVocabulary``, extended here with the other
    words of ``splits`` that have a vector); None without ``task.word_vectors``."""
    spec = task.get("word_vectors")
    if not spec:
        return None
    vectors = load_word_vectors(str(spec))
    index = vectors.index()
    has_vector = lambda word: vectors.key(word) in index  # noqa: E731 - word as the vocabulary holds it
    normalise = vocab.normalise
    train_words = vocab.vocab.words[3:]  # after <S>, </S>, <UNK>
    train_found = sum(has_vector(w) for w in train_words)
    found_tokens, tokens = _covered((normalise(s) for e in splits["train"] for s in sequences_of(e)), has_vector)
    others = (w for split in SPLITS for e in splits[split] for s in sequences_of(e)
              for w in normalise(s))
    added = vocab.extend(w for w in others if has_vector(w))

    rows = vectors.rows_of(vocab.vocab.words)
    known = [(i + 1, r) for i, r in enumerate(rows) if r is not None]  # task ids are vocabulary ids + 1
    ids = torch.tensor([i for i, _ in known], dtype=torch.long)
    found = torch.from_numpy(vectors.matrix[[r for _, r in known]].copy()) if known else torch.zeros(0, vectors.dim)
    sigma = float(found.std()) if found.numel() > 1 else float(torch.from_numpy(vectors.matrix[:1000].copy()).std())
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(len(vocab), vectors.dim, generator=generator) * sigma  # (vocab, dim)
    weight[ids] = found
    weight[0] = 0.0
    freeze = bool(task.get("freeze_word_vectors", False))
    notes = {"source": vectors.source, "dim": vectors.dim, "lowercased_lookup": vectors.lowercased,
             "frozen": freeze, "train_vocabulary": len(train_words), "train_vocabulary_found": train_found,
             "train_type_coverage": train_found / max(len(train_words), 1),
             "train_token_coverage": found_tokens / max(tokens, 1), "words_added": added,
             "vocabulary": len(vocab), "unknown_init_std": sigma}
    print(f"word vectors {vectors.source} ({vectors.dim}-d, {'lowercased' if vectors.lowercased else 'cased'} "
          f"lookup, {'frozen' if freeze else 'trained'}): {train_found:,} of {len(train_words):,} training words "
          f"({100 * notes['train_type_coverage']:.1f} %), {100 * notes['train_token_coverage']:.1f} % of training "
          f"tokens; {added:,} other words added with their vectors; the rest start from N(0, {sigma:.3f}²)",
          flush=True)
    return PretrainedWords(weight, freeze, notes)


def word_embedding(task_cfg: Any, data_info: dict) -> nn.Embedding:
    """The task's ``nn.Embedding`` (padding id 0): ``data_info["word_vectors"]`` (a ``PretrainedWords``) when
    given, else ``data_info["vocab_size"]`` × ``task.word_dim`` learned from PyTorch's default initialisation."""
    pretrained: PretrainedWords | None = data_info.get("word_vectors")
    if pretrained is None:
        return nn.Embedding(data_info["vocab_size"], task_cfg.get("word_dim") or DEFAULT_WORD_DIM, padding_idx=0)
    dim = task_cfg.get("word_dim")
    if dim is not None and dim != pretrained.weight.size(1):
        raise WordVectorError(f"task.word_dim: {dim}, but task.word_vectors has {pretrained.weight.size(1)}-d "
                              "vectors; leave task.word_dim unset")
    embedding = nn.Embedding.from_pretrained(pretrained.weight.clone(), freeze=pretrained.freeze, padding_idx=0)
    return embedding
