"""Word pieces ↔ words for Hugging Face encoders: tokenising pre-split words, cutting a long sentence into
overlapping windows that fit the model's positions, and pooling piece vectors back into one vector per word.

Kept apart from the model so each step can be checked by hand: ``pieces_of`` (a sentence → piece ids, the word of
each piece, the special tokens around them), ``windows`` (which pieces each model call sees and which window each
piece's vector is read from) and ``pool_words`` (first | mean | last of each word's pieces).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

POOLINGS = ("first", "mean", "last")


@dataclass
class SentencePieces:
    """One sentence as the tokenizer splits it: ``ids`` (the content pieces, no special tokens), ``words`` (the word
    index of each piece) and the special token ids the tokenizer puts before and after them."""

    ids: list[int]
    words: list[int]
    prefix: list[int]
    suffix: list[int]


def pieces_of(tokenizer: Any, sentence: Sequence[str]) -> SentencePieces:
    """Tokenise one pre-split sentence (``is_split_into_words``), never truncating; ``word_ids()`` aligns pieces
    with words, and the pieces without a word at either end are the special tokens."""
    encoding = tokenizer(list(sentence), is_split_into_words=True, add_special_tokens=True, truncation=False)
    ids, word_ids = encoding["input_ids"], encoding.word_ids()
    content = [i for i, w in enumerate(word_ids) if w is not None]
    if not content:
        return SentencePieces([], [], list(ids), [])
    first, last = content[0], content[-1]
    return SentencePieces([ids[i] for i in content], [word_ids[i] for i in content], list(ids[:first]),
                          list(ids[last + 1:]))


def windows(n_pieces: int, capacity: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Cut ``n_pieces`` into windows of at most ``capacity`` pieces that overlap by half a window, and pick for each
    piece the window in which it lies furthest from an edge (most context on both sides).

    Returns the ``(start, end)`` of each window and, for each piece, the index of the window its vector comes from.
    One window when everything fits, so short sentences run exactly as they would without windowing.
    """
    if capacity < 1:
        raise ValueError(f"window capacity must be >= 1, got {capacity}")
    if n_pieces <= capacity:
        return [(0, n_pieces)], [0] * n_pieces
    step = max(1, capacity // 2)
    spans, start = [], 0
    while True:
        end = min(start + capacity, n_pieces)
        spans.append((max(0, end - capacity), end))  # the last window is full width, ending at the sentence's end
        if end == n_pieces:
            break
        start += step
    owner = []
    for piece in range(n_pieces):
        margins = [min(piece - s, e - 1 - piece) if s <= piece < e else -1 for s, e in spans]
        owner.append(max(range(len(spans)), key=lambda w: (margins[w], -w)))
    return spans, owner


def pool_words(pieces: torch.Tensor, words: Sequence[int], n_words: int, pooling: str) -> torch.Tensor:
    """``(L, n_pieces, dim)`` piece vectors → ``(L, n_words, dim)`` word vectors: the first, the mean or the last of
    each word's pieces.  A word with no piece at all (a tokenizer may drop e.g. a lone control character) gets zeros.
    """
    layers, _, dim = pieces.shape
    out = pieces.new_zeros(layers, n_words, dim)  # (L, n_words, dim)
    if not len(words):
        return out
    index = torch.tensor(list(words), device=pieces.device)  # (n_pieces,)
    if pooling == "mean":
        counts = torch.zeros(n_words, device=pieces.device, dtype=pieces.dtype).index_add_(
            0, index, torch.ones_like(index, dtype=pieces.dtype))  # (n_words,)
        out = out.index_add(1, index, pieces)  # (L, n_words, dim): sums
        return out / counts.clamp(min=1)[None, :, None]
    order = range(len(words)) if pooling == "last" else reversed(range(len(words)))
    chosen: dict[int, int] = {}
    for position in order:  # the last write wins: the word's last piece, or (reversed) its first
        chosen[words[position]] = position
    word_index = torch.tensor(list(chosen.keys()), device=pieces.device)
    piece_index = torch.tensor(list(chosen.values()), device=pieces.device)
    out[:, word_index] = pieces[:, piece_index]
    return out
