"""The report's figures, one panel per task, each PNG written atomically:

* ``metric.png``: the chosen metric of every configuration, mean with its 95 % confidence interval over seeds
  (t interval) as error bar; dashed lines mark the ``none`` baselines;
* ``layer_weights.png``: the learned layer weights ``s_j`` averaged over seeds, one row per configuration and mix,
  one column per biLM layer (the paper's Figure 2 across runs);
* ``layers.png`` and ``center_of_gravity.png`` (``elmo_lab.report.layer_plots``): task × representation heatmaps of
  score and selectivity, and E_s / E_Δ on the layer axis;
* ``probing.png``: for tasks with ``elmo.mix=layer`` runs, the metric per biLM layer (one bar group per layer,
  one bar per otherwise equal family of settings);
* ``learning_curve.png`` and ``dev_curves.png`` (``elmo_lab.report.curves``): the metric against training-set
  size, and the dev objective per epoch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from elmo_lab.report.curves import plot_dev_curves, plot_learning_curves
from elmo_lab.report.figures import pyplot, save_figure
from elmo_lab.report.layer_plots import plot_center_of_gravity, plot_layer_heatmaps
from elmo_lab.report.model import Report
from elmo_lab.report.runs import Config
from elmo_lab.report.stats import mean_ci

PLOT_FILES = ("metric.png", "layer_weights.png", "layers.png", "center_of_gravity.png", "probing.png",
              "learning_curve.png", "dev_curves.png")


def _by_task(configs: list[Config], keep: Callable[[Config], bool]) -> dict[str, list[Config]]:
    out: dict[str, list[Config]] = {}
    for c in configs:
        if keep(c):
            out.setdefault(c.task, []).append(c)
    return out


def plot_metric(report: Report, path: Path) -> Path | None:
    """Mean and 95 % CI over seeds of each task's metric per configuration (horizontal error bars)."""
    task_metric = report.task_metric
    tasks = _by_task(report.configs, lambda c: c.mean_std(task_metric[c.task])[0] is not None)
    if not tasks:
        return None
    plt = pyplot()
    heights = [len(group) for group in tasks.values()]
    fig, axes = plt.subplots(len(tasks), 1, squeeze=False, gridspec_kw={"height_ratios": heights},
                             figsize=(9, 1.2 * len(tasks) + 0.35 * sum(heights)))
    for ax, (task, group) in zip(axes[:, 0], tasks.items()):
        metric = task_metric[task]
        stats = [c.mean_std(metric) for c in group]
        y = np.arange(len(group))
        for yi, c in zip(y, group):
            mean, half = mean_ci(c.values(metric))
            color = "tab:gray" if c.is_baseline else "tab:blue"
            ax.errorbar(mean, yi, xerr=half or 0.0, fmt="o", color=color, capsize=3)
        for c, s in zip(group, stats):
            if c.is_baseline:
                ax.axvline(s[0], color="tab:gray", linestyle="--", linewidth=1)
        ax.set_yticks(y, [f"{report.label(c)} (n={s[2]})" for c, s in zip(group, stats)], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{metric} (mean and 95 % CI over seeds)")
        ax.set_title(f"{task}: {metric}")
        ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def _weight_rows(group: list[Config], label: Callable[[Config], str]) -> list[tuple[str, list[float]]]:
    rows = []
    for c in group:
        for mix, (s, gamma) in c.mean_layer_weights().items():
            rows.append((f"{label(c)} · {mix} (γ={gamma:.2f}, n={len(c.runs)})", s))
    return rows


def plot_layer_weights(report: Report, path: Path) -> Path | None:
    """Heatmap of the seed-averaged ``s_j``: configuration × mix rows, biLM layer columns, a panel per task."""
    tasks = {t: rows for t, g in _by_task(report.configs, lambda c: bool(c.mean_layer_weights())).items()
             if (rows := _weight_rows(g, report.label))}
    if not tasks:
        return None
    plt = pyplot()
    heights = [len(rows) for rows in tasks.values()]
    width = max(len(s) for rows in tasks.values() for _, s in rows)
    fig, axes = plt.subplots(len(tasks), 1, squeeze=False, gridspec_kw={"height_ratios": heights},
                             figsize=(5 + 1.1 * width, 1.0 * len(tasks) + 0.45 * sum(heights)))
    for ax, (task, rows) in zip(axes[:, 0], tasks.items()):
        n_layers = max(len(s) for _, s in rows)
        values = np.full((len(rows), n_layers), np.nan)
        for i, (_, s) in enumerate(rows):
            values[i, :len(s)] = s
        image = ax.imshow(np.ma.masked_invalid(values), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black",
                        fontsize=8)
        ax.set_xticks(range(n_layers), ["layer 0 (token)"] + [f"layer {j}" for j in range(1, n_layers)])
        ax.set_yticks(range(len(rows)), [name for name, _ in rows], fontsize=8)
        ax.set_title(f"{task}: ELMo layer weights s_j (mean over seeds)")
        fig.colorbar(image, ax=ax, fraction=0.04)
    return save_figure(fig, path)


def _probing_panel(ax, group: list[Config], metric: str, report: Report) -> None:
    families: dict[str, list[Config]] = {}
    for c in group:  # the settings of a probing run apart from its layer
        families.setdefault(c.key_without({"elmo.layer"}), []).append(c)
    layers = sorted({c.settings["elmo.layer"] for c in group})
    width = 0.8 / len(families)
    lows, highs = [], []
    for f, members in enumerate(families.values()):
        stats = {c.settings["elmo.layer"]: c.mean_std(metric) for c in members}
        x = [layers.index(layer) - 0.4 + width * (f + 0.5) for layer in stats]
        name = report.label(members[0], without={"elmo.layer", "elmo.mix"})
        ax.bar(x, [s[0] for s in stats.values()], width, yerr=[s[1] or 0.0 for s in stats.values()], capsize=3,
               label="mix=layer" if name == members[0].task else name)
        lows += [s[0] - (s[1] or 0.0) for s in stats.values()]
        highs += [s[0] + (s[1] or 0.0) for s in stats.values()]
    baseline = group[0].baseline
    if baseline is not None and baseline.mean_std(metric)[0] is not None:
        ax.axhline(baseline.mean_std(metric)[0], color="tab:gray", linestyle="--", label="none (baseline)")
        lows.append(baseline.mean_std(metric)[0])
    margin = 0.15 * (max(highs) - min(lows)) or 0.01
    ax.set_ylim(min(lows) - margin, max(highs) + margin)  # bars from zero would hide differences of a point
    ax.set_xticks(range(len(layers)), [f"layer {j}" + (" (token)" if j == 0 else "") for j in layers],
                  rotation=30 if len(layers) > 4 else 0, ha="right" if len(layers) > 4 else "center")
    ax.set_ylabel(f"{metric} (mean ± std)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(layers) > 4 else -0.1))


def plot_probing(report: Report, path: Path) -> Path | None:
    """Bars of the metric per biLM layer for the ``elmo.mix=layer`` runs, a panel per task."""
    task_metric = report.task_metric
    tasks = _by_task(report.configs, lambda c: c.settings.get("elmo.mix") == "layer"
                     and isinstance(c.settings.get("elmo.layer"), int)
                     and c.mean_std(task_metric[c.task])[0] is not None)
    if not tasks:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(tasks), squeeze=False, figsize=(5.5 * len(tasks), 4))
    for ax, (task, group) in zip(axes[0], tasks.items()):
        _probing_panel(ax, group, task_metric[task], report)
        ax.set_title(f"{task}: probing one encoder layer (elmo.mix=layer)")
    return save_figure(fig, path)


def make_plots(report: Report, out: Path) -> list[Path]:
    """Write every plot that has data into ``out``; return the paths written."""
    makers = (plot_metric, plot_layer_weights, plot_layer_heatmaps, plot_center_of_gravity, plot_probing,
              plot_learning_curves, plot_dev_curves)  # the layer analyses beside the layer-weight heatmap
    plots = [make(report, out / name) for make, name in zip(makers, PLOT_FILES)]
    return [p for p in plots if p is not None]
