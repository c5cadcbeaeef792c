"""Fixtures for the training-framework tests (the helpers live in ``tests/train_helpers.py``, shared with
``tests/tasks``; ``from conftest import ...`` keeps working here)."""
from __future__ import annotations

from pathlib import Path

import pytest

from train_helpers import CONF, FAST, REPO, TINY, compose_train, tiny_bilm  # noqa: F401  (re-exported)


@pytest.fixture
def fast_overrides(tiny_bilm_dir: Path) -> list[str]:
    """Overrides for a seconds-long MR run on the tiny biLM."""
    return FAST + [f"bilm.spec={tiny_bilm_dir}"]
