"""Rule-based sentence splitting on top of :func:`elmo_lab.data.tokenize.tokenize`.

Why rule-based: the splitter only decides where the pretraining corpus is cut into the sentences that the biLM
sees with ``<S>``/``</S>`` around them; a few wrong cuts cost nothing measurable, and the rules are deterministic.

Rules:

1. Line breaks are hard boundaries: the text is split into lines first (callers turn ``<br />`` into newlines),
   and no sentence crosses a line.
2. Each line is tokenised; a sentence ends after a token that is ``.`` or a run of ``!``/``?`` (``!``, ``?!``,
   ``!!!``). Abbreviations keep their period inside the token (``Mr.``, ``U.S.``, ``etc.``), so they never end a
   sentence. An ellipsis (``...``) does not end a sentence.
3. Closing brackets (``)`` ``]`` ``}``) right after the end are kept with the sentence, and so is a following
   ``"`` or ``'`` when the sentence so far holds an odd number of that quote (it is then a closing quote).
4. Sentences with no tokens are dropped; a line's remainder without a final terminator is a sentence too.
"""

from __future__ import annotations

import re

from elmo_lab.data.tokenize import tokenize

__all__ = ["split_sentences"]

_TERMINATOR = re.compile(r"^(?:\.|[!?]+)$")
_CLOSERS = {")", "]", "}"}
_QUOTES = {'"', "'"}


def _split_tokens(tokens: list[str]) -> list[list[str]]:
    sentences: list[list[str]] = []
    current: list[str] = []
    ended = False
    for token in tokens:
        if ended:
            closes = token in _CLOSERS or (token in _QUOTES and current.count(token) % 2 == 1)
            if not closes:
                sentences.append(current)
                current, ended = [], False
        current.append(token)
        if _TERMINATOR.match(token):
            ended = True
    if current:
        sentences.append(current)
    return sentences


def split_sentences(text: str) -> list[list[str]]:
    """Split raw ``text`` into tokenised sentences (rules in the module docstring); ``[]`` for blank text."""
    sentences: list[list[str]] = []
    for line in text.splitlines():
        sentences.extend(_split_tokens(tokenize(line)))
    return sentences
