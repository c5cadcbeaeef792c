"""Dependency-annotated sentences, whatever file they came from (CoNLL-U, the UDS JSON of UD English-EWT): the one
record the treebank probes (token labels, arcs, the structural probe) and the edge converters read.

Heads are 1-based word indices as in CoNLL-U, 0 for the root; ``heads[i]`` is the head of word ``i + 1``.
Multi-word token ranges (``1-2``) and empty nodes (``3.1``) of CoNLL-U are not words here.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DependencySentence:
    """One sentence: per word its form, lemma, UPOS, XPOS (PTB for EWT), head (0 = root) and relation."""

    tokens: list[str]
    lemmas: list[str]
    upos: list[str]
    xpos: list[str]
    heads: list[int]
    relations: list[str]
    sentence_id: str = ""
    extra: dict = field(default_factory=dict, compare=False)  # reader-specific annotations (e.g. UDS properties)
    source: str = field(default="", compare=False)  # the file it was read from, when it has lines (CoNLL-U)
    line: int = field(default=0, compare=False)  # the 1-based line of its first word there (0: not known)

    def __len__(self) -> int:
        return len(self.tokens)

    def column(self, name: str) -> list[str]:
        """One per-word label column by name: ``upos``, ``xpos``, ``relations`` (``deprel``) or ``lemmas``."""
        key = {"deprel": "relations"}.get(name, name)
        if key not in ("upos", "xpos", "relations", "lemmas"):
            raise KeyError(f"no per-word label column {name!r} (upos, xpos, deprel, lemmas)")
        return list(getattr(self, key))
