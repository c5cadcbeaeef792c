"""``python -m elmo_lab embed --hf DIR``: a Hugging Face encoder's word-level layers in the same HDF5 layout as the
biLM's, equal to the encoder's own output; ``--stateful`` with it is one error line, exit 2, nothing written."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")
h5py = pytest.importorskip("h5py")

from elmo_lab.__main__ import main  # noqa: E402
from elmo_lab.contextual.hf import HfEncoder  # noqa: E402

from hf_models import tiny_bert  # noqa: E402

LINES = ["John lives in Paris .", "the film is unbelievable"]


def test_embed_with_a_hugging_face_encoder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tiny_bert(tmp_path / "bert")
    text = tmp_path / "in.txt"
    text.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "out.hdf5"
    assert main(["embed", str(text), str(out), "--hf", str(spec), "--pooling", "last", "--quiet"]) == 0
    encoder = HfEncoder.from_config({"spec": str(spec), "pooling": "last"})
    with torch.no_grad():
        expected = encoder.encode([line.split() for line in LINES])  # (2, 3, 5, 8)
    with h5py.File(out, "r") as f:
        for i, line in enumerate(LINES):
            n = len(line.split())
            assert f[str(i)].shape == (3, n, 8)
            assert torch.allclose(torch.from_numpy(f[str(i)][()]), expected[i, :, :n], atol=1e-6)
        assert '"pooling": "last"' in f.attrs["bilm_options"]
    assert main(["embed", str(text), str(tmp_path / "no.hdf5"), "--hf", str(spec), "--stateful", "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --stateful: only the LSTM biLM")
    assert not list(tmp_path.glob("no.hdf5*"))
