"""The real all-MiniLM-L6-v2 through ``bilm=minilm`` (``python -m elmo_lab fetch minilm`` first; skipped, saying so,
when it is not in the cache): its shape, and its word vectors equal to the model's own piece vectors."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from elmo_lab.contextual.hf import HfEncoder  # noqa: E402
from elmo_lab.contextual.hf_source import minilm_dir  # noqa: E402

pytestmark = pytest.mark.skipif(not (minilm_dir() / "config.json").is_file(),
                                reason="all-MiniLM-L6-v2 not fetched: run `python -m elmo_lab fetch minilm`")


def test_minilm_is_a_6_layer_384_wide_bert_read_word_by_word() -> None:
    from transformers import AutoModel, AutoTokenizer

    assert HfEncoder.layers_in({"spec": "minilm"}) == 7
    encoder = HfEncoder.from_config({"spec": "minilm", "pooling": "first"})
    assert (encoder.num_layers, encoder.output_dim, encoder.window) == (7, 384, 512)
    assert sum(p.numel() for p in encoder.model.parameters()) == pytest.approx(22.7e6, rel=0.01)
    words = ["The", "river", "bank", "flooded", "."]
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()))
    model = AutoModel.from_pretrained(str(minilm_dir())).eval()
    pieces = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        layers = encoder.encode([words])[0]  # (7, 5, 384)
        hidden = torch.stack(model(**pieces, output_hidden_states=True).hidden_states)[:, 0]  # (7, pieces, 384)
    first_piece = [pieces.word_ids().index(w) for w in range(len(words))]
    assert torch.allclose(layers, hidden[:, first_piece], atol=1e-5)
