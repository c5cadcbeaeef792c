"""Placements: widths for none/input/output/both, independent mixes, one biLM pass per batch, a frozen biLM."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.elmo.placements import ElmoPlacedEncoder
from elmo_lab.modules.encoders import BiLSTMEncoder
from elmo_lab.training.classifier import SentenceClassifier
from tasks.sentiment_schema import SentimentConfig

WORD, BILM_DIM, HIDDEN = 6, 16, 5


def _placed(placement: str, mix: str = "all", l2: float = 0.0) -> ElmoPlacedEncoder:
    return ElmoPlacedEncoder(WORD, 3, BILM_DIM, lambda d: BiLSTMEncoder(d, HIDDEN), placement=placement, mix=mix,
                             l2_coef=l2)


@pytest.mark.parametrize("placement, encoder_in, out, mixes", [
    ("none", WORD, 2 * HIDDEN, []),
    ("input", WORD + BILM_DIM, 2 * HIDDEN, ["input"]),
    ("output", WORD, 2 * HIDDEN + BILM_DIM, ["output"]),
    ("both", WORD + BILM_DIM, 2 * HIDDEN + BILM_DIM, ["input", "output"]),
])
def test_widths_and_mixes(placement: str, encoder_in: int, out: int, mixes: list[str]) -> None:
    enc = _placed(placement)
    assert enc.encoder.lstm.input_size == encoder_in
    assert enc.output_dim == out
    assert list(enc.mixes()) == mixes
    words, mask = torch.randn(2, 4, WORD), torch.tensor([[True] * 4, [True, True, False, False]])
    layers = torch.randn(2, 3, 4, BILM_DIM) if placement != "none" else None
    assert enc(words, mask, layers).shape == (2, 4, out)


def test_both_has_two_independent_mixes_and_sums_their_penalties() -> None:
    enc = _placed("both", l2=0.5)
    assert enc.input_mix is not enc.output_mix
    with torch.no_grad():
        enc.input_mix.weights.copy_(torch.tensor([1.0, 0.0, 0.0]))
        enc.output_mix.weights.copy_(torch.tensor([0.0, 2.0, 0.0]))
    assert enc.regularization_loss().item() == pytest.approx(0.5 * (1 + 4))
    assert not torch.equal(enc.input_mix.normalized_weights(), enc.output_mix.normalized_weights())


def test_missing_bilm_layers_is_an_error() -> None:
    with pytest.raises(ValueError, match="needs the biLM layers"):
        _placed("input")(torch.randn(1, 2, WORD), torch.ones(1, 2, dtype=torch.bool))


def _model(tiny_bilm_dir: Path, placement: str, freeze: bool = True, cache: bool = False) -> SentenceClassifier:
    task = OmegaConf.to_container(OmegaConf.structured(SentimentConfig(name="mr", word_dim=6, hidden_dim=5)),
                                  enum_to_str=True)
    elmo = dict(placement=placement, mix="all", layer=None, layer_norm=False, dropout=0.0, l2_coef=0.1)
    bilm = dict(spec=str(tiny_bilm_dir), freeze=freeze, stateful=False, cache=cache,
                finetune=dict(enabled=False))
    return SentenceClassifier(task=task, elmo=ContextualLayers.from_config(bilm, needed=placement != "none"),
                               settings=elmo, data_info={"vocab_size": 20, "num_classes": 2})


def _batch() -> dict:
    from elmo_lab.bilm.chars import batch_to_char_ids

    tokens = [["a", "good", "film"], ["bad"]]
    word_ids = torch.tensor([[2, 3, 4], [5, 0, 0]])
    return {"tokens": tokens, "word_ids": word_ids, "mask": word_ids.ne(0), "encoder_input": batch_to_char_ids(tokens),
            "labels": torch.tensor([1, 0])}


def test_bilm_runs_once_per_batch_with_two_mixes(tiny_bilm_dir: Path) -> None:
    model = _model(tiny_bilm_dir, "both")
    calls = []
    model.elmo.encoder.bilm.register_forward_hook(lambda *args: calls.append(1))
    loss, _, _ = model.step(_batch())
    assert len(model.mixes()) == 2 and len(calls) == 1


def test_frozen_bilm_gets_no_gradients_but_the_mixes_do(tiny_bilm_dir: Path) -> None:
    model = _model(tiny_bilm_dir, "both")
    model.train()
    assert not model.elmo.encoder.bilm.training  # frozen: kept in eval mode
    loss, _, _ = model.step(_batch())
    (loss + model.regularization_loss()).backward()
    assert all(p.grad is None for p in model.elmo.encoder.bilm.parameters())
    for mix in model.mixes().values():
        assert mix.weights.grad is not None and mix.gamma.grad is not None


def test_unfrozen_bilm_is_trained(tiny_bilm_dir: Path) -> None:
    model = _model(tiny_bilm_dir, "input", freeze=False)
    loss, _, _ = model.step(_batch())
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.elmo.encoder.bilm.parameters())


def test_cached_bilm_layers_match_a_fresh_pass(tiny_bilm_dir: Path) -> None:
    model = _model(tiny_bilm_dir, "input", cache=True)
    batch = _batch()
    fresh = model.elmo.layers_of(batch)  # (2, 3, 3, 16)
    model.elmo.cache.fill(model.elmo.encoder, batch["tokens"] + [["unused"]])
    calls = []
    model.elmo.encoder.bilm.register_forward_hook(lambda *args: calls.append(1))
    cached = model.elmo.layers(batch["tokens"])
    assert not calls and cached.shape == fresh.shape
    assert torch.allclose(cached, fresh, atol=2e-3)  # float16 storage
