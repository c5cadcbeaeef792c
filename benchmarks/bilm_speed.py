"""Training and inference speed of the LSTM biLM against the transformer biLM at equal parameter count, same run.

Shapes: ``conf/bilm_arch/default-small.yaml`` (the default LSTM biLM: 2 x 512 LSTM cells, 128 projection) and
``conf/bilm_arch/default-transformer.yaml`` (6 self-attention blocks per direction, 128 wide, 4 heads, FFN 512), both
with the same char CNN (512 filters, 1 highway): 3.00M and 3.01M parameters without the softmax.  Weights are
random (speed does not depend on them).  Text: PTB training sentences.

* training: one ``pretrain.py`` step (both directions' NLL through the softmax ``pretrain.py`` would pick for the
  PTB vocabulary, backward, gradient clipping at 10, Adam) on packed rows of ``--batch-size`` x ``--window`` tokens;
* inference: the biLM's layers (eval mode, no gradients, the cross-batch token cache off) for batches of
  ``--infer-batch`` sentences, as the task models and the layer cache read them.

The two models take turns on the same batch, so the machine's load hits both alike; figures are medians of the timed
steps, tokens counting ``<S>``/``</S>`` in training and the sentences' own tokens in inference.  Each step is timed
by the wall clock and by the process's CPU time: on a shared machine the wall clock also counts the time the process
waited for a core, the CPU time does not (with one thread, tokens per CPU-second is the speed of an idle core).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bilm_speed.py [--threads 1] [--steps 8] [--infer-steps 8]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.config.pretrain import arch_options
from elmo_lab.data.vocab import Vocabulary
from elmo_lab.lm.batching import EncodedCorpus
from elmo_lab.lm.corpora import ptb_split
from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.module import BiLMLanguageModel, lm_nll

ARCH_DIR = Path(__file__).resolve().parents[1] / "conf" / "bilm_arch"
ARCHS = {"lstm": "default-small", "transformer": "default-transformer"}


def load_arch(name: str) -> dict:
    """A ``conf/bilm_arch`` file in the ``options.json`` layout."""
    plain = yaml.safe_load((ARCH_DIR / f"{name}.yaml").read_text())
    return arch_options({"transformer": {"dim": None}, **plain})


def train_step(model: BiLMLanguageModel, opt: torch.optim.Optimizer, batch) -> None:
    nll_f, nll_b, n_f, n_b = lm_nll(model.bilm, model.softmax, batch, training=True)
    loss = nll_f / max(n_f, 1) + nll_b / max(n_b, 1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    opt.step()


def timed(fn, *args) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``fn(*args)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per model")
    parser.add_argument("--infer-steps", type=int, default=8, help="timed inference batches per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--infer-batch", type=int, default=32, help="sentences per inference batch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train = ptb_split("train")
    vocab = Vocabulary.from_sentences(train)
    loader = iter(make_loader(EncodedCorpus(train[:8000], vocab), args.window, args.batch_size, shuffle=True, seed=0))
    batches = [next(loader) for _ in range(args.warmup + args.steps)]
    sentences = train[8000:8000 + args.infer_batch * (args.warmup + args.infer_steps)]
    chunks = [sentences[i:i + args.infer_batch] for i in range(0, len(sentences), args.infer_batch)]

    models = {}
    for name, arch in ARCHS.items():
        model = BiLMLanguageModel(load_arch(arch), len(vocab), dropout=0.0, optimizer="adam", lr=0.002)
        model.bilm.token_encoder.set_token_cache(0)
        models[name] = (model, torch.optim.Adam(model.parameters(), lr=0.002))
    train_rate: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for i, batch in enumerate(batches):
        n_tokens = int((batch.char_ids > 0).any(-1).sum())
        for name, (model, opt) in models.items():
            model.train()
            wall, cpu = timed(train_step, model, opt, batch)
            if i >= args.warmup:
                train_rate[name].append((n_tokens / wall, n_tokens / cpu))
    infer_rate: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    with torch.no_grad():
        for i, chunk in enumerate(chunks):
            char_ids = batch_to_char_ids(chunk, 50)  # (batch, time + 2, 50)
            for name, (model, _) in models.items():
                model.eval()
                wall, cpu = timed(model.bilm, char_ids)
                if i >= args.warmup:
                    n_tokens = sum(len(s) for s in chunk)
                    infer_rate[name].append((n_tokens / wall, n_tokens / cpu))

    print(f"PTB, {len(vocab)}-word softmax ({type(models['lstm'][0].softmax).__name__}), training batches "
          f"{args.batch_size} x {args.window}, inference batches of {args.infer_batch} sentences, {args.threads} "
          f"thread(s), {args.steps} + {args.infer_steps} timed steps, torch {torch.__version__}")
    for name, (model, _) in models.items():
        n_params = sum(p.numel() for p in model.bilm.parameters())
        print(f"  {name} ({ARCHS[name]}, {n_params:,} parameters without the softmax), tokens/s by the wall clock "
              f"and per CPU-second (medians):")
        for label, rates in (("training", train_rate[name]), ("inference", infer_rate[name])):
            print(f"    {label:9s} {statistics.median(r[0] for r in rates):7.0f} /s wall, "
                  f"{statistics.median(r[1] for r in rates):7.0f} /CPU-s")
    for label, rates in (("training", train_rate), ("inference", infer_rate)):
        ratios = [[t[k] / l[k] for t, l in zip(rates["transformer"], rates["lstm"])] for k in (0, 1)]
        print(f"transformer / lstm, {label}: {statistics.median(ratios[0]):.2f} wall, "
              f"{statistics.median(ratios[1]):.2f} CPU (medians of per-step ratios)")


if __name__ == "__main__":
    main()
