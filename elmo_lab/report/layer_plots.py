"""The figures of ``elmo_lab.report.layers``:

* ``layers.png``: heatmaps of task (× encoder) against representation — the score, and the selectivity where the
  sweep has control-task runs.  Each row is coloured on its own scale (tasks' metrics differ), every cell annotated;
* ``center_of_gravity.png``: per task (× encoder) and mix, E_s of the raw weights, the norm-weighted E_s and E_Δ on
  the layer axis (Tenney, Das & Pavlick 2019, Figure 1, for this encoder).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from elmo_lab.report.figures import pyplot, save_figure
from elmo_lab.report.layers import Family, families, gravity_rows
from elmo_lab.report.model import Report


def _matrix(fams: list[Family], reps: list[str], value) -> np.ndarray:
    out = np.full((len(fams), len(reps)), np.nan)
    for i, f in enumerate(fams):
        for j, r in enumerate(reps):
            v = value(f, r)[0]
            out[i, j] = np.nan if v is None else v
    return out


def _heatmap(ax, values: np.ndarray, rows: list[str], reps: list[str], title: str) -> None:
    """Row-normalised colours (each row from its own minimum to its maximum), the values written in the cells."""
    low = np.nanmin(np.where(np.isnan(values), np.inf, values), axis=1, keepdims=True)
    high = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=1, keepdims=True)
    span = np.where(high - low > 1e-9, high - low, 1.0)  # a row of (nearly) equal values: one colour
    ax.imshow(np.ma.masked_invalid((values - low) / span), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if not np.isnan(v):
            shade = (v - low[i, 0]) / span[i, 0]
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7,
                    color="white" if shade < 0.6 else "black")
    ax.set_xticks(range(len(reps)), reps, rotation=30 if len(reps) > 5 else 0,
                  ha="right" if len(reps) > 5 else "center", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_title(title, fontsize=9)


def plot_layer_heatmaps(report: Report, path: Path) -> Path | None:
    """Score (and selectivity) heatmaps, task × representation; None unless a family has two representations."""
    fams, reps = families(report)
    if not any(len(f.real) > 1 for f in fams):
        return None
    controlled = [f for f in fams if f.control]
    panels = [(fams, Family.score, "score (test side of each task's objective; each row its own colour scale)")]
    if controlled:
        panels.append((controlled, Family.selectivity, "selectivity = score − control-task score"))
    plt = pyplot()
    height = 1.2 + 0.4 * max(len(group) for group, _, _ in panels)
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(2.5 + 6.5 * len(panels), height))
    for ax, (group, value, title) in zip(axes[0], panels):
        _heatmap(ax, _matrix(group, reps, value), [f"{f.name} ({f.metric})" for f in group], reps, title)
    return save_figure(fig, path)


def plot_center_of_gravity(report: Report, path: Path) -> Path | None:
    """E_s (weights), norm-weighted E_s and E_Δ per task (× encoder) and mix, on the layer axis; mean ± std."""
    fams, _ = families(report)
    rows = [g for f in fams for g in gravity_rows(f)]
    if not rows:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.45 * len(rows)))
    marks = (("e_s", "E_s (weights)", "o", "tab:blue"), ("e_norm", "E_s (norm-weighted)", "s", "tab:orange"),
             ("e_delta", "E_Δ (cumulative scoring)", "D", "tab:green"))
    top = 0
    for attr, label, marker, color in marks:
        points = [(i, getattr(g, attr)) for i, g in enumerate(rows) if getattr(g, attr)[0] is not None]
        if points:
            ax.errorbar([p[1][0] for p in points], [p[0] for p in points], xerr=[p[1][1] or 0.0 for p in points],
                        fmt=marker, color=color, label=label, capsize=3)
            top = max(top, max(p[1][0] for p in points))
    for g in rows:
        mix = g.family.real.get("mix")
        weights = mix.mean_layer_weights() if mix is not None else {}
        top = max(top, max((len(s) - 1 for s, _ in weights.values()), default=0))
    ax.set_yticks(range(len(rows)), [f"{g.family.name} · {g.mix_name}" for g in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.2, top + 0.2)
    ax.set_xticks(range(int(np.ceil(top)) + 1))
    ax.set_xlabel("layer (0 = token layer)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    return save_figure(fig, path)
