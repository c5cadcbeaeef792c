"""Official weight files: mismatch errors name the dataset and both shapes; save → load is bit-identical."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from elmo_lab.bilm import WeightFileError, BiLMConfigError, load_bilm, save_bilm

SENTENCES = [["The", "biLM", "reads", "characters", "."], ["Ünïcode", "too"], ["x"]]


def _datasets(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[...]) if isinstance(obj, h5py.Dataset) else None)
    return out


def _modified_copy(src: Path, dst: Path, drop: str | None = None, replace: dict[str, np.ndarray] | None = None):
    """Copy an hdf5 weight file, leaving out ``drop`` and swapping in arrays from ``replace``."""
    replace = replace or {}
    with h5py.File(dst, "w") as fout:
        for name, array in _datasets(src).items():
            if name == drop:
                continue
            fout.create_dataset(name, data=replace.get(name, array))


def test_missing_dataset_is_named(bilm_tf_dir, tmp_path):
    name = "RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_P_0"
    weights = tmp_path / "w.hdf5"
    _modified_copy(bilm_tf_dir / "lm_weights.hdf5", weights, drop=name)
    with pytest.raises(WeightFileError) as e:
        load_bilm(bilm_tf_dir / "options.json", weights)
    assert f"dataset {name!r} is missing" in str(e.value) and str(weights) in str(e.value)


@pytest.mark.parametrize("name,bad_shape,good_shape", [
    ("CNN_proj/W_proj", (124, 17), (124, 16)),
    ("RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0", (33, 256), (32, 256)),
    ("CNN/W_cnn_2", (1, 3, 4, 15), (1, 3, 4, 16)),
    ("char_embed", (262, 4), (261, 4)),
])
def test_wrong_shape_names_dataset_and_both_shapes(bilm_tf_dir, tmp_path, name, bad_shape, good_shape):
    weights = tmp_path / "w.hdf5"
    _modified_copy(bilm_tf_dir / "lm_weights.hdf5", weights, replace={name: np.zeros(bad_shape, np.float32)})
    with pytest.raises(WeightFileError) as e:
        load_bilm(bilm_tf_dir / "options.json", weights)
    message = str(e.value)
    assert repr(name) in message and str(bad_shape) in message and str(good_shape) in message, message
    assert "\n" not in message


def test_options_that_disagree_with_the_weights(bilm_tf_dir, tmp_path):
    options = json.loads((bilm_tf_dir / "options.json").read_text())
    options["lstm"]["projection_dim"] = 8
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    with pytest.raises(WeightFileError, match=r"'CNN_proj/W_proj' has shape \(124, 16\), the options need \(124, 8\)"):
        load_bilm(path, bilm_tf_dir / "lm_weights.hdf5")


def test_unreadable_files(bilm_tf_dir, tmp_path):
    with pytest.raises(WeightFileError, match="weight file not found"):
        load_bilm(bilm_tf_dir / "options.json", tmp_path / "none.hdf5")
    junk = tmp_path / "junk.hdf5"
    junk.write_text("not hdf5")
    with pytest.raises(WeightFileError, match="not a readable HDF5 file"):
        load_bilm(bilm_tf_dir / "options.json", junk)
    with pytest.raises(BiLMConfigError, match="options file not found"):
        load_bilm(tmp_path / "none.json", bilm_tf_dir / "lm_weights.hdf5")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"lstm": {\n  "dim": }')
    with pytest.raises(BiLMConfigError, match=r"bad\.json:2: not valid JSON"):
        load_bilm(bad_json, bilm_tf_dir / "lm_weights.hdf5")


def test_save_load_round_trip_is_bit_identical(bilm_tf_dir, tmp_path):
    original = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")
    save_bilm(original, tmp_path / "options.json", tmp_path / "weights.hdf5")
    reference, saved = _datasets(bilm_tf_dir / "lm_weights.hdf5"), _datasets(tmp_path / "weights.hdf5")
    assert sorted(saved) == sorted(reference)
    for name, array in reference.items():
        assert saved[name].dtype == np.float32 and saved[name].shape == array.shape, name
        assert np.array_equal(saved[name], array), name
    assert json.loads((tmp_path / "options.json").read_text()) == json.loads((bilm_tf_dir / "options.json").read_text())
    assert not list(tmp_path.glob("*.tmp")), "atomic save must not leave temporary files"
    reloaded = load_bilm(tmp_path / "options.json", tmp_path / "weights.hdf5")
    assert torch.equal(original.embed_sentences(SENTENCES).layers, reloaded.embed_sentences(SENTENCES).layers)

