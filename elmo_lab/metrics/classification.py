"""Classification metrics shared by the classification tasks: accuracy, macro F1 and, on request, the F1 of each
class (``f1_<label>``), all torchmetrics with summed states (exact under DDP)."""
from __future__ import annotations

import re

from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score
from torchmetrics.wrappers import ClasswiseWrapper


def metric_safe(label_names: list[str]) -> list[str]:
    """Label names made safe for a metric name (non-word characters → ``_``), unique: ``f1_<name>``."""
    names = [re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or str(i) for i, name in enumerate(label_names)]
    return [name if names.count(name) == 1 else f"{name}_{i}" for i, name in enumerate(names)]


def classification_metrics(label_names: list[str], per_class: bool = True) -> MetricCollection:
    """Accuracy, macro F1 and (``per_class``) ``f1_<label>`` for each class."""
    n = len(label_names)
    metrics: dict[str, Metric] = {"acc": MulticlassAccuracy(n, average="micro"),
                                  "macro_f1": MulticlassF1Score(n, average="macro")}
    if per_class:
        # torchmetrics' own per-class F1 (summed states: exact under DDP), one ``f1_<label>`` entry per class
        metrics["per_class"] = ClasswiseWrapper(MulticlassF1Score(n, average="none"), labels=metric_safe(label_names),
                                                prefix="f1_")
    return MetricCollection(metrics)
