"""The packaged transformer biLM (``bilm=default_transformer``): once ``elmo_lab/resources/default_transformer/``
holds the export of ``pretrain.py --config-name pretrain_default_transformer``, it is small, a transformer of the
default biLM's size trained by that command, loads offline, embeds, and predicts English far better than chance.
Skipped, saying so, while the directory holds no weights."""
import json

import pytest
import torch

from elmo_lab.bilm.pretrained import load_named_bilm, packaged_bilm_dir
from elmo_lab.bilm.transformer import TransformerBiLM
from elmo_lab.lm.export import load_lm
from elmo_lab.lm.perplexity import evaluate_perplexity

FOLDER = packaged_bilm_dir("default_transformer")
pytestmark = pytest.mark.skipif(not (FOLDER / "weights.hdf5").is_file(),
                                reason=f"{FOLDER} holds no weights.hdf5 (the trained export is not packaged yet)")
SENTENCES = [["This", "movie", "was", "great", "fun", "."], ["The", "plot", "made", "no", "sense", "at", "all", "."]]


def test_the_packaged_transformer_is_the_controlled_comparisons_model():
    names = {p.name for p in FOLDER.iterdir()}
    assert {"options.json", "weights.hdf5", "lm_softmax.hdf5", "vocab.txt", "lm_metadata.json"} <= names
    assert sum(p.stat().st_size for p in FOLDER.iterdir()) <= 20 * 2**20
    meta = json.loads((FOLDER / "lm_metadata.json").read_text())
    assert meta["command"].startswith("python pretrain.py --config-name pretrain_default_transformer")
    assert meta["global_steps"] == 3000 and 2_900_000 < meta["bilm_parameters"] < 3_100_000


def test_the_packaged_transformer_embeds_offline_and_predicts_english():
    bilm = load_named_bilm("default_transformer")
    assert isinstance(bilm, TransformerBiLM)
    out = bilm.embed_sentences(SENTENCES)
    assert out.layers.shape == (2, bilm.num_layers, 8, bilm.output_dim) and torch.isfinite(out.layers).all()
    bilm, softmax, vocab = load_lm(FOLDER)
    assert evaluate_perplexity(bilm, softmax, vocab, SENTENCES * 4)["average"] < 0.01 * len(vocab)
