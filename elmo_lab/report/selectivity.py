"""Probing selectivity (Hewitt & Liang 2019), from a sweep over ``task.control_task=false,true``.

A probe's accuracy mixes what a layer encodes with what the probe can memorise.  The control task gives every
word type a fixed random label (``tasks/probe.py``, ``ControlTask``), so accuracy on it is memorisation alone;
**selectivity** = accuracy − control accuracy.  For every configuration of a task whose settings differ only by
``task.control_task``, the section shows per layer (and per biLM: trained or ``bilm.random_weights``) the two
accuracies, mean ± std over seeds, and their difference ± the standard error of the difference.
"""
from __future__ import annotations

from elmo_lab.report.format import difference_text, markdown_table, mean_std_text
from elmo_lab.report.model import Report
from elmo_lab.report.runs import Config, difference

CONTROL_KEY = "task.control_task"


def selectivity_pairs(configs: list[Config]) -> list[tuple[Config, Config]]:
    """``(real labels, control labels)`` pairs of configurations equal in every other setting."""
    real: dict[str, Config] = {}
    control: dict[str, Config] = {}
    for c in configs:
        flag = c.settings.get(CONTROL_KEY)
        if flag is True:
            control[c.key_without({CONTROL_KEY})] = c
        elif flag is False:
            real[c.key_without({CONTROL_KEY})] = c
    return [(real[f], control[f]) for f in real if f in control]


def selectivity(real: Config, control: Config, metric: str) -> tuple[float | None, float | None]:
    """Accuracy minus control accuracy (difference of the means) and the standard error of that difference."""
    d = difference(real, control, metric)
    return (None, None) if d is None else (d.delta, d.se)


def selectivity_section(report: Report) -> str | None:
    """``## Probing selectivity``: a row per layer/biLM with accuracy, control accuracy and selectivity."""
    pairs = selectivity_pairs(report.configs)
    if not pairs:
        return None
    rows = []
    for real, control in pairs:
        metric = report.task_metric[real.task]
        sel, se = selectivity(real, control, metric)
        name = report.label(real, without={CONTROL_KEY})
        rows.append([real.task, name, metric, f"{len(real.runs)} / {len(control.runs)}",
                     mean_std_text(*real.mean_std(metric)[:2]), mean_std_text(*control.mean_std(metric)[:2]),
                     "—" if sel is None else difference_text(sel, se)])
    header = ["task", "probe", "metric", "n (task / control)", "accuracy", "control accuracy", "selectivity"]
    return ("## Probing selectivity\n\n" + markdown_table(header, rows)
            + "\n\nControl accuracy: the same probe trained on the control task (each word type one fixed random "
              "label drawn from the training label distribution; Hewitt & Liang 2019). Selectivity = accuracy − "
              "control accuracy, ± the standard error of the difference over seeds: high when the probe's accuracy "
              "comes from the layer rather than from memorising words.")
