"""``pretrain.py bilm_arch=transformer-tiny`` trains the transformer biLM (its dev perplexity falls below the untrained
model's), resumes from its checkpoint, exports files that reload with the checkpoint's outputs, and the exported LM
is evaluable by ``python -m elmo_lab perplexity``."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from elmo_lab.__main__ import main
from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.bilm.transformer import TransformerBiLM
from elmo_lab.data.vocab import Vocabulary
from elmo_lab.lm.batching import EncodedCorpus
from elmo_lab.lm.export import load_lm
from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.module import BiLMLanguageModel, lm_nll
from elmo_lab.lm.perplexity import evaluate_perplexity

REPO = Path(__file__).resolve().parents[2]
TINY = {"arch": "transformer", "transformer": {"dim": 8, "ffn_dim": 16, "n_layers": 2, "n_heads": 2},
        "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4], [2, 8]], "n_highway": 1}}


def _pretrain(run_dir: Path, corpus: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "pretrain.py", "corpus=file", f"corpus.path={corpus}", "bilm_arch=transformer-tiny",
           "trainer.max_epochs=3", "data.batch_size=16", "logger=csv", f"hydra.run.dir={run_dir}", "threads=1",
           "trainer.enable_progress_bar=false", "model.optimizer=adam", "model.lr=0.01", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.learning
def test_a_few_steps_lower_the_transformers_dev_perplexity(tiny_sentences: list[list[str]]) -> None:
    torch.manual_seed(0)
    train, dev = tiny_sentences[:360], tiny_sentences[360:]
    vocab = Vocabulary.from_sentences(train)
    model = BiLMLanguageModel(TINY, len(vocab), dropout=0.1, optimizer="adam", lr=0.01)
    assert isinstance(model.bilm, TransformerBiLM)
    opt = model.configure_optimizers()
    before = evaluate_perplexity(model.bilm, model.softmax, vocab, dev)
    model.train()
    for batch in make_loader(EncodedCorpus(train, vocab), window=32, batch_size=8, shuffle=True):
        nll_f, nll_b, n_f, n_b = lm_nll(model.bilm, model.softmax, batch, 0.1, training=True)
        opt.zero_grad()
        (nll_f / n_f + nll_b / n_b).backward()
        opt.step()
    after = evaluate_perplexity(model.bilm, model.softmax, vocab, dev)
    assert after["forward"] < 0.8 * before["forward"] and after["backward"] < 0.8 * before["backward"]


@pytest.mark.slow
def test_pretrain_trains_resumes_and_exports_a_transformer(tmp_path: Path, tiny_corpus_path: Path, capsys) -> None:
    run_dir = tmp_path / "run"
    # trainer.max_time=0 stops at the first step: the export is (nearly) the untrained model, the run is unfinished.
    # It must stop mid-epoch (an epoch of a real corpus takes hours): with min_epochs=1 Lightning would ignore the
    # stop request until the first epoch ended.
    cut = _pretrain(run_dir, tiny_corpus_path, "trainer.max_time=00:00:00:00")
    assert cut.returncode == 0, cut.stderr[-2000:]
    untrained = json.loads((run_dir / "model" / "lm_metadata.json").read_text())
    assert untrained["global_steps"] <= 1 and untrained["epochs_of_data"] < 0.5
    assert "biLM 3,988 parameters" in cut.stdout
    resumed = _pretrain(run_dir, tiny_corpus_path)  # the same run with a larger max_time (result-neutral): resumes
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    trained = json.loads((run_dir / "model" / "lm_metadata.json").read_text())
    n_predictions = sum(len(line.split()) + 1 for line in tiny_corpus_path.read_text().splitlines()[:-8])
    assert trained["tokens_seen"] == 3 * n_predictions  # three epochs in all: it went on from the cut, not over
    before, after = untrained["perplexity"]["valid"], trained["perplexity"]["valid"]
    # 35 word types; after the first step forward 61.2, backward 33.5, after three epochs 20.0 and 19.6 (2026-12-07)
    assert after["forward"] < 0.7 * before["forward"] and after["backward"] < 0.7 * before["backward"]
    assert json.loads((run_dir / "model" / "options.json").read_text())["arch"] == "transformer"

    # the export reloads with the outputs of the trained module in the last checkpoint
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    module = BiLMLanguageModel(**checkpoint["hyper_parameters"])
    module.load_state_dict(checkpoint["state_dict"])
    exported, softmax, vocab = load_lm(run_dir / "model")
    chars = batch_to_char_ids([["the", "cat", "sat"], ["a", "dog", "ran", "home", "."]])
    with torch.no_grad():
        a, b = module.bilm.eval()(chars), exported(chars)
    assert (a.layers - b.layers).abs().max() <= 1e-6
    assert torch.equal(softmax.weight, module.softmax.weight)

    # ``python -m elmo_lab perplexity`` in this process (tests/lm/test_lm_training.py runs it in a fresh one)
    capsys.readouterr()
    assert main(["perplexity", "--bilm", str(run_dir / "model"), "--corpus", str(tiny_corpus_path), "--json"]) == 0
    assert 1 < json.loads(capsys.readouterr().out)["average"] < 0.7 * before["forward"]
    assert main(["perplexity", "--bilm", str(run_dir / "model"), "--corpus", str(tiny_corpus_path), "--batching",
                 "stream"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --batching stream carries LSTM state between windows; a transformer biLM has none (use --batching "
        "rows)"]
