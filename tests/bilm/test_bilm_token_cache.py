"""The cross-batch token cache changes no output, is used only for inference, and empties when weights change."""
from __future__ import annotations

import torch

from elmo_lab.bilm import BiLM, BiLMOptions, batch_to_char_ids

TINY = BiLMOptions(filters=[[1, 4], [2, 8], [3, 8]], char_embedding_dim=4, n_highway=1, lstm_dim=16,
                   projection_dim=8, n_layers=2, cell_clip=3.0, proj_clip=3.0, use_skip_connections=True)
BATCHES = [[["the", "film", "is", "good", "."], ["a", "bad", "film"]],
           [["the", "plot", "is", "thin", "."], ["good", "acting", ",", "bad", "film", "!"]],
           [["the", "film", "."]]]


def _run(bilm: BiLM) -> list[torch.Tensor]:
    with torch.no_grad():
        return [bilm(batch_to_char_ids(b)).layers for b in BATCHES]


def test_cached_outputs_equal_uncached():
    torch.manual_seed(0)
    bilm = BiLM(TINY).eval()
    cache = bilm.token_encoder.token_cache
    cached = _run(bilm)
    assert cache.hits > 0 and cache.misses > 0  # "the", "film", <S>, </S> come back in later batches
    bilm.token_encoder.set_token_cache(0)
    for a, b in zip(cached, _run(bilm)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_cache_not_used_for_training_or_with_gradients():
    bilm = BiLM(TINY)
    ids = batch_to_char_ids(BATCHES[0])
    bilm.train()
    with torch.no_grad():
        bilm(ids)
    bilm.eval()
    bilm(ids)  # gradients enabled
    cache = bilm.token_encoder.token_cache
    assert cache.hits == cache.misses == 0


def test_cache_empties_when_weights_change_in_place():
    torch.manual_seed(0)
    bilm = BiLM(TINY).eval()
    ids = batch_to_char_ids(BATCHES[0])
    with torch.no_grad():
        before = bilm(ids).layers
        bilm.token_encoder.projection.bias.add_(1.0)  # like an optimizer step
        after = bilm(ids).layers
        bilm.token_encoder.set_token_cache(0)
        expected = bilm(ids).layers
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, rtol=0, atol=1e-6)


def test_capacity_bounds_the_cache():
    bilm = BiLM(TINY).eval()
    bilm.token_encoder.set_token_cache(3)
    with torch.no_grad():
        outputs = _run(bilm)
    assert len(bilm.token_encoder.token_cache._rows) == 3
    bilm.token_encoder.set_token_cache(0)
    for a, b in zip(outputs, _run(bilm)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_cache_empties_when_the_encoder_moves_to_another_dtype_or_device():
    """Lightning moves a model back to the CPU after a GPU fit: cached vectors must not outlive the move."""
    torch.manual_seed(0)
    bilm = BiLM(TINY).eval()
    ids = batch_to_char_ids(BATCHES[0])
    with torch.no_grad():
        bilm(ids)
        bilm.double()
        out = bilm(ids).layers
    assert out.dtype == torch.float64
    bilm.token_encoder.set_token_cache(0)
    with torch.no_grad():
        torch.testing.assert_close(out, bilm(ids).layers, rtol=0, atol=1e-12)
