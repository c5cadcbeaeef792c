"""Published model names, the spec resolver and fetching through the cache (file:// server, never the network)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from elmo_lab.bilm import BiLM, BiLMConfigError, BiLMOptions, load_bilm
from elmo_lab.bilm import pretrained
from elmo_lab.bilm.pretrained import PUBLISHED, fetch_published, load_named_bilm, resolve_bilm


def test_published_urls():
    base = "https://allennlp.s3.amazonaws.com/models/elmo"
    expected = {
        "elmo_small": "2x1024_128_2048cnn_1xhighway",
        "elmo_medium": "2x2048_256_2048cnn_1xhighway",
        "elmo_original": "2x4096_512_2048cnn_2xhighway",
        "elmo_original_5.5B": "2x4096_512_2048cnn_2xhighway_5.5B",
    }
    assert set(PUBLISHED) == set(expected)
    for name, directory in expected.items():
        model = PUBLISHED[name]
        assert model.options_url == f"{base}/{directory}/elmo_{directory}_options.json"
        assert model.weights_url == f"{base}/{directory}/elmo_{directory}_weights.hdf5"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_recorded_architecture_has_the_published_parameter_count(name):
    """The architecture recorded for each name has the parameter count the paper / AllenNLP give (13.6M, ...)."""
    model = PUBLISHED[name]
    with torch.device("meta"):  # shapes only, no memory
        bilm = BiLM(model.options)
    n = sum(p.numel() for p in bilm.parameters())
    assert round(n / 1e6, 1) == model.n_params_millions


def _serve(root: Path, directory: str, options: dict) -> None:
    """Lay out a fake model server folder like the S3 one."""
    folder = root / directory
    folder.mkdir(parents=True)
    (folder / f"elmo_{directory}_options.json").write_text(json.dumps(options))
    (folder / f"elmo_{directory}_weights.hdf5").write_bytes(b"weights bytes")


def test_fetch_published_downloads_into_cache_once(tmp_path, monkeypatch):
    server = tmp_path / "server"
    model = PUBLISHED["elmo_small"]
    _serve(server, model.directory, model.options.to_dict())
    monkeypatch.setattr(pretrained, "BASE_URL", server.as_uri())
    cache = tmp_path / "cache"
    options, weights = fetch_published("elmo_small", cache_dir=cache, progress=False)
    folder = cache / "bilm" / model.directory
    assert options == folder / f"elmo_{model.directory}_options.json"
    assert weights == folder / f"elmo_{model.directory}_weights.hdf5"
    assert weights.read_bytes() == b"weights bytes"
    shutil.rmtree(server)  # second call must come from the cache
    assert resolve_bilm("2x1024_128_2048cnn_1xhighway", cache_dir=cache, progress=False) == (options, weights)


def test_fetch_published_rejects_options_of_another_model(tmp_path, monkeypatch, bilm_tf_dir):
    server = tmp_path / "server"
    model = PUBLISHED["elmo_medium"]
    _serve(server, model.directory, json.loads((bilm_tf_dir / "options.json").read_text()))
    monkeypatch.setattr(pretrained, "BASE_URL", server.as_uri())
    with pytest.raises(BiLMConfigError, match="does not describe elmo_medium.*'lstm_dim': 2048"):
        fetch_published("elmo_medium", cache_dir=tmp_path / "cache", progress=False)


def test_fetch_uses_env_cache(tmp_path, monkeypatch):
    server = tmp_path / "server"
    model = PUBLISHED["elmo_original_5.5B"]
    _serve(server, model.directory, model.options.to_dict())
    monkeypatch.setattr(pretrained, "BASE_URL", server.as_uri())
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "envcache"))
    options, _ = resolve_bilm("elmo_original_5.5B", progress=False)
    assert options.parent == tmp_path / "envcache" / "bilm" / model.directory


def test_unknown_name_lists_valid_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BiLMConfigError) as e:
        resolve_bilm("elmo_huge")
    message = str(e.value)
    assert "'elmo_huge'" in message and "\n" not in message
    for name in PUBLISHED:
        assert name in message
    with pytest.raises(BiLMConfigError, match="valid names: elmo_small, elmo_medium"):
        pretrained.published_model("elmo_huge")


@pytest.mark.parametrize("name", ["default", "default_transformer"])
def test_a_packaged_bilm_not_shipped_is_a_clear_error(name, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "packaged_bilm_dir", lambda spec: tmp_path / spec)
    with pytest.raises(BiLMConfigError, match=f"packaged biLM .{name}. is not shipped"):
        resolve_bilm(name)


def test_default_when_shipped(tmp_path, monkeypatch, bilm_tf_dir):
    folder = tmp_path / "default_bilm"
    folder.mkdir()
    shutil.copy(bilm_tf_dir / "options.json", folder / "options.json")
    shutil.copy(bilm_tf_dir / "lm_weights.hdf5", folder / "weights.hdf5")
    monkeypatch.setattr(pretrained, "packaged_bilm_dir", lambda spec: folder)
    assert resolve_bilm("default") == (folder / "options.json", folder / "weights.hdf5")


def test_default_dir_is_inside_the_package():
    assert pretrained.default_bilm_dir().parts[-3:] == ("elmo_lab", "resources", "default_bilm")
    assert pretrained.packaged_bilm_dir("default_transformer").parts[-2:] == ("resources", "default_transformer")


def test_directory_and_pair_specs(tmp_path, bilm_tf_dir):
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(bilm_tf_dir / "options.json", plain / "options.json")
    shutil.copy(bilm_tf_dir / "lm_weights.hdf5", plain / "weights.hdf5")
    assert resolve_bilm(str(plain)) == (plain / "options.json", plain / "weights.hdf5")

    published_style = tmp_path / "published_style"
    published_style.mkdir()
    shutil.copy(bilm_tf_dir / "options.json", published_style / "elmo_x_options.json")
    shutil.copy(bilm_tf_dir / "lm_weights.hdf5", published_style / "elmo_x_weights.hdf5")
    assert resolve_bilm(str(published_style)) == (published_style / "elmo_x_options.json",
                                                  published_style / "elmo_x_weights.hdf5")

    pair = f"{bilm_tf_dir / 'options.json'},{bilm_tf_dir / 'lm_weights.hdf5'}"
    assert resolve_bilm(pair) == (bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BiLMConfigError, match="expected options.json and weights.hdf5"):
        resolve_bilm(str(empty))
    with pytest.raises(BiLMConfigError, match=r"nope\.hdf5: weight file not found"):
        resolve_bilm(f"{bilm_tf_dir / 'options.json'},{tmp_path / 'nope.hdf5'}")
    with pytest.raises(BiLMConfigError, match="exactly OPTIONS.json,WEIGHTS.hdf5"):
        resolve_bilm("a.json,b.hdf5,c")


def test_load_named_bilm_equals_load_bilm(tmp_path, bilm_tf_dir):
    pair = f"{bilm_tf_dir / 'options.json'},{bilm_tf_dir / 'lm_weights.hdf5'}"
    named = load_named_bilm(pair)
    direct = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")
    assert isinstance(named, BiLM) and not named.training
    assert isinstance(named.options, BiLMOptions)
    sentences = [["Hello", "world", "."], ["ELMo"]]
    assert torch.equal(named.embed_sentences(sentences).layers, direct.embed_sentences(sentences).layers)
