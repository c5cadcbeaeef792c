"""The report's statistics at their edges: exact error messages, boundary values of Holm, the verdict's wording,
one seed a side, the bootstrap's seed, resample count and pairing (what the mutation score found unchecked)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from elmo_lab.metrics.examples import f1_from_counts, mean_metric
from elmo_lab.report import stats
from elmo_lab.report.stats import (accuracy_stats, holm, paired_bootstrap, seeds_needed, span_f1_stats, verdict,
                                   welch)


def test_welch_errors_and_one_seed_a_side() -> None:
    with pytest.raises(ValueError, match=re.escape("welch needs two non-empty 1-d samples, got shapes (0,) and (2,)")):
        welch([], [1, 2])
    with pytest.raises(ValueError, match=re.escape("got shapes (1, 2) and (2,)")):
        welch([[1, 2]], [1, 2])
    with pytest.raises(ValueError, match=re.escape("got shapes (2,) and (1, 2)")):
        welch([1, 2], [[1, 2]])
    for a, b in (([1.0, np.nan], [1.0, 2.0]), ([1.0, 2.0], [np.inf, 2.0])):
        with pytest.raises(ValueError, match="^welch got a non-finite score$"):
            welch(a, b)
    for a, b in (([1.0], [2.0, 3.0]), ([1.0, 2.0], [3.0])):
        one = welch(a, b)
        assert (one.se, one.df, one.p, one.ci) == (None, None, None, None)
        assert (one.n_a, one.n_b) == (len(a), len(b)) and one.diff == pytest.approx(np.mean(b) - np.mean(a))
    two = welch([1.0, 2.0], [2.0, 4.0])  # two seeds a side are enough
    assert two.p is not None and (two.n_a, two.n_b) == (2, 2)
    flat = welch([1.0, 1.0], [2.0, 2.0, 2.0])
    assert (flat.se, flat.p, flat.n_a, flat.n_b) == (0.0, None, 2, 3)
    assert welch(np.array([1, 2, 3]), np.array([2, 4, 7])).diff == pytest.approx(7 / 3)  # integer scores: no floor


def test_welch_on_a_constant_side_warns_of_nothing() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's "Precision loss" on a constant side is expected and silenced
        result = welch([0.7, 0.7, 0.7], [0.6, 0.65, 0.7])
    assert result.p is not None and 0 < result.p < 1


def test_holm_takes_the_ends_of_the_interval_and_names_a_bad_one() -> None:
    assert holm([0.0, 1.0]) == [0.0, 1.0]
    with pytest.raises(ValueError, match=re.escape("p-value 1.5 at position 1 is not in [0, 1]")):
        holm([0.2, 1.5])
    with pytest.raises(ValueError, match=re.escape("p-value nan at position 0 is not in [0, 1]")):
        holm([float("nan")])


def test_seeds_needed_for_an_exact_integer_is_that_integer() -> None:
    z = float(stats.sps.norm.ppf(0.975) + stats.sps.norm.ppf(0.8))
    diff = z * np.sqrt(2 * 1.0) / np.sqrt(7)  # n = z² · 2 / diff² = 7 exactly (up to float noise)
    assert seeds_needed(1.0, 1.0, diff) == 7


def test_seed_and_example_statistics_errors() -> None:
    bad = "stats_a must have shape (n_examples,), (n_examples, k) or (seeds, n_examples, k), non-empty; got (0,)"
    with pytest.raises(ValueError, match=re.escape(bad)):
        paired_bootstrap([], [1.0], mean_metric)
    with pytest.raises(ValueError, match=re.escape("stats_b must have shape")):
        paired_bootstrap([1.0], np.ones((1, 1, 1, 1)), mean_metric)
    with pytest.raises(ValueError, match=re.escape("got (1, 1, 1, 1)")):
        paired_bootstrap(np.ones((1, 1, 1, 1)), [1.0], mean_metric)
    with pytest.raises(ValueError, match="^stats_b holds a non-finite statistic$"):
        paired_bootstrap([1.0], [np.nan], mean_metric)
    with pytest.raises(ValueError, match="^stats_a holds a non-finite statistic$"):
        paired_bootstrap([np.inf], [1.0], mean_metric)
    with pytest.raises(ValueError, match=re.escape("both sides need the same (n_examples, k), got (2, 1) and (3, 1)")):
        paired_bootstrap([1.0, 0.0], [1.0, 0.0, 1.0], mean_metric)
    with pytest.raises(ValueError, match=re.escape("resamples must be positive, got 0")):
        paired_bootstrap([1.0], [1.0], mean_metric, resamples=0)
    one = paired_bootstrap([1.0, 0.0], [1.0, 1.0], mean_metric, resamples=1)
    assert one.resamples == 1 and 0 < one.p <= 1
    with pytest.raises(ValueError, match=re.escape("metric must reduce (..., n_examples, k) to (...): "
                                                   "stats (1, 2, 1) gave (1, 2)")):
        paired_bootstrap([1.0, 0.0], [1.0, 1.0], lambda s: s[..., 0])
    with pytest.raises(ValueError, match=re.escape("pred (..., n) and gold (n,) do not match: (3,) and (2,)")):
        accuracy_stats([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match=re.escape("do not match: (2,) and (1, 2)")):
        accuracy_stats([1, 0], [[1, 0]])
    assert accuracy_stats([1, 2], [1, 0]).dtype == float
    with pytest.raises(ValueError, match="^" + re.escape("span counts need 0 <= tp <= n_pred and tp <= n_gold") + "$"):
        span_f1_stats([2], [1], [3])
    counts = span_f1_stats(np.array([[1, 0]]), np.array([[1, 2]]), np.array([[2, 0]]))  # (1 seed, 2 sentences)
    assert counts.shape == (1, 2, 3) and counts.dtype == float and counts[0, 1].tolist() == [0.0, 2.0, 0.0]


def test_the_bootstrap_is_paired_seeded_and_counts_ties_as_extreme() -> None:
    a, b = [1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 1, 1, 1, 0]
    assert paired_bootstrap(a, b, mean_metric).resamples == 1000  # the documented default
    first = paired_bootstrap(a, b, mean_metric, resamples=200)
    assert first.seed == 0 and first == paired_bootstrap(a, b, mean_metric, resamples=200, seed=0)
    assert paired_bootstrap(a, b, mean_metric, resamples=200, seed=1).ci != first.ci
    rng = np.random.default_rng(0)  # the documented draws: rng.integers(0, n, n), the same for both sides
    idx = rng.integers(0, 8, size=(200, 8))
    deltas = np.asarray(b, float)[idx].mean(1) - np.asarray(a, float)[idx].mean(1)
    assert first.ci == pytest.approx(tuple(np.percentile(deltas, [2.5, 97.5])))
    expected_p = (1 + np.count_nonzero(np.abs(deltas - 0.25) >= 0.25 - 1e-12)) / 201
    assert first.p == pytest.approx(expected_p)
    # a difference made of whole examples: resamples land exactly on 2|δ| or 0 and count as extreme
    assert paired_bootstrap([0, 0], [1, 0], mean_metric, resamples=50).p == pytest.approx(
        (1 + np.count_nonzero(np.abs(np.array([1, 0])[np.random.default_rng(0).integers(0, 2, size=(50, 2))]
                                     .mean(1) - 0.5) >= 0.5 - 1e-12)) / 51)
    big = paired_bootstrap(np.zeros((3, 4, 3)), np.ones((2, 4, 3)), f1_from_counts, resamples=5)
    assert big.metric_a == 0.0 and big.metric_b == 1.0 and big.n_examples == 4


def test_verdict_wording_at_the_edges() -> None:
    assert verdict(0.5, 0.05, None) == "better than none (p_adj = 0.05)"
    assert verdict(-0.5, 0.01, None, baseline="input") == "worse than input (p_adj = 0.01)"
    assert verdict(0.5, 0.01, None, higher_is_better=False) == "worse than none (p_adj = 0.01)"
    assert verdict(1.0, 0.01, None) == "better than none (p_adj = 0.01)"
    assert verdict(0.0, 0.01, 3).startswith("no difference shown (p_adj = 0.01")
    assert verdict(0.0, 0.5, 4) == "no difference shown (p_adj = 0.5; ~4 seeds per side would be needed to detect +0.0)"
    assert verdict(0.5, 0.001, None) == "better than none (p_adj = 0.001)"
    assert verdict(0.5, 0.0009, None) == "better than none (p_adj < 0.001)"
    assert stats._signed(0.0) == "+0.0" and stats._signed(1.0) == "+1.0" and stats._signed(-0.012) == "-0.012"
