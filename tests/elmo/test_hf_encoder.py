"""``bilm.kind=hf``: tiny BERT-, RoBERTa- and GPT-2-style models written by the test (never the hub); sub-word
pooling against a hand-computed case, windowing against an unwindowed run, the layer set, bad input by key."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from elmo_lab.config.schema import ConfigError  # noqa: E402
from elmo_lab.contextual.hf import HfEncoder  # noqa: E402
from elmo_lab.contextual.hf_words import pieces_of, pool_words, windows  # noqa: E402

from hf_models import tiny_bert, tiny_gpt2, tiny_roberta  # noqa: E402

SENTENCE = ["John", "playing", "unbelievable", "."]
BUILDERS = {"bert": tiny_bert, "roberta": tiny_roberta, "gpt2": tiny_gpt2}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    return {name: build(root / name) for name, build in BUILDERS.items()}


def test_pooling_by_hand() -> None:
    pieces = torch.tensor([[[1.0], [2.0], [4.0], [8.0], [16.0]]])  # (L=1, 5 pieces, dim=1)
    words = [0, 1, 1, 1, 3]  # word 2 has no piece
    expected = {"first": [1, 2, 0, 16], "last": [1, 8, 0, 16], "mean": [1, 14 / 3, 0, 16]}
    for pooling, values in expected.items():
        got = pool_words(pieces, words, 4, pooling)[0, :, 0]
        assert torch.allclose(got, torch.tensor(values, dtype=torch.float)), pooling


def test_pooling_of_a_real_tokenizer_by_hand(models: dict[str, Path]) -> None:
    """BERT splits playing → play ##ing, unbelievable → un ##believ ##able: the word vector of 'unbelievable'
    is the first / mean / last of its three pieces' vectors, read from an unpooled run of the model."""
    from transformers import AutoModel

    encoder = HfEncoder.from_config({"spec": str(models["bert"]), "pooling": "mean"})
    pieces = pieces_of(encoder.tokenizer, SENTENCE)
    assert pieces.words == [0, 1, 1, 2, 2, 2, 3]
    model = AutoModel.from_pretrained(str(models["bert"])).eval()
    ids = torch.tensor([pieces.prefix + pieces.ids + pieces.suffix])
    with torch.no_grad():
        hidden = torch.stack(model(input_ids=ids, output_hidden_states=True).hidden_states)[:, 0]  # (L+1, n, dim)
    unbelievable = hidden[:, 4:7]  # after [CLS] John play ##ing
    for pooling, expected in (("first", unbelievable[:, 0]), ("last", unbelievable[:, 2]),
                              ("mean", unbelievable.mean(dim=1))):
        encoder.pooling = pooling
        with torch.no_grad():
            got = encoder.encode([SENTENCE])[0, :, 2]  # (L+1, dim)
        assert torch.allclose(got, expected, atol=1e-6), pooling


def test_windows_cover_every_piece_with_the_most_context() -> None:
    assert windows(5, 8) == ([(0, 5)], [0] * 5)
    spans, owner = windows(10, 4)
    assert spans == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert owner == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]  # the window where the piece is furthest from an edge
    for piece, window in enumerate(owner):
        assert spans[window][0] <= piece < spans[window][1]


@pytest.mark.parametrize("name", list(BUILDERS))
def test_windowing_matches_an_unwindowed_run_where_both_fit(name: str, models: dict[str, Path]) -> None:
    """With a window as wide as the sentence the result is the unwindowed one; a narrow window still gives every
    word a vector (nothing truncated), equal to the unwindowed one for a causal model's first window."""
    long = (SENTENCE + ["the", "film", "is", "good"]) * 3
    whole = HfEncoder.from_config({"spec": str(models[name])})
    n_pieces = len(pieces_of(whole.tokenizer, long).ids) + len(pieces_of(whole.tokenizer, long).prefix) * 2
    exact = HfEncoder.from_config({"spec": str(models[name]), "window": n_pieces})
    narrow = HfEncoder.from_config({"spec": str(models[name]), "window": 12})
    with torch.no_grad():
        reference, same, windowed = (e.encode([long, SENTENCE]) for e in (whole, exact, narrow))
    assert torch.allclose(reference, same, atol=1e-6)
    assert torch.allclose(reference[1], windowed[1], atol=1e-6)  # a short sentence fits one window
    assert windowed[0].abs().sum(dim=(0, 2)).gt(0).all()  # every word of the long one has its vector
    if name == "gpt2":  # causal: the first window's pieces see exactly what they see unwindowed
        assert torch.allclose(reference[0, :, :2], windowed[0, :, :2], atol=1e-6)


def test_a_long_sentence_beyond_the_positions_is_windowed_not_truncated(tmp_path: Path) -> None:
    encoder = HfEncoder.from_config({"spec": str(tiny_bert(tmp_path / "short", positions=8))})
    assert encoder.window == 8
    with torch.no_grad():
        layers = encoder.encode([SENTENCE * 5])  # 35 pieces + 2 special tokens through 8 positions
    assert layers.shape == (1, 3, 20, 8) and layers.abs().sum(dim=(1, 3)).gt(0).all()


def test_the_layer_set(models: dict[str, Path]) -> None:
    spec = str(models["bert"])
    full = HfEncoder.from_config({"spec": spec})
    cut = HfEncoder.from_config({"spec": spec, "max_layer": 1})
    no_embeddings = HfEncoder.from_config({"spec": spec, "include_embeddings": False})
    assert (full.num_layers, cut.num_layers, no_embeddings.num_layers) == (3, 2, 2)
    assert HfEncoder.layers_in({"spec": spec, "max_layer": 1}) == 2
    with torch.no_grad():
        a, b, c = (e.encode([SENTENCE]) for e in (full, cut, no_embeddings))
    assert torch.equal(a[:, :2], b) and torch.equal(a[:, 1:], c)
    identities = {e.cache_identity() for e in (full, cut, no_embeddings)}
    identities.add(HfEncoder.from_config({"spec": spec, "pooling": "first"}).cache_identity())
    assert len(identities) == 4 and full.cache_identity() == HfEncoder.from_config({"spec": spec}).cache_identity()


@pytest.mark.parametrize("keys, message", [
    ({"max_layer": 3}, r"bilm.max_layer: the model has layers 0..2, got 3"),
    ({"max_layer": 0, "include_embeddings": False}, r"bilm.max_layer: the model has layers 1..2"),
    ({"pooling": "max"}, r"bilm.pooling: expected one of first, mean, last, got 'max'"),
    ({"window": 2}, r"bilm.window: must be >= 3"),
    ({"finetune": {"enabled": True}}, r"bilm.finetune.enabled: LM fine-tuning is for bilm.kind=lstm"),
])
def test_bad_keys_name_the_key(keys: dict, message: str, models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=message):
        HfEncoder.from_config({"spec": str(models["bert"]), **keys})


def test_bad_specs_name_the_key(models: dict[str, Path], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (no_weights / name).write_bytes((models["bert"] / name).read_bytes())
    no_tokenizer = tmp_path / "no_tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        (no_tokenizer / name).write_bytes((models["bert"] / name).read_bytes())
    cases = {str(no_weights): r"bilm.spec: .*no_weights is not a Hugging Face model directory: no weights",
             str(no_tokenizer): r"bilm.spec: .*no_tokenizer is not a Hugging Face model directory: no tokenizer file",
             str(tmp_path / "absent"): r"bilm.spec: .*absent is not a directory",
             "someone/not-downloaded": r"bilm.spec: hub model 'someone/not-downloaded' is not in the local"}
    for spec, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            HfEncoder.from_config({"spec": spec})


def test_an_architecture_without_hidden_states_is_refused_at_load(models: dict[str, Path],
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    from transformers import BertModel
    from transformers.modeling_outputs import BaseModelOutput

    unknown = tmp_path / "unknown_type"
    unknown.mkdir()
    for name in ("model.safetensors", "tokenizer.json"):
        (unknown / name).write_bytes((models["bert"] / name).read_bytes())
    (unknown / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(ConfigError, match=r"bilm.spec: .*config.json is not a model config"):
        HfEncoder.from_config({"spec": str(unknown)})
    monkeypatch.setattr(BertModel, "forward", lambda self, input_ids, **kwargs: BaseModelOutput(
        last_hidden_state=torch.zeros(*input_ids.shape, 8)))
    with pytest.raises(ConfigError, match=r"bilm.spec: .*BertModel returns no hidden states"):
        HfEncoder.from_config({"spec": str(models["bert"])})
