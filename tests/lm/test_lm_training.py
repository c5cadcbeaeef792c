"""The LM module trains (loss falls), and ``pretrain.py`` runs end to end, resumes, exports and is evaluable."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from elmo_lab.lm.batching import EncodedCorpus

from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.module import BiLMLanguageModel, lm_nll
from elmo_lab.lm.perplexity import evaluate_perplexity
from elmo_lab.data.vocab import Vocabulary

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.learning
@pytest.mark.parametrize("optimizer,lr,sampled", [("adagrad", 0.2, False), ("adam", 0.01, True)])
def test_a_few_steps_lower_the_dev_perplexity(tiny_options, tiny_sentences, optimizer, lr, sampled):
    torch.manual_seed(0)
    train, dev = tiny_sentences[:360], tiny_sentences[360:]
    vocab = Vocabulary.from_sentences(train)
    model = BiLMLanguageModel(tiny_options, len(vocab), dropout=0.1, optimizer=optimizer, lr=lr,
                              sampled_softmax=sampled, num_samples=10)
    opt = model.configure_optimizers()
    before = evaluate_perplexity(model.bilm, model.softmax, vocab, dev)
    losses = []
    model.train()
    for batch in make_loader(EncodedCorpus(train, vocab), window=32, batch_size=8, shuffle=True):
        nll_f, nll_b, n_f, n_b = lm_nll(model.bilm, model.softmax, batch, 0.1, training=True)
        loss = nll_f / n_f + nll_b / n_b
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    after = evaluate_perplexity(model.bilm, model.softmax, vocab, dev)
    assert sum(losses[-5:]) < sum(losses[:5])
    assert after["forward"] < 0.8 * before["forward"] and after["backward"] < 0.8 * before["backward"]
    assert after["n_predictions"] == sum(len(s) + 1 for s in dev)


def _pretrain(run_dir: Path, corpus: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "pretrain.py", "corpus=file", f"corpus.path={corpus}", "bilm_arch=tiny",
           "trainer.max_epochs=2", "data.batch_size=16", "logger=csv", f"hydra.run.dir={run_dir}", "threads=1",
           "trainer.enable_progress_bar=false", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_pretrain_script_trains_resumes_exports_and_reports_perplexity(tmp_path, tiny_corpus_path):
    run_dir = tmp_path / "run"
    first = _pretrain(run_dir, tiny_corpus_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "valid perplexity: forward" in first.stdout and "no test perplexity: corpus=file" in first.stdout
    export = run_dir / "model"
    meta = json.loads((export / "lm_metadata.json").read_text())
    assert meta["epochs_of_data"] == 2.0 and meta["tokens_seen"] == 2 * sum(
        len(line.split()) + 1 for line in tiny_corpus_path.read_text().splitlines()[:-8])
    metrics = next((run_dir / "csv").rglob("metrics.csv")).read_text()
    assert "val_ppl_forward" in metrics and "val_ppl_backward" in metrics and "val_ppl_average" in metrics

    again = _pretrain(run_dir, tiny_corpus_path)  # finished run: says so, trains and exports nothing more
    assert again.returncode == 0 and "pretraining already finished" in again.stdout, again.stderr[-2000:]
    assert json.loads((export / "lm_metadata.json").read_text())["tokens_seen"] == meta["tokens_seen"]

    cli = subprocess.run([sys.executable, "-m", "elmo_lab", "perplexity", "--bilm", str(export), "--corpus",
                          str(tiny_corpus_path), "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    ppl = json.loads(cli.stdout)
    # the corpus has 35 word types: an untrained model measures 34-35; these two epochs gave 27.2 (2026-12-07)
    assert set(ppl) >= {"forward", "backward", "average"} and 1 < ppl["average"] < 30


def test_linear_schedule_decays_the_lr_to_zero_over_the_run(tiny_options, tiny_sentences):
    import pytorch_lightning as pl

    from elmo_lab.lm.module import LMConfigError

    with pytest.raises(LMConfigError, match="model.lr_schedule must be none, plateau or linear"):
        BiLMLanguageModel(tiny_options, 10, lr_schedule="cosine")
    vocab = Vocabulary.from_sentences(tiny_sentences)
    model = BiLMLanguageModel(tiny_options, len(vocab), optimizer="adam", lr=0.01, lr_schedule="linear")
    loader = make_loader(EncodedCorpus(tiny_sentences[:64], vocab), window=32, batch_size=8, shuffle=True)
    lrs = []

    class RecordLr(pl.Callback):
        def on_train_batch_start(self, trainer, *args) -> None:
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    trainer = pl.Trainer(max_steps=6, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[RecordLr()], limit_val_batches=0)
    trainer.fit(model, train_dataloaders=loader)
    assert lrs == pytest.approx([0.01 * (1 - k / 6) for k in range(6)])
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0)


def test_pretrain_script_with_stream_batching_validates_mid_epoch(tmp_path, tiny_corpus_path):
    run_dir = tmp_path / "run"
    done = _pretrain(run_dir, tiny_corpus_path, "data.batching=stream", "data.window=16", "data.eval_batch_size=4",
                     "trainer.max_epochs=1", "trainer.val_check_interval=3", "trainer.num_sanity_val_steps=0")
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((run_dir / "model" / "lm_metadata.json").read_text())
    assert "state carried" in meta["perplexity_definition"] and meta["data"]["batching"] == "stream"
    lines = tiny_corpus_path.read_text().splitlines()
    # corpus=file without corpus.test_path: the dev text is the only held-out text, evaluated once as "valid"
    assert "test" not in meta["perplexity"]
    assert meta["perplexity"]["valid"]["n_predictions"] == sum(len(line.split()) + 1 for line in lines[-8:])
    rows = list(csv.DictReader(next((run_dir / "csv").rglob("metrics.csv")).open()))
    assert len([r for r in rows if r["val_ppl_average"]]) >= 2  # validated within the epoch, and training went on
