"""The typed ``task.*`` schema of the sentiment tasks (``tasks/sentiment.py``), light: composing a config imports no
torch (``register_task_schemas`` reads ``SCHEMA`` from here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from elmo_lab.config.choices import Choice
from elmo_lab.config.schema import TaskConfig
from elmo_lab.config.tasks import TextClassifierFields


class SentimentDataset(Choice):
    mr = "mr"
    sst = "sst"
    sst2 = "sst2"


@dataclass
class SentimentConfig(TextClassifierFields, TaskConfig):
    """``task.*`` of the sentiment tasks (``tasks/sentiment.py``; ``conf/task/_sentiment.yaml``)."""

    module: str = "tasks.sentiment"
    dataset: SentimentDataset = SentimentDataset.mr
    phrases: bool = False  # sst/sst2: also train on every subtree (phrase) of the train trees
    min_phrase_tokens: int = 1  # with phrases: the shortest phrase kept (the paper's SST-5 model: 4)
    download: bool = True  # sst/sst2 without data_dir: download the official zip once into the cache
    eval_batch_size: Optional[int] = 256
    max_epochs: Optional[int] = 3


SCHEMA = SentimentConfig
