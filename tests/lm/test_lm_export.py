from pathlib import Path

import h5py
import pytest
import torch

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.bilm.weights import WeightFileError, load_bilm
from elmo_lab.lm.export import export_lm, load_lm, load_softmax
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary

SENTENCES = [["The", "film", "was", "great", "."], ["Awful", "!"]]


def _model(tiny_options):
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions.from_dict(tiny_options)).eval()
    vocab = Vocabulary.from_sentences(SENTENCES)
    softmax = FullSoftmax(8, len(vocab))
    with torch.no_grad():
        softmax.bias.normal_()
    return bilm, softmax, vocab


def test_export_then_load_gives_identical_outputs(tmp_path: Path, tiny_options):
    bilm, softmax, vocab = _model(tiny_options)
    export_lm(tmp_path, bilm, softmax, vocab, metadata={"note": "test"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm_metadata.json", "lm_softmax.hdf5", "options.json",
                                                          "vocab.txt", "weights.hdf5"]
    chars = batch_to_char_ids(SENTENCES)
    loaded = load_bilm(tmp_path / "options.json", tmp_path / "weights.hdf5")  # the foundation loader
    with torch.no_grad():
        a, b = bilm(chars), loaded(chars)
    assert torch.equal(a.layers, b.layers)
    bilm2, softmax2, vocab2 = load_lm(tmp_path)
    assert vocab2 == vocab
    assert torch.equal(softmax2.weight, softmax.weight) and torch.equal(softmax2.bias, softmax.bias)
    with h5py.File(tmp_path / "lm_softmax.hdf5") as f:
        assert f["softmax/W"].shape == (len(vocab), 8) and f["softmax/b"].shape == (len(vocab),)


def test_float16_export_halves_the_files_and_loads_as_float32(tmp_path: Path, tiny_options):
    bilm, softmax, vocab = _model(tiny_options)
    export_lm(tmp_path / "fp32", bilm, softmax, vocab)
    export_lm(tmp_path / "fp16", bilm, softmax, vocab, dtype="float16")
    with h5py.File(tmp_path / "fp16" / "weights.hdf5") as f:
        assert f["CNN_proj/W_proj"].dtype.name == "float16"
    loaded = load_bilm(tmp_path / "fp16" / "options.json", tmp_path / "fp16" / "weights.hdf5")
    reference = load_bilm(tmp_path / "fp32" / "options.json", tmp_path / "fp32" / "weights.hdf5")
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(p.half().float())  # what fp16 storage keeps
        chars = batch_to_char_ids(SENTENCES)
        assert torch.equal(loaded(chars).layers, reference(chars).layers)
    assert next(loaded.parameters()).dtype == torch.float32


def test_softmax_side_file_errors_are_clear(tmp_path: Path, tiny_options):
    bilm, softmax, vocab = _model(tiny_options)
    with pytest.raises(WeightFileError, match="published biLMs ship no softmax"):
        load_softmax(tmp_path, 8)
    export_lm(tmp_path, bilm, softmax, vocab)
    with pytest.raises(WeightFileError, match=r"softmax/W has shape .* expected"):
        load_softmax(tmp_path, 16)
    with pytest.raises(ValueError, match="rows but the vocabulary"):
        export_lm(tmp_path / "x", bilm, FullSoftmax(8, 3), vocab)
