"""The transformer biLM through ``bilm.spec=DIR`` (a ``pretrain.py``-layout export) works wherever the LSTM biLM
does: one batch of MR, CoNLL-2003, SQuAD and the probe through the layer cache, ``bilm.directions``, fine-tuning on
the task's text, ``bilm.random_weights``, ``embed``, the CLI; and an export without weights is one error line."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import torch

from elmo_lab.__main__ import main
from elmo_lab.config.schema import ConfigError
from elmo_lab.contextual.lstm import LstmBiLM
from elmo_lab.bilm.transformer import TransformerBiLM
from elmo_lab.data.vocab import Vocabulary
from elmo_lab.lm.export import export_lm
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.training.pipeline import train

from test_standin_encoder import task_overrides
from train_helpers import FAST, REPO, compose_train, in_process_error_line, tiny_transformer, train_cli

ONE_BATCH = [o for o in FAST if not o.startswith(("task.hidden_dim", "trainer.limit_"))] + [
    "trainer.limit_train_batches=1", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1"]
SQUAD = ["task=squad", f"task.data_dir={REPO / 'tests' / 'data' / 'fixtures' / 'squad'}", "task.download=false",
         "task.val_fraction=0.25", "task.hidden_dim=4", "task.modeling_dim=4", "task.char_filters=4",
         "task.batch_size=4", "elmo.placement=both"]


@pytest.fixture(scope="module")
def transformer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny transformer biLM exported as ``pretrain.py`` does (random weights, with a softmax and vocabulary)."""
    folder = tmp_path_factory.mktemp("transformer")
    vocab = Vocabulary.from_sentences([["the", "film", "was", "good", "bad", "."]])
    export_lm(folder, tiny_transformer(), FullSoftmax(8, len(vocab)), vocab)
    return folder


def _results(overrides: list[str], run_dir: Path) -> dict:
    train(compose_train(overrides, run_dir=run_dir))
    return json.loads((run_dir / "results.json").read_text())


@pytest.mark.parametrize("task", ["mr", "conll2003", "probe", "squad"])
def test_the_transformer_trains_one_batch_of_every_kind_of_task(task: str, transformer_dir: Path,
                                                                tmp_path: Path) -> None:
    overrides = SQUAD if task == "squad" else task_overrides(task, tmp_path)
    results = _results(ONE_BATCH + overrides + [f"bilm.spec={transformer_dir}"], tmp_path / "run")
    assert results["layer_weights"] and all(len(w["s"]) == 3 for w in results["layer_weights"].values())
    manifest = json.loads(next((tmp_path / "layers").glob("*/manifest.json")).read_text())
    assert manifest["arch"] == "transformer 2x8" and (manifest["n_layers"], manifest["dim"]) == (3, 16)


def test_each_direction_is_its_half_of_the_transformers_layers() -> None:
    sentences = [["The", "cat", "sat"], ["Dogs", "bark", "loudly", "."]]
    with torch.no_grad():
        layers = {d: LstmBiLM(tiny_transformer(), directions=d).encode(sentences) for d in ("both", "forward",
                                                                                          "backward")}
    torch.testing.assert_close(layers["forward"][:, 1:], layers["both"][:, 1:, :, :8], rtol=0, atol=0)
    torch.testing.assert_close(layers["backward"][:, 1:], layers["both"][:, 1:, :, 8:], rtol=0, atol=0)
    for half in ("forward", "backward"):  # layer 0: the token vector, at the half width
        torch.testing.assert_close(layers[half][:, 0], layers["both"][:, 0, :, :8], rtol=0, atol=0)
    identities = {LstmBiLM(tiny_transformer(), directions=d).cache_identity() for d in ("both", "forward", "backward")}
    assert len(identities) == 3  # the layer cache keeps the directions apart


def test_one_direction_of_the_transformer(transformer_dir: Path, tmp_path: Path) -> None:
    results = _results(ONE_BATCH + task_overrides("mr", tmp_path) + [f"bilm.spec={transformer_dir}",
                                                                      "bilm.directions=forward"], tmp_path / "run")
    assert results["config"]["bilm"]["directions"] == "forward"
    manifest = json.loads(next((tmp_path / "layers").glob("*/manifest.json")).read_text())
    assert (manifest["n_layers"], manifest["dim"]) == (3, 8)  # the forward half of every layer


def test_fine_tuning_the_transformer_on_the_task_text(transformer_dir: Path, tmp_path: Path) -> None:
    overrides = ONE_BATCH + task_overrides("mr", tmp_path) + [f"bilm.spec={transformer_dir}",
                                                               "bilm.finetune.enabled=true", "bilm.finetune.max_steps=2",
                                                               "bilm.finetune.lr=0.01"]
    results = _results(overrides, tmp_path / "run")
    report = results["finetune"]
    assert 1 <= report["steps"] <= 2 and "pretrained softmax" in report["softmax"]
    assert report["before"]["average"] != report["after"]["average"]


def test_random_weights_and_stateful(transformer_dir: Path) -> None:
    loaded = LstmBiLM.from_config({"spec": str(transformer_dir)})
    control = LstmBiLM.from_config({"spec": str(transformer_dir), "random_weights": True})
    assert isinstance(control.bilm, TransformerBiLM) and control.bilm.options == loaded.bilm.options
    weights = [encoder.bilm.forward_stack.blocks[0].qkv.weight for encoder in (control, loaded)]
    assert not torch.equal(*weights)
    with pytest.raises(ConfigError, match="bilm.stateful: .* is a transformer, which carries no state"):
        LstmBiLM.from_config({"spec": str(transformer_dir), "stateful": True})


@pytest.mark.slow
def test_train_py_and_embed_through_the_cli(transformer_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = train_cli([*ONE_BATCH, "task=mr", "task.train_examples=64", "elmo.placement=both",
                        f"bilm.spec={transformer_dir}", f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / "results.json").is_file()

    text = tmp_path / "sentences.txt"
    text.write_text("the film was good .\nbad\n")
    # ``python -m elmo_lab embed`` through its main in this process (tests/cli/test_cli_embed.py runs fresh ones)
    assert main(["embed", str(text), str(tmp_path / "out.hdf5"), "--bilm", str(transformer_dir), "--quiet"]) == 0
    with h5py.File(tmp_path / "out.hdf5") as f:
        assert f["0"].shape == (3, 5, 16) and f["1"].shape == (3, 1, 16)


@pytest.mark.slow
def test_an_export_without_weights_is_one_error_line(transformer_dir: Path, tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "options.json").write_text((transformer_dir / "options.json").read_text())
    run_dir = tmp_path / "run"
    line = in_process_error_line([*ONE_BATCH, "task=mr", "task.train_examples=64", f"bilm.spec={broken}",
                                  f"hydra.run.dir={run_dir}"], tmp_path, monkeypatch, capsys)
    assert line.startswith(f"error: {broken}: expected options.json and weights.hdf5")
    assert not (run_dir / "results.json").exists()
