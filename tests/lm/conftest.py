"""Fixtures for the LM tests: a small corpus (the tiny architecture, ``tiny_options``, is in tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def tiny_corpus_path() -> Path:
    """400 short, repetitive English sentences (one per line, tokenised)."""
    return HERE / "fixtures" / "tiny_corpus.txt"


@pytest.fixture(scope="session")
def tiny_sentences(tiny_corpus_path: Path) -> list[list[str]]:
    return [line.split() for line in tiny_corpus_path.read_text().splitlines() if line.strip()]
