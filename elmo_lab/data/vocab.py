"""The LM's output vocabulary: the words the softmax predicts.

The biLM reads characters, so any word can be *input*; only the softmax needs a closed word list.  Layout (bilm-tf's
``vocab.txt``): one word per line, ``<S>``, ``</S>``, ``<UNK>`` first (ids 0, 1, 2), then the corpus words by
descending count (ties by first appearance).  The frequency order matters: the sampled softmax draws negatives from
a log-uniform (Zipf) distribution over ids, which assumes id 0 is the most frequent.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from elmo_lab.util.atomic import atomic_path
from elmo_lab.util.errors import UserError

BOS, EOS, UNK = "<S>", "</S>", "<UNK>"
SPECIALS = (BOS, EOS, UNK)


class VocabError(ValueError, UserError):
    """A vocabulary file that cannot be used (missing, empty, wrong specials)."""


class Vocabulary:
    """A word ↔ id map with ``<S>``=0, ``</S>``=1, ``<UNK>``=2."""

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if tuple(words[:3]) != SPECIALS:
            raise VocabError(f"a vocabulary must start with {', '.join(SPECIALS)}; got {words[:3]}")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        if len(self.index) != len(words):
            dup = next(w for w, c in Counter(words).items() if c > 1)
            raise VocabError(f"word {dup!r} appears twice in the vocabulary")

    bos_id, eos_id, unk_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    def id(self, word: str) -> int:
        return self.index.get(word, self.unk_id)

    @classmethod
    def from_sentences(cls, sentences: Iterable[Sequence[str]], max_size: int | None = None,
                       min_count: int = 1) -> "Vocabulary":
        """Count the words of ``sentences``; keep those seen ``min_count`` times, at most ``max_size`` in all
        (specials included), most frequent first."""
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(sentence)
        for special in SPECIALS:
            counts.pop(special, None)
        words = [w for w, c in counts.most_common() if c >= min_count]  # stable: ties keep first-seen order
        if max_size is not None:
            words = words[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *words])

    def save(self, path: str | Path) -> None:
        """Write ``vocab.txt`` (one word per line) atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(self.words) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        path = Path(path)
        if not path.is_file():
            raise VocabError(f"{path}: vocabulary file not found")
        words = path.read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        for lineno, word in enumerate(words, 1):
            if not word or any(c.isspace() for c in word):
                raise VocabError(f"{path}:{lineno}: expected one word without spaces per line, got {word!r}")
        try:
            return cls(words)
        except VocabError as e:
            raise VocabError(f"{path}: {e}") from None
