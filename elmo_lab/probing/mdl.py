"""Minimum description length of a probe's labels by the online code (Voita & Titov 2020, "Information-Theoretic
Probing with Minimum Description Length").

The labels of the training set are sent block by block: the first block with the uniform code (``log2 K`` bits a
token, ``K`` labels), each later block with a probe trained on all blocks before it, at ``-log2 p(label)`` bits a
token.  The online code length is the sum; compression = uniform code length of the whole set / online code length.
A representation from which the labels are easy to read compresses them much better than one from which they must be
memorised (the control task) or cannot be read at all (random labels).

Blocks: the sentences, in an order shuffled by the run's seed, are cut at ``MDL_FRACTIONS`` of the training *tokens*
(the unit the code lengths count), each cut at the first sentence boundary that reaches it: sentences stay whole
because a token's contextual vector depends on its sentence.  On a small training set several cuts fall on the same
sentence; the empty blocks are dropped.

The pure arithmetic (``block_ends``, ``online_code``) is separate from the per-block training
(``train_and_score``): the probe is a linear layer or MLP on frozen (cached) features, so a plain torch loop with
Adam over the block's batches for the run's number of epochs is the whole recipe, and fast.
"""
from __future__ import annotations

import math
import random
from typing import Callable, Iterable, Sequence

import torch

#: where the blocks end, as fractions of the training tokens (Voita & Titov's 0.1, 0.2, ..., 50, 100 %)
MDL_FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)


def shuffled_order(n: int, seed: int) -> list[int]:
    """The order in which the ``n`` training sentences are transmitted: a permutation fixed by ``seed``."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def block_ends(token_counts: Sequence[int], fractions: Sequence[float] = MDL_FRACTIONS) -> list[int]:
    """Sentence indices (exclusive ends, strictly increasing, the last ``len(token_counts)``) where the blocks end:
    for each fraction ``f`` the fewest sentences, at least one, whose tokens reach ``f`` × all tokens."""
    total = sum(token_counts)
    ends: list[int] = []
    for fraction in fractions:
        target, seen, n = fraction * total, 0, 0
        while n < len(token_counts) and (n == 0 or seen < target - 1e-9):
            seen += token_counts[n]
            n += 1
        if not ends or n > ends[-1]:
            ends.append(n)
    return ends


def uniform_bits(tokens: int, num_labels: int) -> float:
    """The uniform code length of ``tokens`` labels out of ``num_labels``: ``tokens`` × log2 K bits."""
    return tokens * math.log2(num_labels) if num_labels > 1 else 0.0


def online_code(block_tokens: Sequence[int], later_bits: Sequence[float], num_labels: int) -> dict:
    """The online code of blocks of ``block_tokens`` tokens: the first block at the uniform code, each later block at
    ``later_bits`` (the summed cross-entropy in bits of a probe trained on the blocks before it).  Returns
    ``online_codelength_kbits``, ``uniform_codelength_kbits``, ``compression`` and ``blocks`` (tokens and bits of
    each)."""
    if len(later_bits) != len(block_tokens) - 1:
        raise ValueError(f"{len(block_tokens)} blocks need {len(block_tokens) - 1} later code lengths, "
                         f"got {len(later_bits)}")
    bits = [uniform_bits(block_tokens[0], num_labels), *map(float, later_bits)]
    online, uniform = sum(bits), uniform_bits(sum(block_tokens), num_labels)
    return {"online_codelength_kbits": online / 1000, "uniform_codelength_kbits": uniform / 1000,
            "compression": uniform / online if online > 0 else None, "labels": num_labels,
            "blocks": [{"tokens": int(t), "bits": b} for t, b in zip(block_tokens, bits)]}


def train_and_score(probe: torch.nn.Module, fresh: Callable[[], None],
                    train_batches: Callable[[int], Iterable[dict]], loss: Callable[[dict], torch.Tensor],
                    summed_nats: Callable[[dict], torch.Tensor], score_batches: Iterable[dict], epochs: int,
                    lr: float) -> float:
    """One later block's code length in bits: ``fresh()`` resets ``probe`` to its initial weights, Adam (``lr``)
    trains its trainable parameters on ``train_batches(epoch)`` (the blocks before) for ``epochs`` epochs on
    ``loss(batch)``, then the block's ``score_batches`` cost the sum of ``summed_nats(batch)`` (cross-entropy in
    nats, summed over tokens), in bits."""
    fresh()
    optimizer = torch.optim.Adam([p for p in probe.parameters() if p.requires_grad], lr=lr)
    probe.train()
    for epoch in range(epochs):
        for batch in train_batches(epoch):
            optimizer.zero_grad()
            loss(batch).backward()
            optimizer.step()
    probe.eval()
    with torch.no_grad():
        nats = sum(float(summed_nats(batch)) for batch in score_batches)
    return nats / math.log(2)
