"""Layer analyses of a scalar mix, as plain numbers (no torch: the training side writes them into ``results.json``,
the report reads and recomputes them).

- **Center of gravity** (Tenney, Das & Pavlick 2019, "BERT rediscovers the classical NLP pipeline"):
  ``E_s[ℓ] = Σ_ℓ ℓ · s_ℓ`` of a mix's softmax weights ``s`` (layer 0 = the token layer): the layer a task reads
  "on average".
- **Norm-weighted shares** (Fayyaz et al. 2021, following Kobayashi et al. 2020): the raw weights mislead when the
  layers' norms differ — a layer with a small weight but a large norm still dominates ``γ · Σ s_ℓ h_ℓ``.  Each layer's
  share is ``s_ℓ · m_ℓ / Σ_k s_k · m_k`` with ``m_ℓ`` the mean over the tokens of an evaluation split of ``‖h_ℓ‖₂``
  (the vector the mix weighs: after the layer normalisation when ``elmo.layer_norm``).  That is the mean token norm
  of each term ``s_ℓ h_ℓ`` (``s_ℓ ≥ 0``), normalised to sum to 1; ``γ`` scales every term alike and cancels.  A ratio
  of means rather than a mean of per-token ratios: it is the share of the summed magnitude that each layer brings
  over the split, and long or short tokens' vectors count by their size, as they do in the mix.
- **Cumulative scoring** (Tenney et al. 2019): with ``score(0..ℓ)`` the score of a probe on the learned mix of layers
  ``0..ℓ``, ``Δ(ℓ) = score(0..ℓ) − score(0..ℓ−1)`` for ``ℓ ≥ 1`` and ``E_Δ = Σ ℓ Δ(ℓ) / Σ Δ(ℓ)``: the layer at which,
  on average, the score is gained.
"""
from __future__ import annotations

from typing import Mapping, Sequence


def center_of_gravity(weights: Sequence[float]) -> float:
    """``Σ_ℓ ℓ · w_ℓ / Σ_ℓ w_ℓ`` (``w`` = the mix's ``s``, which sums to 1; normalised anyway so that rounded
    weights give the same layer)."""
    total = float(sum(weights))
    if total <= 0:
        raise ValueError(f"weights must have a positive sum, got {list(weights)}")
    return sum(layer * float(w) for layer, w in enumerate(weights)) / total


def norm_shares(weights: Sequence[float], mean_norms: Sequence[float]) -> list[float]:
    """Each layer's share ``s_ℓ · m_ℓ / Σ_k s_k · m_k`` of the mix's magnitude (``m_ℓ``: mean token norm of layer
    ``ℓ``); all zeros when every term is zero."""
    if len(weights) != len(mean_norms):
        raise ValueError(f"{len(weights)} weights but {len(mean_norms)} layer norms")
    terms = [abs(float(s)) * float(m) for s, m in zip(weights, mean_norms)]
    total = sum(terms)
    return [t / total for t in terms] if total > 0 else [0.0] * len(terms)


def cumulative_deltas(scores: Mapping[int, float]) -> dict[int, float]:
    """``{ℓ: score(0..ℓ) − score(0..ℓ−1)}`` for ``ℓ = 1 .. max``; ``scores`` must hold every ``ℓ`` from 0."""
    top = max(scores)
    missing = [layer for layer in range(top + 1) if layer not in scores]
    if missing:
        raise ValueError(f"cumulative scores need every layer 0..{top}; missing {missing}")
    return {layer: float(scores[layer]) - float(scores[layer - 1]) for layer in range(1, top + 1)}


def delta_center_of_gravity(scores: Mapping[int, float]) -> float | None:
    """``E_Δ = Σ ℓ Δ(ℓ) / Σ Δ(ℓ)`` from the cumulative scores ``{ℓ: score(0..ℓ)}``; None when the scores do not
    grow overall (``Σ Δ ≤ 0``: no layer adds anything to find the center of)."""
    deltas = cumulative_deltas(scores)
    total = sum(deltas.values())
    if not deltas or total <= 0:
        return None
    return sum(layer * d for layer, d in deltas.items()) / total
