"""Character ids exactly as the published ELMo models expect them.

Each token becomes ``max_characters_per_token`` ids: a begin-of-word marker, the token's UTF-8 bytes, an end-of-word
marker, then padding.  The sentence tokens ``<S>`` and ``</S>`` are special: between the word markers they hold one
reserved id (256 / 257) instead of bytes.  Every id is finally shifted by +1 so that 0 can mean "no token here"
(batch padding); this is the convention the published weight files assume (their ``char_embed`` has no row for 0).
"""
from __future__ import annotations

from typing import Sequence

import torch

from elmo_lab.util.errors import UserError

MAX_CHARACTERS_PER_TOKEN = 50
BOS_CHAR = 256  # inside the <S> token
EOS_CHAR = 257  # inside the </S> token
BOW_CHAR = 258  # begin of word
EOW_CHAR = 259  # end of word
PAD_CHAR = 260  # padding inside a token
N_CHARACTERS = 262  # 261 ids + the batch-padding 0 after the +1 shift

BOS_TOKEN = "<S>"
EOS_TOKEN = "</S>"


class EmptyInputError(ValueError, UserError):
    """Raised when there is nothing to encode (no sentences, or a sentence with no tokens)."""


def _special_token_ids(char: int, max_chars: int) -> list[int]:
    ids = [PAD_CHAR] * max_chars
    ids[0], ids[1], ids[2] = BOW_CHAR, char, EOW_CHAR
    return [i + 1 for i in ids]


def token_to_char_ids(token: str, max_chars: int = MAX_CHARACTERS_PER_TOKEN) -> list[int]:
    """Return the ``max_chars`` shifted character ids of one token.

    Tokens whose UTF-8 encoding is longer than ``max_chars - 2`` bytes are cut to that many bytes (the reference
    implementations do the same; a multi-byte character may be split, which is harmless for byte-level ids).
    """
    if token == BOS_TOKEN:
        return _special_token_ids(BOS_CHAR, max_chars)
    if token == EOS_TOKEN:
        return _special_token_ids(EOS_CHAR, max_chars)
    if not token:
        raise EmptyInputError("cannot encode an empty token")
    data = token.encode("utf-8", "ignore")[: max_chars - 2]
    ids = [BOW_CHAR, *data, EOW_CHAR] + [PAD_CHAR] * (max_chars - 2 - len(data))
    return [i + 1 for i in ids]


def batch_to_char_ids(
    sentences: Sequence[Sequence[str]],
    max_chars: int = MAX_CHARACTERS_PER_TOKEN,
    add_sentence_boundaries: bool = True,
) -> torch.Tensor:
    """Encode a batch of tokenised sentences.

    # Parameters
    sentences : one list of tokens per sentence (no ``<S>``/``</S>``; they are added here when
        ``add_sentence_boundaries``).
    max_chars : characters per token, ``max_characters_per_token`` in the model options.

    # Returns
    ``LongTensor`` of shape ``(batch, max_len (+2), max_chars)``; rows shorter than the longest are padded with 0.
    """
    if len(sentences) == 0:
        raise EmptyInputError("no sentences to encode")
    for i, sentence in enumerate(sentences):
        if len(sentence) == 0:
            raise EmptyInputError(f"sentence {i} of the batch has no tokens")
    extra = 2 if add_sentence_boundaries else 0
    max_len = max(len(s) for s in sentences) + extra
    out = torch.zeros(len(sentences), max_len, max_chars, dtype=torch.long)  # (batch, time, chars)
    cache: dict[str, list[int]] = {}
    for i, sentence in enumerate(sentences):
        tokens = [BOS_TOKEN, *sentence, EOS_TOKEN] if add_sentence_boundaries else list(sentence)
        rows = []
        for token in tokens:
            ids = cache.get(token)
            if ids is None:
                ids = cache[token] = token_to_char_ids(token, max_chars)
            rows.append(ids)
        out[i, : len(rows)] = torch.tensor(rows, dtype=torch.long)
    return out
