"""Tree distances, depths, the minimum spanning tree, UUAS, the Spearman correlations averaged over sentence lengths
and root accuracy of ``elmo_lab.probing.structural``, against numbers worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from elmo_lab.probing.structural import (average_ranks, depth_spearman, depth_spearman_corpus, distance_spearman,
                                         distance_spearmans, mst_edges, predicted_root, root_correct, scored_words,
                                         tree_depths, tree_distances, uas_counts, uuas_counts)

# "The cat sat on the mat ." — The→cat, cat→sat, sat→root, on→mat, the→mat, mat→sat, .→sat
HEADS = [2, 3, 0, 6, 6, 3, 3]
XPOS = ["DT", "NN", "VBD", "IN", "DT", "NN", "."]
UPOS = ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]


def test_tree_distances_and_depths_by_hand() -> None:
    expected = np.array([  # path lengths read off the tree drawn on paper
        [0, 1, 2, 4, 4, 3, 3],
        [1, 0, 1, 3, 3, 2, 2],
        [2, 1, 0, 2, 2, 1, 1],
        [4, 3, 2, 0, 2, 1, 3],
        [4, 3, 2, 2, 0, 1, 3],
        [3, 2, 1, 1, 1, 0, 2],
        [3, 2, 1, 3, 3, 2, 0]])
    assert np.array_equal(tree_distances(HEADS), expected)
    assert tree_depths(HEADS).tolist() == [2, 1, 0, 2, 2, 1, 1]


@pytest.mark.parametrize("heads, message", [([2, 0, 9], "word 3 has head 9"), ([1, 0], "word 1 has head 1"),
                                            ([2, 1, 0], "do not form one tree"), ([0, 0], "do not form one tree")])
def test_broken_trees_are_refused(heads: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tree_distances(heads)


def test_punctuation_follows_the_ptb_tags_or_upos_without_them() -> None:
    assert scored_words(UPOS, XPOS).tolist() == [True] * 6 + [False]
    # HYPH is not among Hewitt & Manning's tags; without XPOS, UPOS PUNCT decides
    assert scored_words(["PUNCT", "PUNCT", "NOUN"], ["HYPH", "_", "_"]).tolist() == [True, False, True]


def test_minimum_spanning_tree_of_a_small_graph() -> None:
    d = np.array([[0, 1, 4, 3],
                  [1, 0, 2, 5],
                  [4, 2, 0, 6],
                  [3, 5, 6, 0]], dtype=float)
    assert mst_edges(d) == {(0, 1), (1, 2), (0, 3)}  # weights 1 + 2 + 3; every other tree weighs more
    assert mst_edges(d, np.array([True, False, True, True])) == {(0, 3), (0, 2)}  # without node 1: 3 + 4
    assert len(mst_edges(np.zeros((5, 5)))) == 4  # equal (zero) distances still give a spanning tree
    assert mst_edges(d, np.array([True, False, False, False])) == set()


def test_uuas_by_hand() -> None:
    keep = scored_words(UPOS, XPOS)
    linear = np.abs(np.subtract.outer(np.arange(7), np.arange(7))).astype(float)  # the right-branching chain
    # gold edges without "." : The-cat, cat-sat, on-mat, the-mat, mat-sat; the chain shares The-cat, cat-sat, the-mat
    assert uuas_counts(linear, HEADS, keep) == (3, 5)
    assert uuas_counts(tree_distances(HEADS) ** 2, HEADS, keep) == (5, 5)  # squared gold distances: the same MST


def test_spearman_averaged_per_length_by_hand() -> None:
    chain5, chain6 = [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5]  # each word heads the next: depths 0..n-1
    # ranks 1 3 2 5 4 against 1 2 3 4 5: sum d^2 = 4, rho = 1 - 6*4 / (5*24) = 0.8
    assert depth_spearman(np.array([0.1, 0.3, 0.2, 0.9, 0.8]), tree_depths(chain5)) == pytest.approx(0.8)
    # ranks 3 1 2 6 5 4 against 1..6: sum d^2 = 4+1+1+4+0+4 = 14, rho = 1 - 6*14 / (6*35) = 0.6
    six = np.array([0.3, 0.1, 0.2, 0.6, 0.5, 0.4])
    assert depth_spearman(six, tree_depths(chain6)) == pytest.approx(0.6)
    preds = [np.array([0.1, 0.3, 0.2, 0.9, 0.8]), np.arange(5.0), six, np.array([3.0, 2, 1, 0])]
    heads = [chain5, chain5, chain6, [0, 1, 2, 3]]
    # length 5: (0.8 + 1.0) / 2 = 0.9; length 6: 0.6; length 4 (rho -1) is outside 5..50: (0.9 + 0.6) / 2
    assert depth_spearman_corpus(preds, heads) == pytest.approx(0.75)
    assert depth_spearman_corpus(preds, heads, lengths=(4, 50)) == pytest.approx((0.9 + 0.6 - 1.0) / 3)


def test_distance_spearman_by_hand() -> None:
    chain5 = [0, 1, 2, 3, 4]
    gold = tree_distances(chain5)  # |i - j|
    predicted = gold.astype(float) ** 2
    predicted[0] = predicted[:, 0] = [0, 3, 2, 5, 4]  # word 1's row ranks 1 3 2 5 4 against 1 2 3 4 5
    rows = distance_spearmans(predicted, gold)
    assert rows[0] == pytest.approx(0.8)
    # word 5's row: gold 4 3 2 1 0, predicted 4 9 4 1 0 -> ranks 3.5 5 3.5 2 1 against 5 4 3 2 1:
    # centred 0.5 2 0.5 -1 -2 and 2 1 0 -1 -2; Pearson of the ranks = (1+2+0+1+4) / sqrt(9.5 * 10)
    assert rows[4] == pytest.approx(8 / np.sqrt(95))
    assert distance_spearman([gold ** 2], [chain5]) == pytest.approx(1.0)  # squared tree distances: exact order
    assert np.isnan(distance_spearman([tree_distances([0, 1, 2, 3])], [[0, 1, 2, 3]]))  # no length in 5..50


def test_root_accuracy_leaves_punctuation_out() -> None:
    keep = scored_words(UPOS, XPOS)
    depths = np.array([2, 1, 0.5, 2, 2, 1, 0.1])  # "." is least deep but is punctuation; then "sat", the root
    assert predicted_root(depths, keep) == 2 and root_correct(depths, HEADS, keep)
    assert not root_correct(np.array([2, 0.3, 0.5, 2, 2, 1, 0.1]), HEADS, keep)  # "cat"
    assert predicted_root(depths) == 6  # without the rule: "."


def test_uas_counts_leave_punctuation_out() -> None:
    keep = scored_words(UPOS, XPOS)
    predicted = [2, 3, 0, 5, 6, 3, 1]  # "on" wrong, "." wrong (not scored)
    assert uas_counts(predicted, HEADS, keep) == (5, 6)
    assert uas_counts(predicted, HEADS) == (5, 7)


def test_row_spearman_agrees_with_scipy() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    predicted, gold = rng.random((6, 6)), tree_distances([0, 1, 1, 2, 2, 3])  # ties in every gold row
    expected = [spearmanr(p, g).statistic for p, g in zip(predicted, gold)]
    assert distance_spearmans(predicted, gold) == pytest.approx(expected)
    assert np.isnan(depth_spearman(np.ones(4), np.arange(4)))


def test_ranks_with_ties_agree_with_scipy() -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 30):
        ties = rng.integers(0, 4, (5, n)).astype(float)  # many ties per row
        distinct = rng.normal(size=(3, n))
        for values in (ties, distinct):
            assert average_ranks(values) == pytest.approx(rankdata(values, axis=1))


def test_spanning_tree_weighs_what_scipys_minimum_spanning_tree_weighs() -> None:
    from scipy.sparse.csgraph import minimum_spanning_tree

    rng = np.random.default_rng(2)
    for trial in range(60):
        n = int(rng.integers(2, 30))
        x = rng.normal(size=(n, 4))
        d = ((x[:, None] - x[None]) ** 2).sum(-1)  # (n, n) squared distances, as the distance probe predicts
        if trial % 3 == 0:
            d = np.round(d)  # ties: the tree may differ, its weight may not
        edges = mst_edges(d)
        shifted = np.triu(d - d.min() + 1.0, k=1)  # scipy reads 0 as "no edge"
        expected = minimum_spanning_tree(shifted).sum() - (n - 1) * (1.0 - d.min())
        assert len(edges) == n - 1 and sum(d[a, b] for a, b in edges) == pytest.approx(expected)
        reached, frontier = {0}, [0]  # the edges connect every word
        while frontier:
            i = frontier.pop()
            for a, b in edges:
                for u, v in ((a, b), (b, a)):
                    if u == i and v not in reached:
                        reached.add(v)
                        frontier.append(v)
        assert reached == set(range(n))
