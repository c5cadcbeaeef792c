"""A small, deterministic, PTB-like word tokeniser for raw English text.

Why our own: the biLM is character-based, so it only needs a *consistent* word segmentation between the
pretraining corpus (IMDB reviews) and the task data (movie-review snippets, SST trees, which are already
PTB-tokenised). A regex tokeniser keeps ``elmo_lab.data`` free of heavyweight NLP dependencies and gives the
same tokens on every platform and Python version.

Rules, applied in this order:

1. **Normalisation.** Unicode NFC; Windows-1252 control characters that leak into scraped text are mapped to
   what they stand for (``\\x91 \\x92`` -> ``'``, ``\\x93 \\x94`` -> ``"``, ``\\x96 \\x97`` -> ``--``,
   ``\\x85`` -> ``...``); typographic quotes (``‘ ’ ´`` and a backtick -> ``'``; ``“ ”`` -> ``"``), en/em
   dashes (-> ``--``) and the ellipsis character (-> ``...``) are mapped to ASCII. Case is kept.
2. **Tokens**, matched left to right by one regular expression (first alternative that matches wins):

   - dotted abbreviations: initialisms with at least two letters (``U.S.``, ``e.g.``, ``J.R.R.``) and a
     short list of titles (``Mr. Mrs. Ms. Dr. Jr. Sr. St. vs. etc. Prof. Mt.``), keeping their period;
   - numbers with internal ``. , :`` between digits (``3.5``, ``1,000``, ``10:30``) are one token;
   - words: runs of letters/digits joined by single internal hyphens or apostrophes (``R-rated``,
     ``17-year-old``, ``co-writer``, ``O'Brien``, ``doesn't``); a trailing clitic is then split off
     (rule 3);
   - a stand-alone clitic, as found in already tokenised text (``'s``, ``'re``, ``'ve``, ``'ll``, ``'d``,
     ``'m``; ``n't`` is covered by the word rule) stays one token;
   - punctuation runs: ``...`` (two or more dots), ``--`` (two or more hyphens), runs of ``!``/``?``
     (``?!``, ``!!!``) are one token each;
   - anything else that is not whitespace is a token of one character (``. , ; : " ' ( ) [ ] / $ % &``,
     ``_``, symbols, emoji). A slash therefore splits ``writer/director`` into three tokens.

3. **Clitics** (PTB convention): ``n't`` is split off a word ending in it (``doesn't`` -> ``does n't``,
   ``can't`` -> ``ca n't``, ``won't`` -> ``wo n't``), else one of ``'s 're 've 'll 'd 'm`` is split off
   (``film's`` -> ``film 's``, ``I'm`` -> ``I 'm``). Matching is case-insensitive; the pieces keep their case.
   Possessive plurals (``dogs'``) give ``dogs`` ``'``. Other contractions (``gonna``, ``cannot``) are left whole.

The tokeniser is idempotent on its own output: ``tokenize(" ".join(tokenize(s))) == tokenize(s)``, which is
what lets already tokenised sources (Rotten Tomatoes snippets, SST leaves) go through it unchanged.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["tokenize", "normalize_text"]

_CHAR_MAP = str.maketrans(
    {
        "\x91": "'", "\x92": "'", "\u2018": "'", "\u2019": "'", "\u00b4": "'", "`": "'",
        "\x93": '"', "\x94": '"', "\u201c": '"', "\u201d": '"',
        "\x96": " -- ", "\x97": " -- ", "\u2013": " -- ", "\u2014": " -- ",
        "\x85": " ... ", "\u2026": " ... ",
    }
)

_TITLES = r"(?:Mr|Mrs|Ms|Dr|Jr|Sr|St|vs|etc|Prof|Mt)\."
_TOKEN_RE = re.compile(
    rf"""
    (?<![^\W_])(?:{_TITLES}|(?:[^\W\d_]\.){{2,}})  # abbreviations: Mr. / U.S. / e.g.
    | \d+(?:[.,:]\d+)+                             # 3.5  1,000  10:30
    | [^\W_]+(?:['-][^\W_]+)*                      # words, hyphenated words, internal apostrophes
    | '(?:s|re|ve|ll|d|m)(?![^\W_])                # stand-alone clitic from tokenised text
    | \.{{2,}} | -{{2,}} | [!?]+                      # ...  --  ?!
    | \S                                           # any other single character
    """,
    re.VERBOSE | re.IGNORECASE,
)
_NT_RE = re.compile(r"^(.+?)(n't)$", re.IGNORECASE)
_CLITIC_RE = re.compile(r"^(.+?)('(?:s|re|ve|ll|d|m))$", re.IGNORECASE)


def normalize_text(text: str) -> str:
    """Apply rule 1 of the module docstring (NFC, cp1252 leftovers, typographic quotes/dashes)."""
    return unicodedata.normalize("NFC", text).translate(_CHAR_MAP)


def _split_clitic(token: str) -> list[str]:
    match = _NT_RE.match(token) or _CLITIC_RE.match(token)
    return [match.group(1), match.group(2)] if match else [token]


def tokenize(text: str) -> list[str]:
    """Split raw English ``text`` into word tokens (see the module docstring for the rules).

    Returns an empty list for empty or whitespace-only text. Deterministic and case-preserving.
    """
    tokens: list[str] = []
    for token in _TOKEN_RE.findall(normalize_text(text)):
        tokens.extend(_split_clitic(token) if "'" in token[1:] else [token])
    return tokens
