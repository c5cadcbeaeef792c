"""Task metrics as torchmetrics ``Metric`` classes whose states are sums, so they are exact under DDP."""

from elmo_lab.metrics.span_f1 import SpanF1
from elmo_lab.metrics.squad import SquadMetric

__all__ = ["SpanF1", "SquadMetric"]
