"""The online code's arithmetic (Voita & Titov 2020) against hand computations: block boundaries at fractions of
the tokens, cut at sentence boundaries; the uniform first block; compression."""
from __future__ import annotations

import math

import pytest

from elmo_lab.probing.mdl import MDL_FRACTIONS, block_ends, online_code, shuffled_order, uniform_bits


def test_block_ends_reach_each_fraction_of_the_tokens_at_a_sentence_boundary() -> None:
    # 10 sentences of 100 tokens: 0.1 % .. 6.25 % of 1000 tokens fall in sentence 1, 12.5 % needs 2 sentences
    # (125 tokens), 25 % 3 (250), 50 % 5, 100 % all 10
    assert block_ends([100] * 10) == [1, 2, 3, 5, 10]
    # uneven: tokens 1, 1, 2, 4, 8 (16 in all); fractions 0.25 -> 4 tokens -> 3 sentences; 0.5 -> 8 -> 4
    assert block_ends([1, 1, 2, 4, 8], fractions=(0.0625, 0.125, 0.25, 0.5, 1.0)) == [1, 2, 3, 4, 5]
    ends = block_ends([3] * 2000)  # 6000 tokens: every fraction gets its own block
    assert len(ends) == len(MDL_FRACTIONS) and ends[0] == 2 and ends[-1] == 2000  # 0.1 % = 6 tokens = 2 sentences
    assert ends[5] == 64 and ends[6] == 125  # 3.2 % = 192 tokens, 6.25 % = 375 tokens


def test_online_code_by_hand() -> None:
    # 3 labels; blocks of 4, 6 and 10 tokens; later blocks cost 5 and 3 bits
    code = online_code([4, 6, 10], [5.0, 3.0], num_labels=3)
    first = 4 * math.log2(3)
    assert code["blocks"] == [{"tokens": 4, "bits": pytest.approx(first)}, {"tokens": 6, "bits": 5.0},
                              {"tokens": 10, "bits": 3.0}]
    assert code["online_codelength_kbits"] == pytest.approx((first + 8) / 1000)
    assert code["uniform_codelength_kbits"] == pytest.approx(20 * math.log2(3) / 1000)
    assert code["compression"] == pytest.approx(20 * math.log2(3) / (first + 8))
    assert uniform_bits(8, 4) == 16.0 and uniform_bits(5, 1) == 0.0
    with pytest.raises(ValueError, match="3 blocks need 2 later code lengths"):
        online_code([4, 6, 10], [5.0], num_labels=3)


def test_the_order_is_a_permutation_fixed_by_the_seed() -> None:
    assert shuffled_order(50, 1) == shuffled_order(50, 1) != shuffled_order(50, 2)
    assert sorted(shuffled_order(50, 1)) == list(range(50))
