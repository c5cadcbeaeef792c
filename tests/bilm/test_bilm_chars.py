"""Character ids, written out by hand from the bilm-tf convention (markers 256..260, UTF-8 bytes, then +1)."""
from __future__ import annotations

import pytest
import torch

from elmo_lab.bilm import EmptyInputError, batch_to_char_ids, token_to_char_ids

PAD = 261  # 260 + 1


def _expected(body: list[int]) -> list[int]:
    """begin-of-word, body, end-of-word, padding; everything +1."""
    ids = [259] + [b + 1 for b in body] + [260]
    return ids + [PAD] * (50 - len(ids))


def test_ascii_token_exact_ids():
    assert token_to_char_ids("Hi!") == _expected([72, 105, 33])
    assert token_to_char_ids("Hi!")[:6] == [259, 73, 106, 34, 260, 261]


def test_sentence_boundary_tokens():
    assert token_to_char_ids("<S>") == [259, 257, 260] + [PAD] * 47
    assert token_to_char_ids("</S>") == [259, 258, 260] + [PAD] * 47


def test_non_ascii_is_utf8_bytes():
    # "é" is C3 A9, "€" is E2 82 AC in UTF-8
    assert token_to_char_ids("é€") == _expected([0xC3, 0xA9, 0xE2, 0x82, 0xAC])


def test_long_token_is_cut_to_48_bytes():
    ids = token_to_char_ids("a" * 60)
    assert len(ids) == 50
    assert ids == [259] + [98] * 48 + [260]
    # a multi-byte character may be split at the cut: 30 x "é" = 60 bytes, the first 48 are kept
    assert token_to_char_ids("é" * 30) == [259] + [0xC3 + 1, 0xA9 + 1] * 24 + [260]


def test_other_max_chars():
    assert token_to_char_ids("abcdef", max_chars=6) == [259, 98, 99, 100, 101, 260]


def test_batch_layout_and_padding():
    ids = batch_to_char_ids([["a", "b", "c"], ["d"]])
    assert ids.shape == (2, 5, 50) and ids.dtype == torch.long
    assert ids[0, 0].tolist() == token_to_char_ids("<S>")
    assert ids[0, 1].tolist() == token_to_char_ids("a")
    assert ids[0, 4].tolist() == token_to_char_ids("</S>")
    assert ids[1, 2].tolist() == token_to_char_ids("</S>")
    assert not ids[1, 3:].any()  # batch padding is all zeros
    no_boundaries = batch_to_char_ids([["a", "b"]], add_sentence_boundaries=False)
    assert no_boundaries.shape == (1, 2, 50) and no_boundaries[0, 0].tolist() == token_to_char_ids("a")


def test_empty_inputs_are_errors():
    with pytest.raises(EmptyInputError):
        batch_to_char_ids([])
    with pytest.raises(EmptyInputError, match="sentence 1"):
        batch_to_char_ids([["a"], []])
    with pytest.raises(EmptyInputError):
        token_to_char_ids("")
