"""``bilm.directions``: one direction's half of the LSTM biLM's layers, checked against the raw biLM; causality of
each half; the layer cache keeps the directions apart; a run with one direction; kinds without directions refuse."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.cache.store import weights_digest
from elmo_lab.contextual.lstm import LstmBiLM
from elmo_lab.training.pipeline import train

from train_helpers import FAST, REPO, compose_train, one_error_line, tiny_bilm, train_cli

SENTENCES = [["The", "cat", "sat", "on", "the", "mat"], ["Dogs", "bark", "."]]
PROJ = 8  # train_helpers.TINY's projection_dim


def _layers(directions: str, sentences: list[list[str]] = SENTENCES) -> torch.Tensor:
    with torch.no_grad():
        return LstmBiLM(tiny_bilm(), directions=directions).encode(sentences)  # (batch, L + 1, time, dim)


def test_each_direction_is_its_half_of_the_raw_bilm_layers() -> None:
    bilm = tiny_bilm()
    char_ids = batch_to_char_ids(SENTENCES, bilm.options.max_characters_per_token)  # (batch, time + 2, chars)
    with torch.no_grad():
        raw = bilm(char_ids)
        token_layer = bilm.token_encoder(char_ids)[:, 1:-1] * raw.mask[..., None]  # (batch, time, proj)
    forward, backward, both = _layers("forward"), _layers("backward"), _layers("both")
    assert both.shape[-1] == 2 * PROJ and forward.shape[-1] == backward.shape[-1] == PROJ
    assert forward.shape[:3] == backward.shape[:3] == raw.layers.shape[:3]
    torch.testing.assert_close(both, raw.layers, rtol=0, atol=0)
    for j in range(1, raw.layers.shape[1]):
        torch.testing.assert_close(forward[:, j], raw.layers[:, j, :, :PROJ], rtol=0, atol=0)
        torch.testing.assert_close(backward[:, j], raw.layers[:, j, :, PROJ:], rtol=0, atol=0)
    torch.testing.assert_close(forward[:, -1], raw.forward_top, rtol=0, atol=1e-6)  # the LM's own top outputs
    torch.testing.assert_close(backward[:, -1], raw.backward_top, rtol=0, atol=1e-6)
    for half in (forward, backward):  # layer 0: the character CNN's token vector, at the half width
        torch.testing.assert_close(half[:, 0], token_layer, rtol=0, atol=1e-6)
    encoder = LstmBiLM(tiny_bilm(), directions="forward")
    assert (encoder.output_dim, encoder.num_layers) == (PROJ, 3)


def test_forward_never_sees_later_tokens_and_backward_never_earlier_ones() -> None:
    k = 2
    original = [["The", "cat", "sat", "on", "the", "mat"]]
    later_changed = [original[0][: k + 1] + ["under", "a", "rug"]]
    earlier_changed = [["One", "dog"] + original[0][k:]]
    forward, backward = _layers("forward", original), _layers("backward", original)
    torch.testing.assert_close(_layers("forward", later_changed)[:, :, : k + 1], forward[:, :, : k + 1], rtol=0, atol=0)
    torch.testing.assert_close(_layers("backward", earlier_changed)[:, :, k:], backward[:, :, k:], rtol=0, atol=0)
    # the test can fail: the other direction does see the change at the same positions
    assert not torch.allclose(_layers("backward", later_changed)[:, 1:, : k + 1], backward[:, 1:, : k + 1])
    assert not torch.allclose(_layers("forward", earlier_changed)[:, 1:, k:], forward[:, 1:, k:])


def test_the_layer_cache_keys_differ_per_direction() -> None:
    bilm = tiny_bilm()
    keys = {d: LstmBiLM(bilm, directions=d).cache_identity() for d in ("both", "forward", "backward")}
    assert len(set(keys.values())) == 3
    assert keys["both"] == weights_digest(bilm)  # the entries written before directions existed still answer
    assert LstmBiLM(bilm, directions="forward").describe()["directions"] == "forward"


ONE_BATCH = [o for o in FAST if not o.startswith("trainer.limit_")] + [
    "trainer.limit_train_batches=1", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1"]


def test_one_direction_trains_mr_through_the_cache(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    overrides = ONE_BATCH + ["task=mr", "task.train_examples=64", "elmo.placement=both", f"bilm.spec={tiny_bilm_dir}"]
    train(compose_train(overrides + ["bilm.directions=forward"], run_dir=tmp_path / "forward"))
    results = json.loads((tmp_path / "forward" / "results.json").read_text())
    assert results["config"]["bilm"]["directions"] == "forward"
    assert all(len(w["s"]) == 3 for w in results["layer_weights"].values())
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "layers").glob("*/manifest.json")]
    assert [(m["directions"], m["dim"]) for m in manifests] == [("forward", PROJ)]
    train(compose_train(overrides, run_dir=tmp_path / "both"))  # `both` does not read the forward entry
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "layers").glob("*/manifest.json")]
    assert sorted((m["directions"], m["dim"]) for m in manifests) == [("both", 2 * PROJ), ("forward", PROJ)]


def test_a_kind_without_directions_refuses_one_through_the_cli(tmp_path: Path) -> None:
    args = ["bilm.kind=standin_encoders:RandomLayers", "bilm.directions=backward", "task=mr", "elmo.placement=input",
            *ONE_BATCH]
    env = {"PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", str(REPO))])}
    line = one_error_line(train_cli(args, tmp_path, env=env))
    assert line == ("error: bilm.directions: encoder kind 'standin_encoders:RandomLayers' has no forward/backward "
                    "directions; use bilm.directions=both")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_direction_fails_at_composition(tmp_path: Path) -> None:
    line = one_error_line(train_cli(["bilm.directions=sideways"], tmp_path))
    assert line.startswith("error: bilm.directions") and "forward" in line and "backward" in line, line
