"""The same code on a CUDA device: parity with the reference outputs, LM training steps that match the CPU's,
stream batching with the state carried, one device read of the row lengths per LSTM call, and the task and
pretraining commands with ``trainer=gpu``.

Skipped where torch sees no GPU (CI has none); run them on a GPU machine with ``pytest tests/gpu``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from elmo_lab.bilm import batch_to_char_ids, load_bilm
from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.lm.batching import EncodedCorpus
from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.module import lm_nll
from elmo_lab.lm.perplexity import evaluate_perplexity
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def exact_float32():
    """No TF32 in matmuls and convolutions (cuDNN convolutions use it by default), so GPU and CPU can agree."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(scope="module")
def sentences() -> list[list[str]]:
    path = REPO / "tests" / "lm" / "fixtures" / "tiny_corpus.txt"
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def test_official_fixture_matches_reference_outputs_on_cuda(bilm_tf_dir, exact_float32):
    bilm = load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5").cuda()
    texts = json.loads((bilm_tf_dir / "lm_embeddings_sentences.json").read_text())
    expected = [h5py.File(bilm_tf_dir / f"lm_embeddings_{k}.hdf5", "r") for k in range(3)]
    worst = 0.0
    for i in range(10):  # state carried across the batches, as the reference ran them
        batch = [texts[k][i].split() for k in range(3)]
        with torch.no_grad():
            out = bilm(batch_to_char_ids(batch).cuda(), stateful=True)
        for k, tokens in enumerate(batch):
            n = len(tokens)
            got = torch.stack([out.forward_top[k, :n], out.backward_top[k, :n]]).cpu().numpy()
            worst = max(worst, float(np.abs(got - expected[k][str(i)][...]).max()))
    print(f"largest difference from the reference on CUDA: {worst:.2e}")
    assert worst < 1e-5


def _lm(options: dict, vocab_size: int, device: str) -> tuple[BiLM, FullSoftmax]:
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions.from_dict(options))
    softmax = FullSoftmax(bilm.options.projection_dim, vocab_size)
    return bilm.to(device).eval(), softmax.to(device).eval()  # no dropout: the same arithmetic on both devices


def _step(options: dict, batch, device: str, vocab_size: int) -> tuple[float, dict[str, torch.Tensor]]:
    bilm, softmax = _lm(options, vocab_size, device)
    loss = lm_nll(bilm, softmax, batch.to(device))[0]
    loss.backward()
    grads = {f"bilm.{n}": p.grad.cpu() for n, p in bilm.named_parameters() if p.grad is not None}
    grads.update({f"softmax.{n}": p.grad.cpu() for n, p in softmax.named_parameters()})
    return float(loss), grads


@pytest.mark.parametrize("batching", ["rows", "stream"])
def test_lm_loss_and_gradients_on_cuda_match_the_cpu(tiny_options, sentences, batching, exact_float32):
    vocab = Vocabulary.from_sentences(sentences)
    loader = make_loader(EncodedCorpus(sentences[:80], vocab), 12, 4, False, batching=batching)
    batch = next(iter(loader))
    cpu_loss, cpu_grads = _step(tiny_options, batch, "cpu", len(vocab))
    gpu_loss, gpu_grads = _step(tiny_options, batch, "cuda", len(vocab))
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-5)
    assert cpu_grads.keys() == gpu_grads.keys() and len(cpu_grads) > 10
    for name, grad in cpu_grads.items():
        torch.testing.assert_close(gpu_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_bf16_autocast_training_step_is_close_to_float32(tiny_options, sentences):
    vocab = Vocabulary.from_sentences(sentences)
    batch = next(iter(make_loader(EncodedCorpus(sentences[:80], vocab), 12, 4, False))).to("cuda")
    bilm, softmax = _lm(tiny_options, len(vocab), "cuda")
    full = float(lm_nll(bilm, softmax, batch)[0])
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = lm_nll(bilm, softmax, batch)[0]
    loss.backward()
    assert float(loss) == pytest.approx(full, rel=2e-2)
    assert all(torch.isfinite(p.grad).all() for p in bilm.parameters() if p.grad is not None)


def test_stream_windows_with_carried_state_score_like_one_window_on_cuda(tiny_options, sentences,
                                                                        exact_float32):
    vocab = Vocabulary.from_sentences(sentences)
    bilm, softmax = _lm(tiny_options, len(vocab), "cuda")
    dev = sentences[:30]
    short = evaluate_perplexity(bilm, softmax, vocab, dev, window=3, batch_size=4, batching="stream")
    whole = evaluate_perplexity(bilm, softmax, vocab, dev, window=10_000, batch_size=4, batching="stream")
    for key in ("forward", "backward"):
        assert short[key] == pytest.approx(whole[key], rel=1e-5)


def test_one_device_read_of_the_row_lengths_per_lstm_call(tiny_options, sentences):
    """The recurrence needs the row lengths on the host; ``run_stacks`` reads them once, not once per layer."""
    vocab = Vocabulary.from_sentences(sentences)
    batch = next(iter(make_loader(EncodedCorpus(sentences[:80], vocab), 12, 4, False))).to("cuda")
    bilm, _ = _lm(tiny_options, len(vocab), "cuda")
    tokens = bilm.token_encoder(batch.char_ids)  # (batch, time, projection_dim)
    lengths = (batch.char_ids > 0).any(-1).sum(-1)  # (batch,) on the GPU
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            from elmo_lab.bilm.lstm import run_stacks

            run_stacks([bilm.forward_lstm, bilm.backward_lstm], [tokens, tokens.flip(1)], lengths)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "called a synchronizing" in str(w.message)]
    assert len(syncs) == 1, [str(w.message) for w in syncs]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_task_run_with_finetuning_on_gpu_in_bf16(tmp_path):
    run_dir = tmp_path / "mr"
    _run(["train.py", "task=mr", "trainer=gpu", "trainer.precision=bf16-mixed", "elmo.placement=both",
          "bilm.finetune.enabled=true", "trainer.max_epochs=1", "trainer.limit_train_batches=20",
          "trainer.limit_val_batches=5", "trainer.limit_test_batches=5", "trainer.enable_progress_bar=false",
          "logger=csv",
          f"paths.output_dir={run_dir}", f"hydra.run.dir={run_dir}"])
    results = json.loads((run_dir / "results.json").read_text())
    print(json.dumps({k: results[k] for k in results if k in ("metrics", "finetune")}, indent=1))
    assert 0.0 <= results["metrics"]["test/acc"] <= 1.0
    assert results["finetune"]["device"].startswith("cuda")
    assert results["finetune"]["after"]["average"] < results["finetune"]["before"]["average"]


def test_pretraining_on_gpu_with_stream_batching(tmp_path):
    run_dir = tmp_path / "lm"
    corpus = REPO / "tests" / "lm" / "fixtures" / "tiny_corpus.txt"
    out = _run(["pretrain.py", "corpus=file", f"corpus.path={corpus}", "bilm_arch=tiny", "trainer=gpu",
                "trainer.max_epochs=2", "data.batch_size=16", "data.batching=stream", "logger=csv",
                f"hydra.run.dir={run_dir}", "trainer.enable_progress_bar=false"])
    assert "valid perplexity: forward" in out.stdout  # corpus=file: the dev text is its only held-out text
    meta = json.loads((run_dir / "model" / "lm_metadata.json").read_text())
    assert meta["perplexity"]["valid"]["average"] < 40
