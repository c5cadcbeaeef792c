"""The residual (skip-connection) path every published ELMo model uses but the tiny fixture does not.

bilm-tf wraps every LSTM layer after the first in ``ResidualWrapper``: the layer's output is its LSTM output plus its
input, and that sum feeds the next layer.  Checked here by recomputing each layer with the stack's own modules.
"""
from __future__ import annotations

import torch

from elmo_lab.bilm import BiLM, BiLMOptions, batch_to_char_ids, load_bilm, save_bilm
from elmo_lab.bilm.lstm import reverse_padded

SENTENCES = [["The", "cat", "sat", "on", "the", "mat", "."], ["Hi", "!"], ["ELMo"]]
P = 8


def _tiny(skip: bool) -> BiLM:
    torch.manual_seed(0)
    options = BiLMOptions(filters=[[1, 4], [2, 8]], char_embedding_dim=4, n_highway=1, lstm_dim=16,
                          projection_dim=P, n_layers=3, cell_clip=3.0, proj_clip=3.0, use_skip_connections=skip)
    bilm = BiLM(options)
    with torch.no_grad():  # larger weights than the default init so the layers differ clearly
        for param in bilm.parameters():
            param.mul_(3.0)
    return bilm.eval()


def _by_hand(bilm: BiLM, ids: torch.Tensor) -> list[torch.Tensor]:
    """Each biLSTM layer ``(batch, time, 2P)``: LSTM_k(input) + input for k > 0, input = previous layer output."""
    lengths = (ids > 0).any(-1).sum(-1)  # (batch,)
    tokens = bilm.token_encoder(ids)  # (batch, time, P)
    directions = []
    for stack, x in ((bilm.forward_lstm, tokens), (bilm.backward_lstm, reverse_padded(tokens, lengths))):
        outputs = []
        for k, layer in enumerate(stack.layers):
            zeros = (x.new_zeros(x.size(0), layer.dim), x.new_zeros(x.size(0), layer.projection_dim))
            lstm_out, _ = layer(x, lengths, zeros)  # (batch, time, P)
            x = lstm_out + x if k > 0 else lstm_out
            outputs.append(x)
        directions.append(outputs)
    backward = [reverse_padded(b, lengths) for b in directions[1]]
    return [torch.cat([f, b], -1) for f, b in zip(directions[0], backward)]


@torch.no_grad()
def test_layers_add_their_input():
    bilm = _tiny(skip=True)
    ids = batch_to_char_ids(SENTENCES)
    out = bilm(ids, keep_sentence_boundaries=True)
    expected = _by_hand(bilm, ids)
    for k, want in enumerate(expected, start=1):
        torch.testing.assert_close(out.layers[:, k], want, rtol=0, atol=1e-6)
    # layer 2 really is LSTM_2(layer 1) + layer 1, not the LSTM output alone
    lengths = (ids > 0).any(-1).sum(-1)
    layer1_fwd = out.layers[:, 1, :, :P]
    lstm2_fwd, _ = bilm.forward_lstm.layers[1](layer1_fwd, lengths, (torch.zeros(3, 16), torch.zeros(3, P)))
    torch.testing.assert_close(out.layers[:, 2, :, :P], lstm2_fwd + layer1_fwd, rtol=0, atol=1e-6)
    assert (out.layers[:, 2, :, :P] - lstm2_fwd).abs().max() > 0.1


@torch.no_grad()
def test_skip_flag_changes_outputs():
    ids = batch_to_char_ids(SENTENCES)
    with_skip, without = _tiny(skip=True)(ids).layers, _tiny(skip=False)(ids).layers
    assert torch.equal(with_skip[:, :2], without[:, :2])  # token layer and first LSTM layer have no skip
    assert not torch.allclose(with_skip[:, 2:], without[:, 2:])


@torch.no_grad()
def test_skip_model_round_trips(tmp_path):
    bilm = _tiny(skip=True)
    save_bilm(bilm, tmp_path / "options.json", tmp_path / "weights.hdf5")
    reloaded = load_bilm(tmp_path / "options.json", tmp_path / "weights.hdf5")
    assert reloaded.options.use_skip_connections and reloaded.options == bilm.options
    ids = batch_to_char_ids(SENTENCES)
    assert torch.equal(bilm(ids).layers, reloaded(ids).layers)
    for stateful_run in range(2):  # stateful mode too
        assert torch.equal(bilm(ids, stateful=True).layers, reloaded(ids, stateful=True).layers)
