"""Where ELMo's effect lives, from a sweep: learning curves over training-set size and the epochs each configuration
needs to reach the baseline's best dev score (the two analyses of Peters et al. 2018, §5.4 and Figure 1).

* **Learning curve** — wherever the configurations of a task differ by their training subset
  (``task.train_fraction`` / ``task.train_examples``; ``experiment=sample_efficiency``): the metric against the
  number of training examples (log x), one line per otherwise equal family of settings (a placement, ...), with
  95 % confidence bands over seeds (``mean ± t₀.₉₇₅,ₙ₋₁ · s / √n``).  ``learning_curve.png`` and a table.
* **Epochs to the baseline** — from each run's dev objective after every epoch (``results.json`` ``history``):
  the target is the baseline's best dev score (the mean over its seeds of each seed's best); a run's epochs are the
  first epoch at which its dev objective reaches the target.  The baseline's own runs are measured against the
  same target.  A configuration's figure is the mean over its seeds when every seed reaches it, else "not reached
  (k of n)".  ``dev_curves.png`` draws the dev objective per epoch (mean over seeds), a panel per task setting.
"""
from __future__ import annotations

from pathlib import Path
import numpy as np

from elmo_lab.report.figures import pyplot, save_figure
from elmo_lab.report.format import markdown_table, mean_std_text
from elmo_lab.report.model import Report
from elmo_lab.report.runs import Config, Run
from elmo_lab.report.stats import mean_ci

# the training subset, and what experiment=sample_efficiency derives from it (epochs, early-stopping patience)
SUBSET_KEYS = ("task.train_fraction", "task.train_examples", "task.max_train_questions", "trainer.max_epochs",
               "callbacks.early_stopping.patience")
CURVE_FILES = ("learning_curve.png", "dev_curves.png")


def _train_size(config: Config) -> float:
    sizes = [r.data_sizes.get("train") for r in config.runs if isinstance(r.data_sizes.get("train"), int)]
    return float(np.mean(sizes)) if sizes else float("nan")


def learning_curves(configs: list[Config], task_metric: dict[str, str]) -> dict[str, dict[str, list[Config]]]:
    """``{task: {family: configurations sorted by training size}}`` for the tasks whose configurations differ by
    training size; families with a single size are left out."""
    out: dict[str, dict[str, list[Config]]] = {}
    for task in dict.fromkeys(c.task for c in configs):
        group = [c for c in configs if c.task == task and len(c.values(task_metric[task]))]
        if len({_train_size(c) for c in group}) < 2:
            continue
        families: dict[str, list[Config]] = {}
        for c in group:
            families.setdefault(c.key_without(SUBSET_KEYS), []).append(c)
        kept = {f: sorted(m, key=_train_size) for f, m in families.items() if len({_train_size(c) for c in m}) > 1}
        if kept:
            out[task] = kept
    return out


# ------------------------------------------------------------------------------------------- epochs to baseline
def _objective(run: Run) -> tuple[str | None, bool]:
    """The run's model-selection metric and whether higher is better."""
    task = run.data["config"].get("task") if isinstance(run.data["config"].get("task"), dict) else {}
    objective = run.data.get("objective") or task.get("objective") or run.data["config"].get("optimized_metric")
    return objective, str(task.get("objective_mode", "max")) != "min"


def _history(run: Run, objective: str) -> list[tuple[int, float]]:
    history = run.data.get("history")
    if not isinstance(history, list):
        return []
    return [(int(h["epoch"]), float(h[objective])) for h in history
            if isinstance(h, dict) and isinstance(h.get(objective), (int, float)) and isinstance(h.get("epoch"), int)]


def _epochs_to(run: Run, objective: str, target: float, higher: bool) -> int | None:
    for epoch, value in _history(run, objective):
        if (value >= target) if higher else (value <= target):
            return epoch
    return None


def epochs_to_baseline(config: Config) -> dict | None:
    """``{"objective", "target", "baseline": (mean epochs | None, reached, n), "config": (...)}`` for a
    configuration with a baseline whose runs all logged a history, else None."""
    base = config.baseline
    if base is None or base is config:
        return None
    objective, higher = _objective(base.runs[0])
    if objective is None or not all(_history(r, objective) for r in base.runs + config.runs):
        return None
    best = [max(v for _, v in _history(r, objective)) if higher else min(v for _, v in _history(r, objective))
            for r in base.runs]
    target = float(np.mean(best))

    def side(runs: list[Run]) -> tuple[float | None, int, int]:
        epochs = [_epochs_to(r, objective, target, higher) for r in runs]
        reached = [e for e in epochs if e is not None]
        return (float(np.mean(reached)) if len(reached) == len(runs) else None), len(reached), len(runs)

    return {"objective": objective, "target": target, "baseline": side(base.runs), "config": side(config.runs)}


def _epochs_text(side: tuple[float | None, int, int]) -> str:
    mean, reached, n = side
    return f"{mean:.1f}" if mean is not None else f"not reached ({reached} of {n})"


# ---------------------------------------------------------------------------------------------------- rendering
def curve_sections(report: Report) -> list[str]:
    """The learning-curve table and the epochs-to-baseline table, where the report has their data."""
    sections = []
    curves = learning_curves(report.configs, report.task_metric)
    for task, families in curves.items():
        metric = report.task_metric[task]
        sizes = sorted({_train_size(c) for members in families.values() for c in members})
        rows = []
        for members in families.values():
            by_size = {_train_size(c): c for c in members}
            name = report.label(members[0], without=SUBSET_KEYS)
            cells = []
            for size in sizes:
                c = by_size.get(size)
                mean, std, n = c.mean_std(metric) if c else (None, None, 0)
                cells.append("—" if mean is None else f"{mean_std_text(mean, std)} (n={n})")
            rows.append([name] + cells)
        header = ["configuration"] + [f"{int(s)} train examples" for s in sizes]
        sections.append(f"## Learning curve: {task}, {metric}\n\n" + markdown_table(header, rows)
                        + "\n\nMean ± std over seeds at each training-set size (nested subsets, the same for every "
                          "configuration and seed). The comparisons above give each size's Δ to its baseline.")
    rows = []
    for comp in report.comparisons:
        e = epochs_to_baseline(comp.config)
        if e is None:
            continue
        rows.append([comp.config.task, report.label(comp.config), str(int(_train_size(comp.config))), e["objective"],
                     f"{e['target']:.4f}", _epochs_text(e["baseline"]), _epochs_text(e["config"])])
    if rows:
        header = ["task", "configuration", "train examples", "dev objective", "baseline's best (mean)",
                  "epochs: baseline", "epochs: configuration"]
        sections.append("## Epochs to the baseline's best dev score\n\n" + markdown_table(header, rows)
                        + "\n\nThe first epoch at which the dev objective reaches the baseline's best (mean over the "
                          "baseline's seeds of each seed's best), mean over seeds; \"not reached\" when some seed "
                          "never does within its epochs.")
    return sections


def plot_learning_curves(report: Report, path: Path) -> Path | None:
    """The metric against training examples (log x), a line per family, 95 % CI bands; a panel per task."""
    task_metric = report.task_metric
    curves = learning_curves(report.configs, task_metric)
    if not curves:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(curves), squeeze=False, figsize=(6.5 * len(curves), 4.5))
    for ax, (task, families) in zip(axes[0], curves.items()):
        metric = task_metric[task]
        for members in families.values():
            x = [_train_size(c) for c in members]
            stats = [mean_ci(c.values(metric)) for c in members]
            y = np.array([m for m, _ in stats])
            half = np.array([h if h is not None else 0.0 for _, h in stats])
            line, = ax.plot(x, y, marker="o", label=report.label(members[0], without=SUBSET_KEYS))
            ax.fill_between(x, y - half, y + half, alpha=0.2, color=line.get_color())
        ax.set_xscale("log")
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(f"{metric} (mean, 95 % CI over seeds)")
        ax.set_title(f"{task}: learning curve")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_dev_curves(report: Report, path: Path) -> Path | None:
    """Dev objective per epoch, mean over seeds, a line per configuration; a panel per task and training size."""
    panels: dict[tuple[str, float], list[Config]] = {}
    for c in report.configs:
        objective, _ = _objective(c.runs[0])
        if objective and all(_history(r, objective) for r in c.runs):
            panels.setdefault((c.task, _train_size(c)), []).append(c)
    panels = {k: v for k, v in panels.items() if any(c.is_baseline for c in v) and len(v) > 1}
    if not panels:
        return None
    plt = pyplot()
    keys = sorted(panels, key=lambda k: (k[0], k[1]))[:8]
    fig, axes = plt.subplots(1, len(keys), squeeze=False, figsize=(5 * len(keys), 4))
    for ax, key in zip(axes[0], keys):
        objective = _objective(panels[key][0].runs[0])[0]
        for c in panels[key]:
            histories = [dict(_history(r, objective)) for r in c.runs]
            epochs = sorted(set().union(*histories))
            y = [np.mean([h[e] for h in histories if e in h]) for e in epochs]
            ax.plot(epochs, y, marker=".", label=report.label(c, without=SUBSET_KEYS),
                    linestyle="--" if c.is_baseline else "-")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{objective} (mean over seeds)")
        ax.set_title(f"{key[0]}: {int(key[1])} train examples")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
