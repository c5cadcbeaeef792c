"""Official weight files: mismatch errors name the dataset and both shapes; save → load is bit-identical."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from elmo_lab.bilm import BiLMConfigError, WeightFileError, batch_to_char_ids, load_bilm, save_bilm

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



def test_unprojected_shapes_have_no_cnn_proj_or_w_p_as_in_bilm_tf(tmp_path):
    """bilm-tf omits ``CNN_proj`` when the filters number ``projection_dim`` and ``W_P_0`` when ``projection_dim ==
    dim`` (a plain LSTM cell, ``h = o * tanh(c)``, no projection clip); such files load and round-trip."""
    from elmo_lab.bilm import BiLM
    from elmo_lab.bilm.options import BiLMOptions

    options = {"lstm": {"dim": 8, "projection_dim": 8, "n_layers": 2, "cell_clip": 3, "proj_clip": 3,
                        "use_skip_connections": True},
               "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 3], [2, 5]], "n_highway": 1,
                            "n_characters": 262, "max_characters_per_token": 50, "activation": "relu"}}
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions.from_dict(options)).eval()
    assert isinstance(bilm.token_encoder.projection, torch.nn.Identity)
    layer = bilm.forward_lstm.layers[0]
    assert layer.projection is None and layer.proj_clip is None
    save_bilm(bilm, tmp_path / "options.json", tmp_path / "weights.hdf5")
    names = set(_datasets(tmp_path / "weights.hdf5"))
    assert not any(n.startswith("CNN_proj") or n.endswith("W_P_0") for n in names)
    assert "RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0" in names
    reloaded = load_bilm(tmp_path / "options.json", tmp_path / "weights.hdf5")
    out = bilm.embed_sentences(SENTENCES)
    assert torch.equal(out.layers, reloaded.embed_sentences(SENTENCES).layers)
    # the LSTM output is o * tanh(c): recompute the first forward step of the first layer by hand
    char_ids = batch_to_char_ids(SENTENCES)
    with torch.no_grad():
        tokens = bilm.token_encoder(char_ids)  # (batch, time, 8)
        gates = layer.input_gates(tokens[0, 0])  # zero initial state: the recurrent half is zero
        i, j, f, o = gates.chunk(4)
        c = (torch.sigmoid(i) * torch.tanh(j)).clamp(-3, 3)
        first = bilm(char_ids, keep_sentence_boundaries=True).layers[0, 1, 0, :8]  # forward half of layer 1, <S>
    torch.testing.assert_close(first, torch.sigmoid(o) * torch.tanh(c), rtol=0, atol=1e-6)


def test_projection_wider_than_the_lstm_is_a_config_error():
    from elmo_lab.bilm.options import BiLMOptions

    with pytest.raises(BiLMConfigError, match=r"lstm.projection_dim \(16\) must be <= lstm.dim \(8\)"):
        BiLMOptions.from_dict({"lstm": {"dim": 8, "projection_dim": 16, "n_layers": 1},
                               "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4]], "n_highway": 0,
                                            "n_characters": 262}})
