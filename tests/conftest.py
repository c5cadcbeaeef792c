"""Shared test fixtures: the official tiny biLM from ../shared or the cache (``fetch bilm_tf_fixture``; tests
only, never the package)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Test models are tiny: one thread is as fast, and it keeps OpenMP from spin-waiting when the machine is busy
# (seen here: 10x slower tests with 2 threads beside another job). Subprocesses inherit the variable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ELMO_LAB_SHARED", REPO.parent / "shared"))
BILM_TF_FIXTURE = SHARED / "fixtures" / "bilm_tf"

if os.environ.get("ELMO_LAB_SABOTAGE"):  # show that the learning checks can fail (tests/sabotage.py)
    from sabotage import install

    install(os.environ["ELMO_LAB_SABOTAGE"])


def pytest_report_header() -> str | None:
    mode = os.environ.get("ELMO_LAB_SABOTAGE")
    return f"sabotage: {mode} (tests/sabotage.py): the learning checks must fail" if mode else None


@pytest.fixture(scope="session", autouse=True)
def _layer_store_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Keep every test's biLM layers (in this process and in the ``train.py`` subprocesses, which inherit the
    environment) out of the user's layer store: ``$ELMO_LAB_LAYERS`` points into the session's temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ELMO_LAB_LAYERS", str(tmp_path_factory.mktemp("layers")))
        yield


@pytest.fixture(scope="session")
def bilm_tf_dir() -> Path:
    """The reference implementation's tiny test model and its expected outputs."""
    from elmo_lab.bilm.reference_fixture import fixture_dir

    for folder in (BILM_TF_FIXTURE, fixture_dir()):
        if (folder / "options.json").is_file():
            return folder
    pytest.fail(f"missing the official biLM fixture (neither {BILM_TF_FIXTURE} nor {fixture_dir()}): run "
                "`python -m elmo_lab fetch bilm_tf_fixture`, or set ELMO_LAB_SHARED to a folder with fixtures/bilm_tf")


# A tiny biLM architecture (options.json layout) for LM and device tests.
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
def tiny_bilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny biLM (random weights: for plumbing tests only) saved in the official layout."""
    from elmo_lab import save_bilm
    from train_helpers import tiny_bilm

    folder = tmp_path_factory.mktemp("tiny_bilm")
    save_bilm(tiny_bilm(), folder / "options.json", folder / "weights.hdf5")
    return folder
