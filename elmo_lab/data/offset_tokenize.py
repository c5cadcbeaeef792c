"""A word tokeniser that keeps character offsets into the original text (for span extraction: SQuAD).

Unlike :mod:`elmo_lab.data.tokenize` it never normalises (no quote or dash mapping, no NFC), so every token is an
exact substring of its input and a predicted token span maps back to the exact characters an evaluator scores.
Its segmentation follows the same PTB-like rules, except that hyphenated words are split (``Denver-based`` ->
``Denver - based``): extractive answers often start or end at a hyphen.
"""

from __future__ import annotations

import re

__all__ = ["tokenize_with_offsets"]

_TITLES = r"(?:Mr|Mrs|Ms|Dr|Jr|Sr|St|vs|etc|Prof|Mt)\."
_WORD = r"[^\W_]+(?:[\u0300-\u036f]+[^\W_]*)*"  # letters and digits, with combining accents (decomposed text)
_TOKEN_RE = re.compile(
    rf"""
    (?<![^\W_])(?:{_TITLES}|(?:[^\W\d_]\.){{2,}})   # abbreviations: Mr. / U.S. / e.g.
    | \d+(?:[.,:]\d+)+                              # numbers: 3.5  1,000  10:30
    | {_WORD}(?:['\u2019]{_WORD})*                    # words (with internal apostrophes; hyphens split)
    | \.{{2,}} | -{{2,}} | [!?]+                       # ...  --  ?!
    | [^\s\u200b-\u200f\u2060\ufeff]                # any other visible character (zero-width ones separate)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_CLITIC_RE = re.compile(r"^(.+?)(n['\u2019]t|['\u2019](?:s|re|ve|ll|d|m))$", re.IGNORECASE)


def tokenize_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Tokens of ``text`` as ``(token, start, end)`` with ``text[start:end] == token``.

    No normalisation: offsets index the original string. Rules, first match wins: dotted abbreviations
    (``U.S.``, ``Mr.``); numbers with internal ``. , :`` (``3.5``, ``1,000``); words of letters and digits, with
    hyphens split off (``Denver-based`` -> ``Denver - based``) and PTB clitics split (``doesn't`` -> ``does
    n't``, ``Destiny's`` -> ``Destiny 's``; ASCII or typographic apostrophe); runs of ``...``, ``--``, ``!?``;
    any other visible character alone (``( ) , " $ % –``). Whitespace and zero-width characters separate tokens.
    """
    tokens: list[tuple[str, int, int]] = []
    for match in _TOKEN_RE.finditer(text):
        token, start, end = match.group(), match.start(), match.end()
        clitic = _CLITIC_RE.match(token) if ("'" in token[1:] or "\u2019" in token[1:]) else None
        if clitic:
            cut = start + len(clitic.group(1))
            tokens += [(clitic.group(1), start, cut), (clitic.group(2), cut, end)]
        else:
            tokens.append((token, start, end))
    return tokens
