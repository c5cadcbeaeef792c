"""Statistics of ``elmo_lab.report.stats``: Welch against scipy, Holm against its step-down definition, the
seeds-needed formula, the paired bootstrap (null case, McNemar-like cases, corpus-level F1 from resampled counts,
the per-seed average, determinism), ASO where deepsig is installed, and the verdict sentences."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from elmo_lab.report import stats
from elmo_lab.report.stats import (accuracy_stats, almost_stochastic_order, f1_from_counts, holm, mean_metric,
                                   paired_bootstrap, seeds_needed, span_f1_stats, verdict, welch)

BASE = [0.701, 0.712, 0.695, 0.708, 0.703]
CONF = [0.721, 0.735, 0.718, 0.740, 0.726, 0.731]


# ---------------------------------------------------------------------------------------------------------- welch
def test_welch_matches_scipy() -> None:
    w = welch(BASE, CONF)
    ref = sps.ttest_ind(CONF, BASE, equal_var=False)
    assert w.diff == pytest.approx(np.mean(CONF) - np.mean(BASE))
    assert w.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert w.df == pytest.approx(ref.df, rel=1e-10)
    low, high = ref.confidence_interval(0.95)
    assert w.ci == pytest.approx((low, high), rel=1e-10)
    assert w.se == pytest.approx(math.sqrt(np.var(BASE, ddof=1) / 5 + np.var(CONF, ddof=1) / 6))
    assert (w.n_a, w.n_b) == (5, 6)
    # b is the configuration: swapping the sides flips the sign, not the p-value
    swapped = welch(CONF, BASE)
    assert swapped.diff == pytest.approx(-w.diff) and swapped.p == pytest.approx(w.p)
    assert swapped.ci == pytest.approx((-high, -low))


def test_welch_other_confidence_matches_scipy() -> None:
    w = welch([1.0, 2.0, 4.0], [3.0, 5.0, 4.5, 7.0], confidence=0.9)
    ref = sps.ttest_ind([3.0, 5.0, 4.5, 7.0], [1.0, 2.0, 4.0], equal_var=False).confidence_interval(0.9)
    assert w.ci == pytest.approx((ref.low, ref.high), rel=1e-10)


def test_welch_untestable_cases_give_none_not_nan() -> None:
    one = welch([0.7], CONF)
    assert one.diff == pytest.approx(np.mean(CONF) - 0.7)
    assert (one.se, one.df, one.p, one.ci) == (None, None, None, None)
    flat = welch([0.7, 0.7, 0.7], [0.8, 0.8])
    assert flat.diff == pytest.approx(0.1) and flat.se == 0.0
    assert (flat.df, flat.p, flat.ci) == (None, None, None)
    half_flat = welch([0.7, 0.7, 0.7], [0.8, 0.9])  # zero variance on one side only is still a Welch test
    with pytest.warns(RuntimeWarning, match="Precision loss"):  # scipy's own; welch keeps it quiet
        ref = sps.ttest_ind([0.8, 0.9], [0.7] * 3, equal_var=False)
    assert half_flat.p == pytest.approx(ref.pvalue) and half_flat.df == pytest.approx(1.0)
    assert half_flat.ci == pytest.approx((ref.confidence_interval().low, ref.confidence_interval().high))
    with pytest.raises(ValueError):
        welch([], CONF)


# ----------------------------------------------------------------------------------------------------------- holm
def test_holm_hand_computed() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> raised to 0.06 by monotonicity
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])
    assert holm([0.9, 0.6, 0.01]) == [1.0, 1.0, pytest.approx(0.03)]  # capped at 1
    assert holm([]) == []


def test_holm_none_stays_none_and_is_not_counted() -> None:
    assert holm([None, 0.01, None, 0.04]) == [None, pytest.approx(0.02), None, pytest.approx(0.04)]
    assert holm([None]) == [None]
    with pytest.raises(ValueError):
        holm([0.1, float("nan")])
    with pytest.raises(ValueError):
        holm([1.5])


def _holm_rejects(pvalues: list[float], alpha: float) -> set[int]:
    """Holm's step-down procedure by its definition: walk the sorted p-values, reject while p(j) ≤ α/(m-j+1)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = set()
    for j, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - j):
            break
        rejected.add(i)
    return rejected


def test_holm_agrees_with_step_down_definition() -> None:
    rng = np.random.default_rng(0)
    alphas = np.linspace(0.001, 0.999, 400)  # at α = 1 the cap makes every p_adj ≤ α
    for m in (1, 2, 3, 5, 8):
        for _ in range(20):
            p = list(rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 2))
            adj = holm(p)
            for alpha in alphas:  # p_adj is the smallest α at which the procedure rejects the hypothesis
                assert {i for i, q in enumerate(adj) if q <= alpha} == _holm_rejects(p, alpha)
            order = np.argsort(p)
            assert np.all(np.diff(np.asarray(adj)[order]) >= 0)  # monotone in the order of the raw p-values
            assert all(a >= b for a, b in zip(adj, p)) and max(adj) <= 1.0


# ---------------------------------------------------------------------------------------------------- seeds_needed
def test_seeds_needed_formula() -> None:
    # (1.959964 + 0.841621)² · (0.01² + 0.02²) / 0.01² = 7.848869 · 5 = 39.24 -> 40
    assert seeds_needed(0.01, 0.02, 0.01) == 40
    assert seeds_needed(0.01, 0.02, -0.01) == 40  # the sign does not matter
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.9)
    assert seeds_needed(1.0, 1.0, 0.5, power=0.9) == math.ceil(z ** 2 * 2 / 0.25)
    assert seeds_needed(0.001, 0.001, 1.0) == 2  # at least two seeds
    assert seeds_needed(0.0, 0.0, 1.0) == 2
    assert seeds_needed(0.01, 0.02, 0.0) is None
    assert seeds_needed(None, 0.02, 0.01) is None
    assert seeds_needed(0.01, float("nan"), 0.01) is None


# ------------------------------------------------------------------------------------------------ paired bootstrap
def _paired_accuracy(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Correctness of two systems on one test set from the four cells of the McNemar table, shuffled."""
    a = np.array([1] * both + [1] * only_a + [0] * only_b + [0] * neither)
    b = np.array([1] * both + [0] * only_a + [1] * only_b + [0] * neither)
    order = np.random.default_rng(1).permutation(a.size)
    gold = np.zeros(a.size, dtype=int)
    return accuracy_stats(1 - a[order], gold), accuracy_stats(1 - b[order], gold)  # pred 0 is right


def test_bootstrap_identical_systems() -> None:
    a, _ = _paired_accuracy(600, 50, 50, 300)
    result = paired_bootstrap(a, a.copy(), mean_metric, resamples=200, seed=3)
    assert result.delta == 0.0 and result.p == 1.0 and result.ci == (0.0, 0.0)
    assert (result.n_examples, result.resamples, result.seed) == (1000, 200, 3)


@pytest.mark.parametrize("only_a, only_b", [(30, 60), (30, 40), (20, 60), (2, 3)])
def test_bootstrap_accuracy_agrees_with_exact_mcnemar(only_a: int, only_b: int) -> None:
    a, b = _paired_accuracy(650, only_a, only_b, 1000 - 650 - only_a - only_b)
    result = paired_bootstrap(a, b, mean_metric, resamples=4000, seed=0)
    assert result.metric_a == pytest.approx((650 + only_a) / 1000)
    assert result.delta == pytest.approx((only_b - only_a) / 1000)
    assert result.ci[0] < result.delta < result.ci[1]
    exact = sps.binomtest(only_b, only_a + only_b, 0.5).pvalue  # McNemar's exact test on the discordant pairs
    assert (result.p < 0.05) == (exact < 0.05)
    if exact > 1e-3:  # below that the bootstrap's resolution 1/(1+R) and the normal tail part ways
        assert 0.3 < result.p / exact < 3
    else:
        assert result.p < 0.01 and result.ci[0] > 0
    if only_a + only_b < 10:
        assert result.p > 0.5  # few discordant pairs: nothing shown


def test_bootstrap_span_f1_is_recomputed_from_counts() -> None:
    # a: one short sentence right, a long one half right; b: the reverse.  Per-sentence F1 averages differ in sign
    # from corpus-level F1, so averaging per-sentence F1 would give the wrong delta (and the wrong side).
    a = span_f1_stats(tp=[1, 5, 0], n_pred=[1, 10, 0], n_gold=[1, 10, 1])
    b = span_f1_stats(tp=[0, 9, 0], n_pred=[1, 10, 0], n_gold=[1, 10, 1])
    assert f1_from_counts(a) == pytest.approx(12 / 23) and f1_from_counts(b) == pytest.approx(18 / 23)
    per_sentence = lambda s: np.mean([2 * t / (p + g) if p + g else 0.0 for t, p, g in s])  # noqa: E731
    assert per_sentence(b) - per_sentence(a) < 0 < f1_from_counts(b) - f1_from_counts(a)
    result = paired_bootstrap(a, b, f1_from_counts, resamples=300, seed=5)
    assert result.delta == pytest.approx(6 / 23)
    assert (result.metric_a, result.metric_b) == (pytest.approx(12 / 23), pytest.approx(18 / 23))


def test_bootstrap_resamples_match_a_loop_over_examples() -> None:
    """Every resample recomputes F1 from the summed counts of the resampled sentences, the same ones for both."""
    rng = np.random.default_rng(11)
    gold = rng.integers(0, 4, 50)
    pred_a, pred_b = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    a = span_f1_stats(np.minimum(gold, pred_a) * rng.integers(0, 2, 50), pred_a, gold)
    b = span_f1_stats(np.minimum(gold, pred_b), pred_b, gold)
    result = paired_bootstrap(a, b, f1_from_counts, resamples=250, seed=7)
    draws = np.random.default_rng(7)
    deltas = []
    for _ in range(250):
        idx = draws.integers(0, 50, 50)
        fa = 2 * a[idx, 0].sum() / (a[idx, 1].sum() + a[idx, 2].sum())
        fb = 2 * b[idx, 0].sum() / (b[idx, 1].sum() + b[idx, 2].sum())
        deltas.append(fb - fa)
    deltas = np.array(deltas)
    assert result.ci == pytest.approx(tuple(np.percentile(deltas, [2.5, 97.5])))
    extreme = np.count_nonzero(np.abs(deltas - result.delta) >= abs(result.delta) - 1e-12)
    assert result.p == pytest.approx((1 + extreme) / 251)


def test_bootstrap_averages_the_metric_over_seeds() -> None:
    # two seeds of a with very different sizes of prediction sets: mean of per-seed F1 != F1 of pooled counts
    a = np.stack([span_f1_stats([2, 2], [2, 2], [4, 4]), span_f1_stats([4, 4], [40, 40], [4, 4])])  # (2, 2, 3)
    b = span_f1_stats([3, 3], [4, 4], [4, 4])[None]  # (1, 2, 3): one seed on the other side is fine
    per_seed = (2 * 4 / 12 + 2 * 8 / 88) / 2
    pooled = 2 * 12 / (84 + 16)
    assert per_seed != pytest.approx(pooled)
    result = paired_bootstrap(a, b, f1_from_counts, resamples=100, seed=0)
    assert result.metric_a == pytest.approx(per_seed)
    assert result.delta == pytest.approx(0.75 - per_seed)
    # accuracy with a seed axis from accuracy_stats
    gold = np.array([0, 1, 1, 0])
    seeds = accuracy_stats(np.array([[0, 1, 1, 0], [0, 0, 0, 0]]), gold)  # (2, 4, 1)
    assert seeds.shape == (2, 4, 1)
    assert paired_bootstrap(seeds, seeds[:1], mean_metric, resamples=10).metric_a == pytest.approx(0.75)


def test_bootstrap_is_deterministic_by_seed() -> None:
    a, b = _paired_accuracy(500, 40, 55, 405)
    first = paired_bootstrap(a, b, mean_metric, resamples=500, seed=42)
    assert paired_bootstrap(a, b, mean_metric, resamples=500, seed=42) == first
    assert paired_bootstrap(a, b, mean_metric, resamples=500, seed=43) != first
    assert paired_bootstrap(a[:, 0], b[:, 0], mean_metric, resamples=500, seed=42) == first  # (n,) is k = 1


def test_bootstrap_on_a_squad_sized_test_set() -> None:
    a, b = _paired_accuracy(7000, 900, 1000, 1100)  # 10k examples
    result = paired_bootstrap(a, b, mean_metric, resamples=1000, seed=0)
    assert result.p < 0.05 and result.n_examples == 10000


def test_bootstrap_rejects_bad_input() -> None:
    a, b = _paired_accuracy(10, 2, 2, 6)
    with pytest.raises(ValueError):
        paired_bootstrap(a, b[:-1], mean_metric)
    with pytest.raises(ValueError):
        paired_bootstrap(a, b, lambda s: float(s.mean()))  # does not keep the leading axes
    with pytest.raises(ValueError):
        paired_bootstrap(a, b, mean_metric, resamples=0)
    with pytest.raises(ValueError):
        span_f1_stats([2], [1], [3])
    with pytest.raises(ValueError):
        mean_metric(np.zeros((4, 3)))


def test_f1_from_counts_without_spans_is_zero() -> None:
    assert f1_from_counts(span_f1_stats([0, 0], [0, 0], [0, 0])) == 0.0


# ------------------------------------------------------------------------------------------------------------ ASO
def test_aso_none_without_deepsig(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "deepsig", None)  # makes `from deepsig import aso` raise ImportError
    assert almost_stochastic_order(BASE, CONF) is None


def test_aso_none_with_too_few_scores() -> None:
    assert almost_stochastic_order([0.7], CONF) is None


def test_aso_with_deepsig() -> None:
    import deepsig  # noqa: F401  (a dependency of the package: never skipped)

    assert stats.ASO_UNAVAILABLE_REASON is None
    # 200 bootstrap resamples instead of the report's 1,000 (seconds per call): the same ε_min on these scores
    # (0.0 and 0.998 either way, 2026-12-08); the report's own default runs in tests/report/test_report_aso.py
    better = almost_stochastic_order(BASE, CONF, seed=1, resamples=200)
    assert better is not None and better < 0.2
    assert almost_stochastic_order(CONF, BASE, seed=1, resamples=200) > 0.8
    assert almost_stochastic_order(BASE, CONF, seed=1, resamples=200) == better  # seeded
    assert almost_stochastic_order(CONF, BASE, seed=1, higher_is_better=False, resamples=200) < 0.2


def test_aso_reason_is_one_sentence_when_unavailable() -> None:
    reason = stats.ASO_UNAVAILABLE_REASON
    assert reason is None or (reason.endswith(".") and reason.count(". ") == 0)


# -------------------------------------------------------------------------------------------------------- verdict
def test_verdict_strings() -> None:
    assert verdict(0.02, 0.003, None) == "better than none (p_adj = 0.003)"
    assert verdict(-0.02, 0.01, 12) == "worse than none (p_adj = 0.01)"
    assert verdict(1.0, 0.41, 14) == "no difference shown (p_adj = 0.41; ~14 seeds per side would be needed to detect +1.0)"
    assert verdict(-0.012, 0.2, 30) == ("no difference shown (p_adj = 0.2; ~30 seeds per side would be needed to "
                                        "detect -0.012)")
    assert verdict(0.0, 1.0, None) == "no difference shown (p_adj = 1)"
    assert verdict(0.02, 0.0004, None, baseline="top") == "better than top (p_adj < 0.001)"
    # lower is better (perplexity): a smaller value is an improvement
    assert verdict(-3.0, 0.02, None, higher_is_better=False) == "better than none (p_adj = 0.02)"
    assert verdict(3.0, 0.02, None, higher_is_better=False) == "worse than none (p_adj = 0.02)"
    assert verdict(0.5, 0.2, 9, decimals=3).endswith("detect +0.500)")
    assert verdict(0.02, None, None).startswith("not tested against none")


def test_verdict_from_welch_holm_and_seeds_needed() -> None:
    w = welch(BASE, CONF)
    (p_adj,) = holm([w.p])
    assert verdict(w.diff, p_adj, seeds_needed(np.std(BASE, ddof=1), np.std(CONF, ddof=1), w.diff)) \
        .startswith("better than none (p_adj ")


def test_import_does_not_load_torch() -> None:
    code = "import sys, elmo_lab.report.stats; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
