"""Task metrics as torchmetrics ``Metric`` classes whose states are sums, so they are exact under DDP."""

from elmo_lab.metrics.span_f1 import SpanF1  # noqa: F401
from elmo_lab.metrics.squad import SquadMetric  # noqa: F401
