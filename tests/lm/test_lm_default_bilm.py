"""The packaged default biLM (``bilm=default``): shipped, small, loads offline, embeds, and has its LM softmax."""
import json

import pytest
import torch

from elmo_lab.bilm.pretrained import default_bilm_dir, load_named_bilm
from elmo_lab.lm.export import load_lm
from elmo_lab.lm.perplexity import evaluate_perplexity

SENTENCES = [["This", "movie", "was", "great", "fun", "."], ["The", "plot", "made", "no", "sense", "at", "all", "."]]


def test_default_bilm_is_shipped_small_and_documented():
    folder = default_bilm_dir()
    names = {p.name for p in folder.iterdir()}
    assert {"options.json", "weights.hdf5", "lm_softmax.hdf5", "vocab.txt", "lm_metadata.json"} <= names
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 20 * 2**20
    meta = json.loads((folder / "lm_metadata.json").read_text())
    assert meta["command"].startswith("python pretrain.py") and meta["tokens_seen"] > 1_000_000
    assert set(meta["perplexity"]["test"]) >= {"forward", "backward", "average"}


def test_default_bilm_embeds_offline():
    bilm = load_named_bilm("default")
    out = bilm.embed_sentences(SENTENCES)
    assert out.layers.shape == (2, bilm.num_layers, 8, bilm.output_dim)
    assert torch.isfinite(out.layers).all() and out.mask.sum().item() == 14


@pytest.mark.slow
def test_default_bilm_softmax_predicts_english_far_better_than_chance():
    bilm, softmax, vocab = load_lm(default_bilm_dir())
    ppl = evaluate_perplexity(bilm, softmax, vocab, SENTENCES * 4)
    # uniform guessing gives len(vocab) (30,000); the shipped model measures 21.4 (forward 19.9, backward 23.1)
    assert ppl["average"] < 25 and ppl["forward"] < 25 and ppl["backward"] < 25
