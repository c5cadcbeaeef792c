"""The example type for single-sequence classification (sentiment: SST, MR, IMDB).

Readers in :mod:`elmo_lab.data` return plain ``list[Example]`` so they need no torch; the task's datamodule turns
them into character ids (``elmo_lab.bilm.chars.batch_to_char_ids``) and label tensors.

Tasks with structured outputs (NER: one tag per token; QA: a question, a passage and a span) will define their own
example types next to their readers; this one stays limited to "one token sequence, one integer label".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Example"]


@dataclass(frozen=True)
class Example:
    """One labelled token sequence.

    # Parameters

    tokens : ``list[str]``
        The word tokens, already tokenised (``elmo_lab.data.tokenize``) and case-preserved; never empty.
    label : ``int``
        The class id: 0..4 for fine-grained SST (0 = very negative, 4 = very positive), 0/1 for binary tasks
        (0 = negative, 1 = positive).
    """

    tokens: list[str]
    label: int
