"""The biLM reproduces the reference implementation's own outputs on its own test model (atol 1e-6)."""
from __future__ import annotations

import json

import h5py
import numpy as np
import torch

from elmo_lab.bilm import batch_to_char_ids, load_bilm


def test_top_layer_matches_reference_outputs_stateful(bilm_tf_dir):
    bilm = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")
    sentences = json.loads((bilm_tf_dir / "lm_embeddings_sentences.json").read_text())
    expected = [h5py.File(bilm_tf_dir / f"lm_embeddings_{k}.hdf5", "r") for k in range(3)]
    n_checked = 0
    for i in range(10):  # batch i = the i-th sentence of each of the three lists, state carried across batches
        batch = [sentences[k][i].split() for k in range(3)]
        with torch.no_grad():
            out = bilm(batch_to_char_ids(batch), stateful=True)
        for k, tokens in enumerate(batch):
            n = len(tokens)
            want = expected[k][str(i)][...]  # (2, n_tokens, projection_dim)
            got = np.stack([out.forward_top[k, :n].numpy(), out.backward_top[k, :n].numpy()])
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
            top = out.layers[k, -1, :n].numpy()  # [forward; backward] of the top layer
            np.testing.assert_allclose(top, np.concatenate([want[0], want[1]], -1), rtol=0, atol=1e-6)
            assert not out.layers[k, :, n:].any(), "positions past the sentence must be zero"
            n_checked += 1
    assert n_checked == 30


def test_stateless_differs_from_stateful_after_first_batch(bilm_tf_dir):
    """Stateful mode really carries state: the second batch changes when state is carried."""
    bilm = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")
    ids = batch_to_char_ids([["Hello", "world", "."], ["A", "b"]])
    with torch.no_grad():
        first = bilm(ids, stateful=False).layers
        bilm(ids, stateful=True)
        carried = bilm(ids, stateful=True).layers
        again = bilm(ids, stateful=False).layers
    assert torch.equal(first, again)
    assert not torch.allclose(first[:, 1:], carried[:, 1:])
    assert torch.equal(first[:, 0], carried[:, 0])  # layer 0 (token encoding) has no state


def test_carried_state_follows_the_model_to_another_dtype(bilm_tf_dir):
    """A stateful biLM moved after a call (``.double()`` here; Lightning moves models between devices) carries
    its state along instead of failing on mixed tensors."""
    ids = [batch_to_char_ids([["Hello", "world", "."], ["A", "b"]]), batch_to_char_ids([["More", "text"], ["c"]])]
    moved = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")
    reference = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5").double()
    with torch.no_grad():
        moved(ids[0], stateful=True)
        reference(ids[0], stateful=True)
        got = moved.double()(ids[1], stateful=True).layers
        want = reference(ids[1], stateful=True).layers
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
