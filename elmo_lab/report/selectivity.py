"""Probing selectivity (Hewitt & Liang 2019), from a sweep over ``task.control_task=false,true``.

A probe's accuracy mixes what a layer encodes with what the probe can memorise.  The control task gives every
word type a fixed random label (``tasks/probe.py``, ``ControlTask``), so accuracy on it is memorisation alone;
**selectivity** = accuracy − control accuracy.  For every configuration of a task whose settings differ only by
``task.control_task``, the section shows per layer (and per biLM: trained or ``bilm.random_weights``) the two
accuracies, mean ± std over seeds, and their difference ± the standard error of the difference.
"""
from __future__ import annotations

import json
from typing import Callable

from elmo_lab.report.runs import Config, difference

CONTROL_KEY = "task.control_task"
Label = Callable[[Config], str]


def _family(config: Config) -> str:
    return json.dumps([config.task, sorted((k, v) for k, v in config.settings.items() if k != CONTROL_KEY)],
                      default=str)


def selectivity_pairs(configs: list[Config]) -> list[tuple[Config, Config]]:
    """``(real labels, control labels)`` pairs of configurations equal in every other setting."""
    real: dict[str, Config] = {}
    control: dict[str, Config] = {}
    for c in configs:
        flag = c.settings.get(CONTROL_KEY)
        if flag is True:
            control[_family(c)] = c
        elif flag is False:
            real[_family(c)] = c
    return [(real[f], control[f]) for f in real if f in control]


def _cell(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:.4f} ± " + ("—" if std is None else f"{std:.4f}")


def selectivity(real: Config, control: Config, metric: str) -> tuple[float | None, float | None]:
    """Accuracy minus control accuracy (difference of the means) and the standard error of that difference."""
    d = difference(real, control, metric)
    return (None, None) if d is None else (d.delta, d.se)


def selectivity_section(report, label: Label) -> str | None:
    """``## Probing selectivity``: a row per layer/biLM with accuracy, control accuracy and selectivity."""
    from elmo_lab.report.tables import markdown_table

    pairs = selectivity_pairs(report.configs)
    if not pairs:
        return None
    rows = []
    for real, control in pairs:
        metric = report.task_metric[real.task]
        sel, se = selectivity(real, control, metric)
        name = " ".join(p for p in label(real).split() if not p.startswith(CONTROL_KEY + "="))
        rows.append([real.task, name, metric, f"{len(real.runs)} / {len(control.runs)}",
                     _cell(*real.mean_std(metric)[:2]), _cell(*control.mean_std(metric)[:2]),
                     "—" if sel is None else f"{sel:+.4f} ± " + ("—" if se is None else f"{se:.4f}")])
    header = ["task", "probe", "metric", "n (task / control)", "accuracy", "control accuracy", "selectivity"]
    return ("## Probing selectivity\n\n" + markdown_table(header, rows)
            + "\n\nControl accuracy: the same probe trained on the control task (each word type one fixed random "
              "label drawn from the training label distribution; Hewitt & Liang 2019). Selectivity = accuracy − "
              "control accuracy, ± the standard error of the difference over seeds: high when the probe's accuracy "
              "comes from the layer rather than from memorising words.")
