"""Fixtures for the LM tests: a tiny architecture and a small corpus."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

TINY_OPTIONS = {
    "lstm": {"dim": 16, "projection_dim": 8, "n_layers": 2, "cell_clip": 3, "proj_clip": 3,
             "use_skip_connections": True},
    "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4], [2, 8]], "n_highway": 1, "n_characters": 262,
                 "max_characters_per_token": 50, "activation": "relu"},
}


@pytest.fixture
def tiny_options() -> dict:
    import copy

    return copy.deepcopy(TINY_OPTIONS)


@pytest.fixture(scope="session")
def tiny_corpus_path() -> Path:
    """400 short, repetitive English sentences (one per line, tokenised)."""
    return HERE / "fixtures" / "tiny_corpus.txt"


@pytest.fixture(scope="session")
def tiny_sentences(tiny_corpus_path: Path) -> list[list[str]]:
    return [line.split() for line in tiny_corpus_path.read_text().splitlines() if line.strip()]
