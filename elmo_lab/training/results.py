"""``results.json``: one file per run with what comparisons across runs need.

Keys: ``task``, ``placement``, ``mix``, ``l2_coef``, ``seed``, ``objective`` (the task's model-selection metric),
``metrics`` (final val and test, ``split/metric``),
``layer_weights`` (``{mix: {"s": [...], "gamma": float, "center_of_gravity": E_s, "contributions": {...}}}``: the
raw weights, their center of gravity and the norm-weighted shares measured on the final evaluation pass,
``elmo_lab.training.callbacks.layer_weights``), ``data_sizes`` (examples per split), ``data_notes``
(what a task says about its data: how splits were made, what was dropped or truncated), ``config`` (the
resolved config), ``finetune`` (biLM perplexities before/after, when ``bilm.finetune.enabled``), ``history`` (the
val metrics after each epoch, ``ValidationHistory``) and ``chance`` (``chance_report``: the majority-class level
of each split's accuracy, and the metrics that ended at or below it); a task may add its own keys (the probe's
``mdl``, ``tasks/probe.py``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from elmo_lab.util.atomic import atomic_path, write_json_atomic

RESULTS_FILE = "results.json"


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars → Python numbers; NaN → None (JSON has no NaN)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_results(run_dir: str | Path, *, task: str, placement: str, mix: str, l2_coef: float, seed: int,
                  metrics: dict, layer_weights: dict, data_sizes: dict, config: dict,
                  finetune: dict | None = None, objective: str | None = None,
                  data_notes: dict | None = None, history: list | None = None,
                  chance: dict | None = None, paper: dict | None = None, metric_units: str = "fraction",
                  sections: dict | None = None) -> Path:
    """Write ``<run_dir>/results.json`` atomically and return its path (``paper``, ``metric_units``: what the task
    declares for the report, ``Task.paper_row`` and ``Task.metric_units``; ``sections``: the task's own top-level
    keys, ``ElmoTaskModule.results_sections``)."""
    data = {
        "task": task, "placement": placement, "mix": mix, "l2_coef": l2_coef, "seed": seed, "objective": objective,
        "metrics": {k: _plain(v) for k, v in sorted(metrics.items())},
        "layer_weights": layer_weights,
        "data_sizes": data_sizes,
        "data_notes": data_notes or {},
        "finetune": finetune,
        "history": history or [],
        "chance": chance or {"levels": {}, "at_chance": []},
        "paper": paper, "metric_units": metric_units,
        "config": config,
    }
    data.update({k: v for k, v in (sections or {}).items() if k not in data})
    return write_json_atomic(Path(run_dir) / RESULTS_FILE, data)


def chance_report(metrics: dict, levels: dict[str, float]) -> dict:
    """``{"levels": {"test/acc": 0.5, ...}, "at_chance": ["val/acc", ...]}``: the metrics (of those that have a
    chance level, e.g. majority-class accuracy) whose final value is at most that level — a run that learned
    nothing, flagged so that the report never averages it in unnoticed."""
    at = [k for k, level in sorted(levels.items())
          if metrics.get(k) is not None and float(_plain(metrics[k])) <= level + 1e-9]
    return {"levels": dict(sorted(levels.items())), "at_chance": at}


def _numbers(values: list[float]) -> str:
    return "[" + ", ".join(f"{x:.2f}" for x in values) + "]"


def write_run_results(run_dir: Path, plain: dict, task: Any, datamodule: Any, model: Any, metrics: dict,
                      history: list, norms_split: str, finetune: dict | None = None) -> Path:
    """``results.json`` of a finished task run (``write_results`` with what the run's ``task`` (a ``Task``), its
    datamodule and its model say; ``plain``: the run's whole config) and its summary printed: the metrics and each
    mix's weights, E_s and norm-weighted shares (measured on ``norms_split``)."""
    from elmo_lab.training.callbacks import layer_weights  # Lightning: only when a run has finished

    e = plain["elmo"]
    weights = layer_weights(model, norms_split)
    path = write_results(
        run_dir, task=plain["task"]["name"], placement=e["placement"], mix=e["mix"], l2_coef=e["l2_coef"],
        seed=plain["seed"], metrics=metrics, layer_weights=weights, data_sizes=datamodule.data_sizes(), config=plain,
        finetune=finetune, objective=plain["optimized_metric"],
        data_notes={**datamodule.data_notes(), **datamodule.subset_notes(), **datamodule.word_vector_notes()},
        history=history, chance=chance_report(metrics, datamodule.chance_levels()),
        paper=task.paper_row(plain) if task.paper_row else None, metric_units=task.metric_units,
        sections=model.results_sections())
    print("metrics: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())))
    for name, w in weights.items():
        shares = w.get("contributions", {}).get("share")
        print(f"layer weights {name}: s = {_numbers(w['s'])}, gamma = {w['gamma']:.2f}, "
              f"E_s = {w['center_of_gravity']:.2f}" + (f", norm-weighted shares = {_numbers(shares)}" if shares else ""))
    print(f"results: {path}")
    return path
