"""Shared test fixtures: the official tiny biLM from ../shared (tests only, never the package)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ELMO_LAB_SHARED", REPO.parent / "shared"))
BILM_TF_FIXTURE = SHARED / "fixtures" / "bilm_tf"


@pytest.fixture(scope="session")
def bilm_tf_dir() -> Path:
    """The reference implementation's tiny test model and its expected outputs."""
    if not (BILM_TF_FIXTURE / "options.json").is_file():
        pytest.fail(f"missing {BILM_TF_FIXTURE}: the official biLM fixture is expected in ../shared")
    return BILM_TF_FIXTURE
