"""Task metrics: torchmetrics ``Metric`` classes whose states are sums, so they are exact under DDP (``SpanF1``,
``SquadMetric``), and the per-example test statistics every task writes (``examples``, numpy only).

The torchmetrics classes load on first use (PEP 562), so that ``elmo_lab.metrics.examples`` — read by the report —
does not import torch."""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"SpanF1": "elmo_lab.metrics.span_f1", "SquadMetric": "elmo_lab.metrics.squad"}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
