"""``bilm.kind=hf`` through the pipeline as users run it: one batch of ``task=mr``, ``task=conll2003`` and the
probe with a tiny BERT written by the test, through the shared layer cache (a second run never runs the model);
bad specs and keys through ``train.py`` are one line naming the key, exit status 2, nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from elmo_lab.contextual.hf import HfEncoder  # noqa: E402
from elmo_lab.training.pipeline import train  # noqa: E402

from hf_models import tiny_bert  # noqa: E402
from test_standin_encoder import ONE_BATCH, task_overrides  # noqa: E402
from train_helpers import compose_train, in_process_error_line, train_cli  # noqa: E402

HF_BATCH = [o for o in ONE_BATCH if not o.startswith(("bilm.kind", "bilm.spec"))] + ["bilm.kind=hf"]


@pytest.mark.parametrize("task", ["mr", "conll2003", "probe"])
def test_hf_trains_every_kind_of_task_through_the_cache(task: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    encode = HfEncoder.encode
    monkeypatch.setattr(HfEncoder, "encode", lambda self, *a, **k: calls.append(1) or encode(self, *a, **k))
    overrides = HF_BATCH + task_overrides(task, tmp_path) + [f"bilm.spec={tiny_bert(tmp_path / 'bert')}"]
    train(compose_train(overrides, run_dir=tmp_path / "run"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert all(len(w["s"]) == 3 for w in results["layer_weights"].values())  # embeddings + 2 layers
    manifests = list((tmp_path / "layers").glob("*/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["kind"] == "hf" and (manifest["n_layers"], manifest["dim"]) == (3, 8)
    filled = len(calls)
    train(compose_train(overrides + ["seed=1"], run_dir=tmp_path / "again"))
    assert len(calls) - filled <= 1  # at most the load-time check: the layers come from the shared entry
    if task == "mr":
        train(compose_train(overrides + ["bilm.pooling=first"], run_dir=tmp_path / "first"))
        assert len(list((tmp_path / "layers").glob("*/manifest.json"))) == 2  # another pooling, another entry


@pytest.mark.parametrize("override, message", [
    ("bilm.max_layer=5", "error: bilm.max_layer: the model has layers 0..2, got 5"),
    ("bilm.pooling=max", "bilm.pooling"),
    ("bilm.spec=NOWHERE", "error: bilm.spec: "),
])
def test_bad_input_through_the_cli_is_one_line_and_exit_2(override: str, message: str, tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    """A missing spec runs ``train.py``'s ``__main__`` in this process (the other cases cover a fresh interpreter)."""
    spec = tiny_bert(tmp_path / "bert")
    spec_arg = override if override.startswith("bilm.spec") else f"bilm.spec={spec}"
    spec_arg = spec_arg.replace("NOWHERE", str(tmp_path / "nowhere"))
    run_dir = tmp_path / "run"
    args = ["task=mr", "bilm.kind=hf", spec_arg, "elmo.placement=input", "threads=1",
            f"hydra.run.dir={run_dir}"] + ([override] if not override.startswith("bilm.spec") else [])
    if override.startswith("bilm.spec"):
        capsys.readouterr()  # saving the tiny model printed a progress bar
        lines = [in_process_error_line(args, tmp_path, monkeypatch, capsys)]
    else:
        result = train_cli(args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr[-2000:]
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert "Traceback" not in result.stderr
    assert lines and lines[-1].startswith("error: ") and message in lines[-1], lines
    assert not (run_dir / "results.json").exists()


def test_sub_word_keys_are_refused_for_the_lstm_bilm() -> None:
    from elmo_lab.config.schema import ConfigError, validate

    with pytest.raises(ConfigError, match=r"bilm.max_layer: only for sub-word encoders \(bilm.kind=hf\)"):
        validate(compose_train(["bilm.max_layer=1"]))
    validate(compose_train(["bilm=minilm", "bilm.max_layer=1", "bilm.pooling=first"]))  # composes for hf


def test_bilm_freeze_false_fine_tunes_the_model_with_the_task(tmp_path: Path) -> None:
    """The transformer's weights change with the task and are kept in the checkpoint; no layer cache is made."""
    import torch
    from safetensors.torch import load_file

    spec = tiny_bert(tmp_path / "bert")
    overrides = HF_BATCH + task_overrides("mr", tmp_path) + [f"bilm.spec={spec}", "bilm.freeze=false",
                                                             "task.lr=0.05"]
    train(compose_train(overrides, run_dir=tmp_path / "run"))
    before = load_file(str(spec / "model.safetensors"))
    checkpoint = torch.load(next((tmp_path / "run" / "checkpoints").glob("*.ckpt")), map_location="cpu",
                            weights_only=False)["state_dict"]
    tuned = {k: v for k, v in checkpoint.items() if ".model." in k and k.endswith("embeddings.word_embeddings.weight")}
    assert len(tuned) == 1 and not torch.allclose(next(iter(tuned.values())),
                                                  before["embeddings.word_embeddings.weight"])
    assert not list((tmp_path / "layers").glob("*/manifest.json"))


def test_hf_trains_squad_reading_questions_and_passages(tmp_path: Path) -> None:
    from train_helpers import REPO

    squad = ["task=squad", f"task.data_dir={REPO / 'tests' / 'data' / 'fixtures' / 'squad'}", "task.download=false",
             "task.val_fraction=0.25", "task.hidden_dim=4", "task.modeling_dim=4", "task.char_filters=4",
             "task.batch_size=4", "elmo.placement=both", f"bilm.spec={tiny_bert(tmp_path / 'bert')}"]
    train(compose_train(HF_BATCH + squad, run_dir=tmp_path / "run"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert sorted(results["layer_weights"]) == ["input", "output"] and "test/f1" in results["metrics"]
    assert all(len(w["s"]) == 3 for w in results["layer_weights"].values())


@pytest.mark.parametrize("builder", ["tiny_roberta", "tiny_gpt2"])
def test_byte_level_bpe_models_train_mr(builder: str, tmp_path: Path) -> None:
    import hf_models

    spec = getattr(hf_models, builder)(tmp_path / builder)
    overrides = HF_BATCH + task_overrides("mr", tmp_path) + [f"bilm.spec={spec}", "bilm.include_embeddings=false"]
    train(compose_train(overrides, run_dir=tmp_path / "run"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert all(len(w["s"]) == 2 for w in results["layer_weights"].values())  # the two transformer layers only
