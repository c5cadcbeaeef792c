"""What the structural probe (Hewitt & Manning 2019) and the arc probes are scored with: tree distances and depths
from a sentence's heads, the minimum spanning tree over predicted distances, UUAS, the distance and depth Spearman
correlations averaged over sentence lengths, root accuracy (numpy and scipy only).

The rules are the paper's evaluation code's:

* **punctuation** is left out of the trees scored by UUAS and of the root choice: a word whose PTB XPOS is one of
  ``'' , . : `` -LRB- -RRB-`` (``PTB_PUNCTUATION``); a treebank without PTB tags (XPOS ``_`` or empty) falls back to
  its UPOS ``PUNCT``;
* **UUAS**: the gold tree and the predicted tree are both minimum spanning trees over the non-punctuation words (of
  the gold tree distances and of the predicted distances); UUAS = shared undirected edges / gold edges, summed over
  the corpus;
* **DSpr.**: for each word, the Spearman correlation between its predicted and gold distances to every word of the
  sentence (itself included); averaged over all words of the sentences of each length, then over the lengths
  5–50; **NSpr.** (depth): one Spearman correlation per sentence between predicted and gold depths, averaged the same
  way.  A constant row has no correlation and is left out (the paper's code would return NaN);
* **root accuracy**: the share of sentences whose least deep non-punctuation word (by the predicted depths) is the
  gold root.
"""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

PTB_PUNCTUATION = frozenset({"''", ",", ".", ":", "``", "-LRB-", "-RRB-"})
SPEARMAN_LENGTHS = (5, 50)  # the sentence lengths (inclusive) DSpr. and NSpr. average over


def is_punctuation(upos: str, xpos: str) -> bool:
    """Hewitt & Manning's punctuation: a PTB punctuation XPOS, or UPOS ``PUNCT`` where there is no XPOS."""
    if xpos and xpos != "_":
        return xpos in PTB_PUNCTUATION
    return upos == "PUNCT"


def scored_words(upos: Sequence[str], xpos: Sequence[str]) -> np.ndarray:
    """(n,) bool: the words UUAS, UAS and root accuracy score (True = not punctuation)."""
    return np.array([not is_punctuation(u, x) for u, x in zip(upos, xpos)], dtype=bool)


def _check_heads(heads: Sequence[int]) -> None:
    """``ValueError`` for a head outside the sentence or a word that heads itself."""
    n = len(heads)
    bad = [(i + 1, h) for i, h in enumerate(heads) if not 0 <= h <= n or h == i + 1]
    if bad:
        word, head = bad[0]
        raise ValueError(f"word {word} has head {head}; expected 0 (root) or another word in 1..{n}")


def _paths(heads: Sequence[int], with_root: bool) -> np.ndarray:
    """Path lengths (in arcs) between the nodes of the tree ``heads``: the words alone (n, n), or the root node 0
    and the words (n + 1, n + 1); ``ValueError`` unless the arcs form one tree (one root word, no cycle).  Read-only
    and computed once per tree: every evaluation pass scores the same gold trees again (scipy's checks cost ~0.5 ms
    a sentence)."""
    return _tree_paths(tuple(int(h) for h in heads), bool(with_root))


@lru_cache(maxsize=1 << 16)
def _tree_paths(heads: tuple[int, ...], with_root: bool) -> np.ndarray:
    _check_heads(heads)
    n, shift = len(heads), int(with_root)
    arcs = [(i + 1, h) for i, h in enumerate(heads) if with_root or h > 0]  # (word, head), 1-based
    rows = np.array([a for a, _ in arcs], dtype=int) - 1 + shift
    cols = np.array([h for _, h in arcs], dtype=int) - 1 + shift
    graph = coo_matrix((np.ones(len(arcs)), (rows, cols)), shape=(n + shift, n + shift))
    lengths = shortest_path(graph, method="D", directed=False, unweighted=True)
    if not np.isfinite(lengths).all() or sum(h == 0 for h in heads) != 1:
        raise ValueError(f"heads {list(heads)} do not form one tree (expected one word with head 0 and no cycle)")
    out = lengths.astype(int)
    out.flags.writeable = False
    return out


def tree_distances(heads: Sequence[int]) -> np.ndarray:
    """(n, n) number of arcs on the path between each two words of the dependency tree ``heads`` (1-based, 0 =
    root)."""
    return _paths(heads, with_root=False)


def tree_depths(heads: Sequence[int]) -> np.ndarray:
    """(n,) arcs between each word and the root word (the root word has depth 0)."""
    return _paths(heads, with_root=True)[0, 1:] - 1


def mst_edges(distances: np.ndarray, keep: np.ndarray | None = None) -> set[tuple[int, int]]:
    """Undirected edges ``(i, j)``, ``i < j`` (sentence positions), of a minimum spanning tree over the words
    ``keep`` (all by default) under the symmetric ``distances`` (n, n) (the upper triangle is read).

    Prim's algorithm on the dense matrix, by hand: one numpy step per word, O(k²) in all.  scipy's
    ``minimum_spanning_tree`` builds and validates a sparse graph first (~0.7 ms a sentence, most of a structural
    probe's evaluation: every dev pass scores ~2,000 sentences per probe); this is ~10× faster.  Ties go to the
    word nearer the start of the sentence."""
    n = distances.shape[0]
    index = np.flatnonzero(np.ones(n, dtype=bool) if keep is None else keep)  # (k,)
    k = len(index)
    if k < 2:
        return set()
    sub = np.triu(np.asarray(distances, dtype=float)[np.ix_(index, index)], k=1)  # (k, k): each pair once
    weights = sub + sub.T  # (k, k), symmetric
    reached = np.zeros(k, dtype=bool)  # (k,): in the tree so far
    reached[0] = True
    best = weights[0].copy()  # (k,): the cheapest arc from the tree to each word
    parent = np.zeros(k, dtype=int)  # (k,): that arc's end in the tree
    edges = set()
    for _ in range(k - 1):
        j = int(np.argmin(np.where(reached, np.inf, best)))
        a, b = int(index[parent[j]]), int(index[j])
        edges.add((a, b) if a < b else (b, a))
        reached[j] = True
        closer = weights[j] < best  # (k,)
        best = np.where(closer, weights[j], best)
        parent = np.where(closer, j, parent)
    return edges


def uuas_counts(predicted: np.ndarray, heads: Sequence[int], keep: np.ndarray | None = None) -> tuple[int, int]:
    """(gold edges found in the predicted tree, gold edges) of one sentence: both trees are minimum spanning trees
    over the words ``keep`` (predicted distances (n, n); gold tree distances from ``heads``)."""
    gold = gold_tree_edges(heads, keep)
    return len(gold & mst_edges(predicted, keep)), len(gold)


def gold_tree_edges(heads: Sequence[int], keep: np.ndarray | None = None) -> frozenset[tuple[int, int]]:
    """The minimum spanning tree over the words ``keep`` of the gold tree distances of ``heads`` (``mst_edges``;
    computed once per tree and word selection)."""
    kept = None if keep is None else tuple(bool(k) for k in keep)
    return _gold_edges(tuple(int(h) for h in heads), kept)


@lru_cache(maxsize=1 << 16)
def _gold_edges(heads: tuple[int, ...], keep: tuple[bool, ...] | None) -> frozenset[tuple[int, int]]:
    return frozenset(mst_edges(tree_distances(heads), None if keep is None else np.array(keep, dtype=bool)))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """The ranks (1-based) of each row of ``values`` (rows, n), ties given their mean rank: what
    ``scipy.stats.rankdata(values, axis=1)`` gives, without its per-call checks (~0.2 ms, twice per sentence of a
    structural probe's every evaluation)."""
    rows, n = values.shape
    order = np.argsort(values, axis=1, kind="stable")  # (rows, n)
    ordered = np.take_along_axis(values, order, axis=1)  # (rows, n)
    starts = np.ones((rows, n), dtype=bool)  # (rows, n): where a run of equal values begins
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = np.cumsum(starts.ravel()) - 1  # (rows * n,): a run's id, over all rows
    first = np.flatnonzero(starts.ravel())  # (runs,): where each run begins (flat)
    sizes = np.diff(np.append(first, rows * n))  # (runs,)
    mean_rank = (first % n) + (sizes + 1) / 2.0  # (runs,): 1-based, the mean of the run's positions
    ranks = np.empty((rows, n), dtype=float)
    np.put_along_axis(ranks, order, mean_rank[group].reshape(rows, n), axis=1)
    return ranks


def _row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row of ``a`` with the same row of ``b`` (rows, n) → (rows,): the Pearson correlation of
    their ranks (ties get their mean rank, as ``scipy.stats.spearmanr``); NaN where a row is constant."""
    ranks_a = average_ranks(a)  # (rows, n)
    ranks_b = average_ranks(b)  # (rows, n)
    ranks_a -= ranks_a.mean(axis=1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=1, keepdims=True)
    scale = np.sqrt((ranks_a ** 2).sum(axis=1) * (ranks_b ** 2).sum(axis=1))  # (rows,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, (ranks_a * ranks_b).sum(axis=1) / scale, np.nan)


def distance_spearmans(predicted: np.ndarray, gold: np.ndarray) -> list[float]:
    """One ρ per word: its row of predicted distances (n, n) against its row of gold distances (n, n)."""
    return _row_spearman(np.asarray(predicted, float), np.asarray(gold, float)).tolist()


def depth_spearman(predicted: np.ndarray, gold: np.ndarray) -> float:
    """ρ between a sentence's predicted depths (n,) and its gold depths (n,)."""
    return float(_row_spearman(np.asarray(predicted, float)[None], np.asarray(gold, float)[None])[0])


def mean_over_lengths(by_length: dict[int, Iterable[float]], lengths: tuple[int, int] = SPEARMAN_LENGTHS) -> float:
    """The mean over sentence lengths ``lengths[0]..lengths[1]`` (those present) of the mean ρ of each length; NaN
    values are left out; NaN when no length in range has a value."""
    low, high = lengths
    means = []
    for length, values in by_length.items():
        finite = [v for v in values if not np.isnan(v)]
        if low <= length <= high and finite:
            means.append(float(np.mean(finite)))
    return float(np.mean(means)) if means else float("nan")


def distance_spearman(predicted: Sequence[np.ndarray], heads: Sequence[Sequence[int]],
                      lengths: tuple[int, int] = SPEARMAN_LENGTHS) -> float:
    """DSpr. of a corpus: predicted distance matrices and gold heads, one per sentence."""
    by_length: dict[int, list[float]] = defaultdict(list)
    for p, h in zip(predicted, heads):
        by_length[len(h)] += distance_spearmans(p, tree_distances(h))
    return mean_over_lengths(by_length, lengths)


def depth_spearman_corpus(predicted: Sequence[np.ndarray], heads: Sequence[Sequence[int]],
                          lengths: tuple[int, int] = SPEARMAN_LENGTHS) -> float:
    """NSpr. of a corpus: predicted depths and gold heads, one per sentence."""
    by_length: dict[int, list[float]] = defaultdict(list)
    for p, h in zip(predicted, heads):
        by_length[len(h)].append(depth_spearman(p, tree_depths(h)))
    return mean_over_lengths(by_length, lengths)


def predicted_root(depths: np.ndarray, keep: np.ndarray | None = None) -> int:
    """The least deep word (0-based) among ``keep`` (all words when none is kept)."""
    depths = np.asarray(depths, dtype=float)
    if keep is None or not np.any(keep):
        return int(np.argmin(depths))
    return int(np.flatnonzero(keep)[np.argmin(depths[keep])])


def root_correct(depths: np.ndarray, heads: Sequence[int], keep: np.ndarray | None = None) -> bool:
    """Whether the least deep non-punctuation word is the gold root (the word whose head is 0)."""
    return predicted_root(depths, keep) == list(heads).index(0)


def uas_counts(predicted_heads: Sequence[int], heads: Sequence[int], keep: np.ndarray | None = None) -> tuple[int, int]:
    """(words whose predicted head is right, words) over the words ``keep`` (heads 1-based, 0 = root)."""
    scored = np.ones(len(heads), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    right = np.asarray(predicted_heads) == np.asarray(heads)
    return int((right & scored).sum()), int(scored.sum())
