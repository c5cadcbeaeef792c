"""Per-step reseeding, shared by task training and biLM pretraining."""
from __future__ import annotations

import random

import numpy as np
import torch


def reseed_for_step(seed: int, step: int) -> None:
    """Reseed every RNG (Python, NumPy, torch) from ``(seed, step)``: the dropout masks and sampled-softmax negatives
    of a step then do not depend on what ran before it (validation, a data loader drawing its base seed), so a run
    resumed from a checkpoint ends with the same weights as an uninterrupted run."""
    s = seed * 1_000_003 + step
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)
