"""Per-step reseeding, shared by task training and biLM pretraining."""
from __future__ import annotations

import functools
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
    if _accelerator_present():
        torch.manual_seed(s)
    else:  # the same seeding on a machine without accelerators, without torch queueing a lazy seed call for each
        torch.default_generator.manual_seed(s)  # kind of device (2 ms a step: a third of a linear probe's step)


@functools.cache
def _accelerator_present() -> bool:
    """Whether any device kind that ``torch.manual_seed`` also seeds exists here (CUDA, MPS, XPU)."""
    xpu = getattr(torch, "xpu", None)
    return bool(torch.cuda.is_available() or torch.backends.mps.is_available()
                or (xpu is not None and xpu.is_available()))
