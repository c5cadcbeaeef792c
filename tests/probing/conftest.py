"""Fixtures of the probing tests: a tiny biLM wider than the shared one, whose token layer has rank 32 (the shared
tiny biLM's has rank 8: too few dimensions for a linear probe to place a dozen word types where a tree needs them)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def wide_bilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny biLM (random weights, seed 0) with 48 character filters and 32-wide projections, saved in the official
    layout."""
    import torch

    from elmo_lab import BiLM, BiLMOptions, save_bilm
    from train_helpers import TINY

    torch.manual_seed(0)
    options = dict(TINY, filters=[[1, 16], [2, 16], [3, 16]], projection_dim=32, lstm_dim=32)
    folder = tmp_path_factory.mktemp("wide_bilm")
    save_bilm(BiLM(BiLMOptions(**options)).eval(), folder / "options.json", folder / "weights.hdf5")
    return folder
