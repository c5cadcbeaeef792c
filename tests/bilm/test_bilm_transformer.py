"""The transformer biLM: each direction is a true LM (causal both ways, padding invisible), its layers have the LSTM
biLM's layout, its options and weights round-trip through the export, and its default size matches the LSTM's."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from elmo_lab.bilm.architectures import load_options, options_from_dict
from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.bilm.options import BiLMConfigError
from elmo_lab.bilm.transformer import TransformerBiLM, sinusoidal_positions
from elmo_lab.bilm.transformer_options import TransformerOptions
from elmo_lab.bilm.weights import load_bilm, save_bilm
from elmo_lab.data.vocab import Vocabulary
from elmo_lab.lm.export import export_lm, load_lm
from elmo_lab.lm.softmax import FullSoftmax

from train_helpers import TINY_TRANSFORMER, tiny_transformer

DIM = TINY_TRANSFORMER["dim"]
SENTENCE = ["<S>", "The", "cat", "sat", "on", "the", "mat", "</S>"]  # what the LM reads (boundaries kept)


def _halves(tokens: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward and backward halves of layers 1..L, ``(L, time, DIM)`` each, boundaries kept."""
    with torch.no_grad():
        out = tiny_transformer()(batch_to_char_ids([tokens[1:-1]]), keep_sentence_boundaries=True)
    return out.layers[0, 1:, :, :DIM], out.layers[0, 1:, :, DIM:]


@pytest.mark.parametrize("k", [2, 3, 5])
def test_forward_never_sees_later_tokens_and_backward_never_earlier_ones(k: int) -> None:
    forward, backward = _halves(SENTENCE)
    later = SENTENCE[: k + 1] + ["under", "a", "big", "rug", "</S>"]  # positions after k change (and the length)
    earlier = ["<S>"] + ["One", "big", "dog", "ran"][: k - 1] + SENTENCE[k:]  # positions 1 .. k - 1 change
    assert len(earlier) == len(SENTENCE) and earlier[:k] != SENTENCE[:k]
    f_later, b_later = _halves(later)
    f_earlier, b_earlier = _halves(earlier)
    torch.testing.assert_close(b_earlier[:, k:], backward[:, k:], rtol=0, atol=1e-6)
    assert not torch.allclose(f_earlier[:, k:], forward[:, k:])  # the forward stack does see them
    torch.testing.assert_close(f_later[:, : k + 1], forward[:, : k + 1], rtol=0, atol=1e-6)
    assert not torch.allclose(b_later[:, : k + 1], backward[:, : k + 1])  # the backward stack does see them


def test_a_sentence_alone_and_padded_in_a_batch_give_the_same_layers() -> None:
    bilm = tiny_transformer()
    short, long = ["Dogs", "bark", "."], ["The", "cat", "sat", "on", "the", "mat", "today"]
    with torch.no_grad():
        alone = bilm.embed_sentences([short])
        batch = bilm.embed_sentences([long, short])
    torch.testing.assert_close(batch.layers[1, :, :3], alone.layers[0], rtol=0, atol=1e-6)
    assert batch.layers[1, :, 3:].abs().max() == 0  # zero at padding
    assert batch.mask[1].tolist() == [True] * 3 + [False] * 4


def test_layers_are_the_token_layer_then_forward_backward_blocks() -> None:
    bilm = tiny_transformer()
    char_ids = batch_to_char_ids([["The", "cat", "sat"]])
    with torch.no_grad():
        out = bilm(char_ids, keep_sentence_boundaries=True)
        tokens = bilm.token_encoder(char_ids)  # (1, time, DIM)
    assert out.layers.shape == (1, TINY_TRANSFORMER["n_layers"] + 1, 5, 2 * DIM) and bilm.num_layers == 3
    torch.testing.assert_close(out.layers[:, 0], torch.cat([tokens, tokens], -1), rtol=0, atol=0)  # [x; x]
    torch.testing.assert_close(out.forward_top, out.layers[:, -1, :, :DIM], rtol=0, atol=0)
    torch.testing.assert_close(out.backward_top, out.layers[:, -1, :, DIM:], rtol=0, atol=0)
    assert not bilm.carries_state
    with pytest.raises(ValueError, match="carries no state"):
        bilm(char_ids, stateful=True)


def test_sinusoidal_positions_by_the_formula() -> None:
    table = sinusoidal_positions(5, 6)
    assert table[3, 2] == pytest.approx(torch.sin(torch.tensor(3 / 10000 ** (2 / 6))).item(), abs=1e-6)
    assert table[3, 3] == pytest.approx(torch.cos(torch.tensor(3 / 10000 ** (2 / 6))).item(), abs=1e-6)
    assert sinusoidal_positions(4, 5).shape == (4, 5)  # an odd width too


def test_options_and_weights_round_trip_and_the_loader_picks_the_transformer(tmp_path: Path) -> None:
    bilm = tiny_transformer()
    save_bilm(bilm, tmp_path / "options.json", tmp_path / "weights.hdf5")
    saved = json.loads((tmp_path / "options.json").read_text())
    assert saved["arch"] == "transformer" and saved["transformer"]["n_heads"] == 2
    assert load_options(tmp_path / "options.json") == bilm.options
    loaded = load_bilm(tmp_path / "options.json", tmp_path / "weights.hdf5")
    assert isinstance(loaded, TransformerBiLM)
    assert all(torch.equal(a, b) for a, b in zip(bilm.state_dict().values(), loaded.state_dict().values()))


def test_export_reloads_with_the_same_outputs(tmp_path: Path) -> None:
    bilm = tiny_transformer()
    vocab = Vocabulary.from_sentences([SENTENCE[1:-1]])
    softmax = FullSoftmax(DIM, len(vocab))
    export_lm(tmp_path, bilm, softmax, vocab)
    bilm2, softmax2, vocab2 = load_lm(tmp_path)
    chars = batch_to_char_ids([SENTENCE[1:-1], ["Awful", "!"]])
    with torch.no_grad():
        before, after = bilm(chars), bilm2(chars)
    assert (before.layers - after.layers).abs().max() <= 1e-6 and vocab2 == vocab
    assert torch.equal(softmax2.weight, softmax.weight)


@pytest.mark.parametrize("change, message", [
    ({"n_heads": 3}, "transformer.n_heads \\(3\\) must divide transformer.dim \\(8\\)"),
    ({"dim": 0}, "transformer.dim must be a positive integer"),
    ({"filters": []}, "char_cnn.filters must list at least one"),
])
def test_bad_options_name_the_key(change: dict, message: str) -> None:
    with pytest.raises(BiLMConfigError, match=message):
        TransformerOptions(**{**TINY_TRANSFORMER, **change})


def test_an_options_file_without_its_transformer_section_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "options.json"
    path.write_text(json.dumps({"arch": "transformer", "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4]]}}))
    with pytest.raises(BiLMConfigError, match=f"{path}: missing key 'transformer'"):
        load_options(path)


def test_the_default_transformer_is_the_default_lstm_bilms_size() -> None:
    """conf/bilm_arch/default-transformer.yaml: 3,008,736 parameters without the softmax, default-small 2,996,448."""
    from omegaconf import OmegaConf

    from elmo_lab.bilm.architectures import build_bilm
    from elmo_lab.config.pretrain import arch_options

    repo = Path(__file__).resolve().parents[2]
    counts = {}
    for arch in ("default-transformer", "default-small"):
        plain = OmegaConf.to_container(OmegaConf.load(repo / "conf" / "bilm_arch" / f"{arch}.yaml"))
        plain.setdefault("transformer", {"dim": None})
        model = build_bilm(options_from_dict(arch_options(plain)))
        counts[arch] = sum(p.numel() for p in model.parameters())
        assert model.options.projection_dim == 128  # the same 128-d softmax input per direction
    assert counts == {"default-transformer": 3_008_736, "default-small": 2_996_448}
