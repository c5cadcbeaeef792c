"""Nested, seeded subsets of a training split (``task.train_fraction`` / ``task.train_examples``): pure Python.

A learning curve compares runs trained on 1 %, 3 %, 10 %, ... of the training data.  The comparison is cleanest when
the subsets are *nested*: every smaller subset lies inside every larger one, so that a difference between two
points of the curve comes from the added examples, not from a different draw.  Here a subset of size ``k`` is the
first ``k`` positions of one fixed, seeded order of the whole split (``nested_order``), returned in the split's
original order (``nested_subset``).  The order depends on the seed and the split alone, so every placement and
every run seed of a sweep trains on the same examples.

Unlabelled examples (sequences, QA questions): the order is a seeded shuffle of ``range(n)``.

Labelled examples (classification): the order is *stratified*, so that every prefix keeps the label proportions of
the split as closely as possible.  The rule (a divisor-method interleaving, as Sainte-Laguë apportions seats):
each label's examples are shuffled by the seed; the ``r``-th example (0-based) of a label with ``n_c`` examples gets
the key ``(r + 1/2) / n_c``; the order sorts all examples by key, ties broken by label (in ``repr`` order).  Every
prefix is then the set of examples whose key is at most some ``t``, holding ``round(t * n_c)`` of each label, so
its count of label ``c`` is within 1/2 of ``t * n_c`` and so differs from the proportional ``k * n_c / n`` by at
most ``1/2 + (number of labels) * n_c / (2 n)`` (at most 1.5 for two labels, 1 for two balanced ones).

Sizes (``subset_size``): a fraction ``f`` keeps ``round(f * n)`` examples (halves rounded up, at least 1); a count
keeps ``min(count, n)``.
"""
from __future__ import annotations

import random
from typing import Hashable, Sequence

__all__ = ["nested_order", "nested_subset", "subset_size"]


def subset_size(pool: int, fraction: float = 1.0, examples: int | None = None) -> int:
    """How many of ``pool`` examples a subset keeps: ``min(examples, pool)`` when ``examples`` is given, otherwise
    ``round(fraction * pool)`` (halves up), at least 1 of a non-empty pool."""
    if examples is not None:
        if examples < 1:
            raise ValueError(f"examples={examples}: expected an integer >= 1")
        return min(int(examples), pool)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction={fraction}: expected a number in (0, 1]")
    if pool == 0:
        return 0
    return min(pool, max(1, int(fraction * pool + 0.5)))


def _shuffled(items: list[int], rng: random.Random) -> list[int]:
    rng.shuffle(items)
    return items


def nested_order(n_or_labels: int | Sequence[Hashable], seed: int) -> list[int]:
    """A seeded order of every index of the split: its prefixes are the nested subsets (rules in the module
    docstring).  ``n_or_labels``: the split's size (unlabelled), or one label per example (stratified)."""
    rng = random.Random(seed)
    if isinstance(n_or_labels, int):
        return _shuffled(list(range(n_or_labels)), rng)
    labels = list(n_or_labels)
    by_label: dict[Hashable, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    keyed: list[tuple[float, int, int]] = []  # (key, label rank, index)
    for rank, label in enumerate(sorted(by_label, key=repr)):
        members = _shuffled(by_label[label], rng)
        keyed += [((r + 0.5) / len(members), rank, i) for r, i in enumerate(members)]
    return [i for _, _, i in sorted(keyed)]


def nested_subset(n_or_labels: int | Sequence[Hashable], size: int, seed: int) -> list[int]:
    """The first ``size`` indices of ``nested_order(n_or_labels, seed)``, in the split's original order.

    A larger ``size`` (same split, same seed) gives a superset; ``size`` beyond the split keeps every index.
    """
    if size < 0:
        raise ValueError(f"size={size}: expected an integer >= 0")
    n = n_or_labels if isinstance(n_or_labels, int) else len(n_or_labels)
    if size >= n:
        return list(range(n))
    return sorted(nested_order(n_or_labels, seed)[:size])
