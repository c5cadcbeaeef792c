"""Controls of a probe: the most-frequent-tag baseline (what a word's identity alone gives) and the control task of
Hewitt & Liang (2019) (what a probe can memorise: accuracy minus control accuracy is its selectivity)."""
from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections import Counter
from itertools import accumulate
from typing import Sequence

from elmo_lab.probing.columns import LabelledSentence


def most_frequent_tags(train: Sequence[LabelledSentence]) -> tuple[dict[str, str], str]:
    """Each training word's most frequent label (ties: the label more frequent overall, then alphabetical), and
    the overall most frequent label (for unseen words).  Words are compared as written (case kept)."""
    overall: Counter[str] = Counter()
    per_word: dict[str, Counter[str]] = {}
    for sentence in train:
        for token, label in zip(sentence.tokens, sentence.labels):
            overall[label] += 1
            per_word.setdefault(token, Counter())[label] += 1
    fallback = max(sorted(overall), key=lambda t: overall[t])
    table = {w: max(sorted(c), key=lambda t: (c[t], overall[t])) for w, c in per_word.items()}
    return table, fallback


def most_frequent_tag_accuracy(table: dict[str, str], fallback: str, sentences: Sequence[LabelledSentence]) -> float:
    """Token accuracy of the most-frequent-tag baseline on ``sentences``."""
    pairs = [(table.get(t, fallback), label) for s in sentences for t, label in zip(s.tokens, s.labels)]
    return sum(p == g for p, g in pairs) / max(len(pairs), 1)


class ControlTask:
    """Hewitt & Liang's (2019) control labels: each word type (as written) gets one label, drawn from the token
    label distribution of ``train`` by a hash of ``(seed, word)`` into its cumulative counts — the same label in
    every split and every run, for words seen in train or not, with no table to store."""

    def __init__(self, train: Sequence[LabelledSentence], seed: int = 0) -> None:
        counts = Counter(label for sentence in train for label in sentence.labels)
        self.seed = seed
        self.labels = sorted(counts)
        self.cumulative = list(accumulate(counts[label] for label in self.labels))
        self.total = self.cumulative[-1] if self.cumulative else 0

    def label(self, word: str) -> str:
        """The control label of ``word``: label ``i`` with probability ``count_i / total``."""
        digest = hashlib.blake2b(f"{self.seed}\x00{word}".encode("utf-8"), digest_size=8).digest()
        point = (int.from_bytes(digest, "big") * self.total) >> 64  # uniform in [0, total)
        return self.labels[bisect_right(self.cumulative, point)]

    def relabel(self, sentence: LabelledSentence) -> LabelledSentence:
        return LabelledSentence(sentence.tokens, [self.label(token) for token in sentence.tokens])


def _behaviours(names: Sequence[str], seed: int) -> ControlTask:
    """A ``ControlTask`` that gives each word type one of ``names`` with equal chance (one token of each)."""
    return ControlTask([LabelledSentence(list(names), list(names))], seed)


class ArcControl:
    """Hewitt & Liang's (2019) control task for dependency arcs: each word type (as written) behaves one way in
    every sentence, drawn with equal chance by a hash of ``(seed, word)``: it attaches to itself, to the sentence's
    first word, or to its last word.  ``heads`` gives the control heads (1-based, as in CoNLL-U)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.behaviour = _behaviours(["first", "last", "self"], seed).label

    def heads(self, tokens: Sequence[str]) -> list[int]:
        n = len(tokens)
        where = {"self": None, "first": 1, "last": n}
        return [i + 1 if where[self.behaviour(t)] is None else where[self.behaviour(t)] for i, t in enumerate(tokens)]


class TreeControl:
    """The arc control made a tree, for the structural probe (distances and depths need one): the first word is the
    root, the last word attaches to it, and every other word type attaches to the first or to the last word (drawn
    with equal chance by a hash of ``(seed, word)``, the same in every sentence)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.behaviour = _behaviours(["first", "last"], seed).label

    def heads(self, tokens: Sequence[str]) -> list[int]:
        n = len(tokens)
        inner = [1 if self.behaviour(t) == "first" else n for t in tokens[1:-1]]
        return [0] + inner + ([1] if n > 1 else [])


LABEL_JOIN = "\x1f"  # joins a target's labels into one control "label" (a label set drawn as a whole)


def span_head(tokens: Sequence[str], span: tuple[int, int]) -> str:
    """The word standing for a span in the edge control: its last token (the head of most English phrases)."""
    return tokens[span[1] - 1]


class EdgeControl:
    """A control task for edge probing in Hewitt & Liang's (2019) sense: a target's label set is a function of the
    word types of its spans' heads alone (``span_head``: span1's, and span2's for two-span targets), drawn from the
    training targets' label-set distribution by a hash of ``(seed, head words)`` (``ControlTask``)."""

    def __init__(self, train_targets: Sequence[tuple[Sequence[str], Sequence[str]]], seed: int = 0) -> None:
        """``train_targets``: (head words, labels) of every training target."""
        sets = [LABEL_JOIN.join(sorted(labels)) for _, labels in train_targets]
        self.seed = seed
        self.draw = ControlTask([LabelledSentence(sets, sets)], seed).label

    def labels(self, heads: Sequence[str]) -> tuple[str, ...]:
        drawn = self.draw(" ".join(heads))
        return tuple(drawn.split(LABEL_JOIN)) if drawn else ()  # "" is the empty label set
