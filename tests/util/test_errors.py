"""Every project error that means bad input is a UserError, so each entry point reports it in one line (exit 2)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from elmo_lab.bilm.chars import EmptyInputError
from elmo_lab.bilm.options import BiLMConfigError
from elmo_lab.bilm.weights import WeightFileError
from elmo_lab.config.schema import ConfigError
from elmo_lab.data.errors import DataError
from elmo_lab.util.download import DownloadError
from elmo_lab.cli.embed import EmbedError
from elmo_lab.util.errors import UserError
from elmo_lab.lm.corpora import CorpusError
from elmo_lab.lm.module import LMConfigError
from elmo_lab.data.vocab import VocabError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("error", [EmptyInputError, BiLMConfigError, WeightFileError, ConfigError, DataError,
                                   DownloadError, EmbedError, CorpusError, LMConfigError, VocabError])
def test_project_errors_are_user_errors(error):
    assert issubclass(error, UserError)


def test_pretrain_reports_a_missing_corpus_in_one_line(tmp_path):
    missing = tmp_path / "no_such_corpus.txt"
    proc = subprocess.run([sys.executable, "pretrain.py", "corpus=file", f"corpus.path={missing}",
                           f"hydra.run.dir={tmp_path / 'run'}", "logger=csv"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: {missing}: corpus file not found"
    assert "Traceback" not in proc.stderr
