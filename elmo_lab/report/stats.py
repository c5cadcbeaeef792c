"""Statistics that decide whether a configuration differs from its baseline (pure functions, numpy and scipy only).

Two kinds of evidence are compared here:

* **across seeds**: each side is a handful of runs (one final score per seed).  ``welch`` tests the difference of
  the means without assuming equal variances, ``holm`` adjusts the p-values of many such comparisons against one
  baseline, ``seeds_needed`` says how many seeds a difference of the observed size would need to be detected,
  ``almost_stochastic_order`` gives the ε_min of Dror et al. (2019) where ``deepsig`` is installed;
* **across test examples**: ``paired_bootstrap`` (Berg-Kirkpatrick et al., 2012) resamples the test set, the same
  examples for both sides, and recomputes the metric from per-example sufficient statistics, so that a corpus-level
  metric such as span F1 is recomputed from resampled counts instead of averaging per-sentence scores.

``verdict`` turns the numbers into one sentence for the report.  Nothing here returns NaN for a case that cannot
be tested (too few seeds, no variance): such cases give ``None``.  Importing this module does not import torch.
"""
from __future__ import annotations

import importlib.util
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats as sps

from elmo_lab.metrics.examples import f1_from_counts, mean_metric, ratio_metric  # noqa: F401 (re-exported)

# deepsig 1.2.8 is a dependency: it requires only floors (numpy>=1.19.5, scipy>=1.6.0, tqdm, joblib, pandas>=1.3.3,
# dill, psutil), so it installs beside the project's pins without replacing torch, numpy or scipy.  Where it is
# missing anyway (an environment installed without it), ASO is left out and the report says why.
ASO_UNAVAILABLE_REASON: str | None = (
    None if importlib.util.find_spec("deepsig") is not None else
    "deepsig is not installed (`pip install deepsig` adds only deepsig, dill and psutil here), so ASO is skipped.")

Metric = Callable[[np.ndarray], np.ndarray]
_CHUNK_ELEMENTS = 1 << 24  # gathered floats per bootstrap chunk (~128 MiB), bounds the memory of one step


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


# ---------------------------------------------------------------------------------------------------- across seeds
@dataclass(frozen=True)
class Welch:
    """Welch's unequal-variance t-test of ``mean(b) - mean(a)`` (``b`` the configuration, ``a`` the baseline).

    ``se``, ``df``, ``p`` and ``ci`` are ``None`` when the test is undefined: fewer than two values on a side (no
    sample variance) or zero variance on both sides (``se == 0``: ``df`` is 0/0 and scipy's p NaN or, from rounding,
    spuriously tiny).
    """

    diff: float  # mean(b) - mean(a)
    se: float | None  # sqrt(s_a²/n_a + s_b²/n_b)
    df: float | None  # Welch–Satterthwaite degrees of freedom
    p: float | None  # two-sided
    ci: tuple[float, float] | None  # confidence interval of diff
    n_a: int
    n_b: int


def _var(x: np.ndarray) -> float:
    """Sample variance (ddof=1), exactly 0 for equal values: the mean of [0.7, 0.7, 0.7] is not exactly 0.7 in
    floating point, and the resulting variance of ~1e-33 would otherwise turn seeds that agree into p ≈ 1e-30."""
    return 0.0 if x.min() == x.max() else float(x.var(ddof=1))


def welch(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Welch:
    """Welch's t-test of ``b`` against ``a``: difference of the means, its standard error, the Welch–Satterthwaite
    ``df = se⁴ / ((s_a²/n_a)²/(n_a-1) + (s_b²/n_b)²/(n_b-1))``, the two-sided p of
    ``scipy.stats.ttest_ind(b, a, equal_var=False)`` and the interval ``diff ± t_{(1+confidence)/2, df} · se``.

    Seeds are few and configurations change the spread of the scores, so equal variances are not assumed.  Raises
    ``ValueError`` if a side is empty (there is no mean to compare)."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)  # (n_a,), (n_b,)
    if xa.ndim != 1 or xb.ndim != 1 or not xa.size or not xb.size:
        raise ValueError(f"welch needs two non-empty 1-d samples, got shapes {xa.shape} and {xb.shape}")
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        raise ValueError("welch got a non-finite score")
    n_a, n_b = xa.size, xb.size
    diff = float(xb.mean() - xa.mean())
    if n_a < 2 or n_b < 2:
        return Welch(diff, None, None, None, None, n_a, n_b)
    va, vb = _var(xa) / n_a, _var(xb) / n_b  # squared standard errors of the two means
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Welch(diff, 0.0, None, None, None, n_a, n_b)
    df = float((va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1)))
    with warnings.catch_warnings():  # scipy warns of cancellation for a constant side, whose variance is ~0 anyway
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        p = float(sps.ttest_ind(xb, xa, equal_var=False).pvalue)
    half = float(sps.t.ppf((1 + confidence) / 2, df)) * se
    return Welch(diff, se, df, p, (diff - half, diff + half), n_a, n_b)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float | None]:
    """Mean and the half-width of its t confidence interval, ``t · s / √n`` (None below two values)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), None
    return float(v.mean()), float(sps.t.ppf((1 + confidence) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values, in the input order.

    With the m given p-values sorted ascending, ``p_adj(i) = min(1, max_{j ≤ i} (m - j + 1) · p(j))`` (1-based
    ranks): rejecting every hypothesis with ``p_adj ≤ α`` is Holm's step-down procedure, which controls the
    family-wise error rate of all comparisons against one baseline under any dependence between them.  ``None``
    entries (untestable comparisons) stay ``None`` and do not count in m."""
    present = [(i, float(p)) for i, p in enumerate(pvalues) if p is not None]
    for i, p in present:
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(f"p-value {p!r} at position {i} is not in [0, 1]")
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(present, key=lambda item: item[1])):
        running = max(running, min(1.0, (m - rank) * p))  # monotone in the sorted order
        adjusted[i] = running
    return adjusted


def seeds_needed(sd_a: float | None, sd_b: float | None, diff: float | None, alpha: float = 0.05,
                 power: float = 0.8) -> int | None:
    """Seeds per side for a two-sided test at level ``alpha`` to detect a true difference ``diff`` with probability
    ``power``, by the normal approximation

        n = (z_{1-α/2} + z_{power})² · (sd_a² + sd_b²) / diff²,

    rounded up and at least 2 (the fewest seeds with a sample variance).  It is an estimate from the observed
    standard deviations, meant to say whether "no difference shown" means "no difference" or "too few seeds".
    ``None`` when ``diff`` is 0 or unknown or a standard deviation is unknown."""
    if not (_finite(diff) and _finite(sd_a) and _finite(sd_b)) or diff == 0:
        return None
    z = float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))
    n = z ** 2 * (sd_a ** 2 + sd_b ** 2) / diff ** 2
    return max(2, math.ceil(n - 1e-9))  # the tolerance keeps an exact integer from rounding up by float noise


def almost_stochastic_order(a: Sequence[float], b: Sequence[float], seed: int = 0, confidence: float = 0.95,
                            num_comparisons: int = 1, resamples: int = 1000,
                            higher_is_better: bool = True) -> float | None:
    """ε_min of the Almost Stochastic Order test (Dror et al., 2019; del Barrio et al., 2018) that ``b`` (the
    configuration) is better than ``a`` (the baseline), computed by ``deepsig.aso``.

    ε_min in [0, 1] bounds how far the score distribution of ``b`` is from stochastically dominating that of ``a``:
    below 0.5 ``b`` is (almost) stochastically better, near 0 it is better at almost every quantile.  It is an upper
    bound: 0.5 or more shows no such order, and with a few seeds a side it is often 1 in both directions
    (docs/statistics.md).  Unlike a t-test it compares whole distributions over seeds, not only their means.  ``num_comparisons``
    applies deepsig's Bonferroni correction of the confidence level.

    ``None`` when deepsig is not importable (see ``ASO_UNAVAILABLE_REASON``) or a side has fewer than two scores.
    deepsig is imported only here: it imports torch and sets joblib's loky pickler to dill for the process."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)  # (n_a,), (n_b,)
    if xa.size < 2 or xb.size < 2:
        return None
    try:
        from deepsig import aso
    except ImportError:
        return None
    if not higher_is_better:
        xa, xb = -xa, -xb
    eps = aso(xb, xa, confidence_level=confidence, num_comparisons=num_comparisons,
              num_bootstrap_iterations=resamples, num_jobs=1, show_progress=False, seed=seed)
    return float(eps)


# ------------------------------------------------------------------------------------------------ across examples
@dataclass(frozen=True)
class Bootstrap:
    """Result of a paired bootstrap over test examples: ``delta = metric_b - metric_a`` on the full test set, its
    two-sided p-value under the shifted null, the percentile confidence interval of delta, and the settings."""

    delta: float
    p: float
    ci: tuple[float, float]
    metric_a: float  # the metric of a, averaged over a's seeds
    metric_b: float
    n_examples: int
    resamples: int
    seed: int


def _as_seed_stats(stats: np.ndarray, name: str) -> np.ndarray:
    """Per-example statistics as (seeds, n_examples, k): (n,) is one statistic of one run, (n, k) k of one run."""
    x = np.asarray(stats, dtype=float)
    if x.ndim == 1:
        x = x[None, :, None]
    elif x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"{name} must have shape (n_examples,), (n_examples, k) or (seeds, n_examples, k), "
                         f"non-empty; got {np.shape(stats)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds a non-finite statistic")
    return x


def _seed_mean_metric(metric: Metric, stats: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """``metric`` of every leading index of ``stats`` (..., seeds, n, k), checked, then averaged over seeds."""
    values = np.asarray(metric(stats), dtype=float)
    if values.shape != lead:
        raise ValueError(f"metric must reduce (..., n_examples, k) to (...): stats {stats.shape} gave {values.shape}")
    return values.mean(axis=-1)  # (...) without the seed axis


def paired_bootstrap(stats_a: np.ndarray, stats_b: np.ndarray, metric: Metric, resamples: int = 1000,
                     seed: int = 0, confidence: float = 0.95) -> Bootstrap:
    """Paired bootstrap test (Berg-Kirkpatrick et al., 2012) of ``metric(b) - metric(a)`` over the test examples.

    ``stats_a`` and ``stats_b`` hold per-example sufficient statistics of the same test examples in the same order:
    shape (n_examples, k), or (seeds, n_examples, k) for several runs of a side (the two sides may have different
    numbers of seeds; (n_examples,) is k = 1).  ``metric`` reduces statistics of shape (..., n_examples, k) to one
    value per leading index, shape (...) — e.g. ``mean_metric`` for accuracy (``accuracy_stats``) or SQuAD EM/F1
    (per-question scores), ``f1_from_counts`` for span F1 (``span_f1_stats``), which recomputes F1 from the summed
    counts of the resampled sentences.  A side's value is the metric averaged over its seeds, the metric being
    computed per seed, since for ratio metrics the F1 of pooled counts is not the mean F1 of the runs.

    Resample i draws ``n_examples`` example indices with replacement, ``rng.integers(0, n, n)`` as the i-th draw of
    ``numpy.random.default_rng(seed)``, and applies the same indices to both sides (the pairing keeps the
    per-example correlation of the two systems out of the noise).  With ``δ`` the observed and ``δ*_i`` the
    resampled differences, the resamples are centred on ``δ`` to stand for the null, giving

        p = (1 + #{i : |δ*_i - δ| ≥ |δ|}) / (1 + R),

    which is 1 for identical systems and never 0; ``ci`` is the percentile interval of the δ*_i."""
    xa, xb = _as_seed_stats(stats_a, "stats_a"), _as_seed_stats(stats_b, "stats_b")  # (s_a, n, k), (s_b, n, k)
    if xa.shape[1:] != xb.shape[1:]:
        raise ValueError(f"both sides need the same (n_examples, k), got {xa.shape[1:]} and {xb.shape[1:]}")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    n = xa.shape[1]
    metric_a = float(_seed_mean_metric(metric, xa, (xa.shape[0],)))
    metric_b = float(_seed_mean_metric(metric, xb, (xb.shape[0],)))
    delta = metric_b - metric_a

    rng = np.random.default_rng(seed)
    per_resample = n * (xa.shape[0] + xb.shape[0]) * xa.shape[2]  # floats gathered for one resample
    chunk = max(1, min(resamples, _CHUNK_ELEMENTS // per_resample))
    deltas = np.empty(resamples)  # (R,)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(size, n))  # (size, n): the same examples for both sides
        sa = xa[:, idx].swapaxes(0, 1)  # (size, s_a, n, k)
        sb = xb[:, idx].swapaxes(0, 1)  # (size, s_b, n, k)
        deltas[start:start + size] = (_seed_mean_metric(metric, sb, (size, xb.shape[0]))
                                      - _seed_mean_metric(metric, sa, (size, xa.shape[0])))
    tol = 1e-12 * max(1.0, abs(delta))  # a resample equal to the observed extreme counts, despite rounding
    extreme = int(np.count_nonzero(np.abs(deltas - delta) >= abs(delta) - tol))
    p = (1 + extreme) / (1 + resamples)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(deltas, [tail, 100 - tail])
    return Bootstrap(delta, p, (float(low), float(high)), metric_a, metric_b, n, resamples, seed)


def accuracy_stats(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per-example correctness (1.0 or 0.0) for ``mean_metric``: pred (..., n_examples) against gold
    (n_examples,) → (..., n_examples, 1); a leading seed axis of ``pred`` is kept."""
    pred, gold = np.asarray(pred), np.asarray(gold)
    if pred.shape[-1:] != gold.shape or gold.ndim != 1:
        raise ValueError(f"pred (..., n) and gold (n,) do not match: {pred.shape} and {gold.shape}")
    return (pred == gold).astype(float)[..., None]


def span_f1_stats(tp: np.ndarray, n_pred: np.ndarray, n_gold: np.ndarray) -> np.ndarray:
    """Per-sentence span counts for ``f1_from_counts``: true positives, predicted spans and gold spans, each of
    shape (..., n_examples), stacked to (..., n_examples, 3)."""
    tp, n_pred, n_gold = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (tp, n_pred, n_gold)))
    if (tp < 0).any() or (tp > n_pred).any() or (tp > n_gold).any():
        raise ValueError("span counts need 0 <= tp <= n_pred and tp <= n_gold")
    return np.stack([tp, n_pred, n_gold], axis=-1)


# --------------------------------------------------------------------------------------------------------- verdict
def _signed(x: float, decimals: int | None = None) -> str:
    """``x`` with its sign and two significant digits, at least one decimal: +1.0, -0.012, +12.3."""
    if decimals is None:
        decimals = 1 if x == 0 else max(1, 1 - math.floor(math.log10(abs(x))))
    return f"{x:+.{decimals}f}"


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.2g}"


def verdict(diff: float, p_adj: float | None, needed: int | None, higher_is_better: bool = True,
            baseline: str = "none", alpha: float = 0.05, decimals: int | None = None) -> str:
    """One sentence for the report: the configuration is better or worse than ``baseline`` when its adjusted
    p-value is at most ``alpha``, else "no difference shown" with the seeds per side that ``seeds_needed`` says a
    true difference of the observed size would need, so that a missing result is not read as no effect:

        better than none (p_adj = 0.003)
        worse than none (p_adj = 0.01)
        no difference shown (p_adj = 0.41; ~14 seeds per side would be needed to detect +1.0)

    ``p_adj`` ``None`` (too few seeds or no variance) says so instead of guessing."""
    if p_adj is None:
        return f"not tested against {baseline} (needs at least 2 seeds per side and some variance)"
    if p_adj <= alpha and diff != 0:
        word = "better" if (diff > 0) == higher_is_better else "worse"
        return f"{word} than {baseline} (p_adj {_p_text(p_adj)})"
    detail = f"; ~{needed} seeds per side would be needed to detect {_signed(diff, decimals)}" if needed else ""
    return f"no difference shown (p_adj {_p_text(p_adj)}{detail})"
