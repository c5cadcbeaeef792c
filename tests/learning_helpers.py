"""Learning checks: small, trivially learnable data sets written in each task's real format, and one short training
run on them.  Each check trains a few epochs on tiny models and asks for a test score far above chance, so it fails
when the model does not learn; ``tests/sabotage.py`` (undone optimiser steps, permuted training labels) shows that
each one does fail then."""
from __future__ import annotations

import json
import random
from pathlib import Path

from elmo_lab.training.pipeline import train
from train_helpers import compose_train

# Words that carry no label; every sentence is a few of them around one keyword that decides its label.
FILLER = "the a film story it was very quite really this that one and of in so".split()

# Tiny models, whole (small) splits, no biLM unless a check asks for one; seconds on one CPU thread.
LEARN = ["trainer.enable_progress_bar=false", "trainer.num_sanity_val_steps=0", "trainer.enable_model_summary=false",
         "logger=csv", "threads=1", "elmo.placement=none", "task.word_dim=8", "task.eval_batch_size=64"]


def keyword_sentences(n: int, keywords: list[str], seed: int = 0) -> list[tuple[list[str], int]]:
    """``n`` sentences of 3-6 filler words with one of the words of ``keywords[label]`` (space-separated) inserted
    at a random place; labels in turn.  Several words per label keep an untrained model's accuracy near chance: with
    one word per label a random model can be right on nearly all sentences or on none."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = i % len(keywords)
        words = rng.choices(FILLER, k=rng.randint(3, 6))
        words.insert(rng.randint(0, len(words)), rng.choice(keywords[label].split()))
        out.append((words, label))
    return out


def trained_metrics(overrides: list[str], run_dir: Path) -> dict[str, float]:
    """Train in this process (so ``tests/sabotage.py`` reaches the optimiser) and return ``results.json``'s
    metrics (the test split scored by the best checkpoint)."""
    train(compose_train(LEARN + overrides, run_dir=run_dir))
    metrics = json.loads((run_dir / "results.json").read_text())["metrics"]
    print("learning check:", {k: round(v, 3) for k, v in metrics.items() if k.startswith("test/")})
    return metrics
