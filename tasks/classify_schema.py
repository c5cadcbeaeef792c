"""The typed ``task.*`` schema of single-text classification on a user's data (``tasks/classify.py``), light:
composing a config imports no torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from elmo_lab.config.tasks import TabularConfig, TextClassifierFields


@dataclass
class ClassifyConfig(TextClassifierFields, TabularConfig):
    """``task.*`` of single-text classification on a user's data (``tasks/classify.py``; ``conf/task/classify.yaml``):
    the sentiment task's model (``encoder``, ``pooling``, ...) on any labelled text."""

    module: str = "tasks.classify"
    text_field: str = "text"
    max_epochs: Optional[int] = 5


SCHEMA = ClassifyConfig
