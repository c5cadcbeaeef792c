"""LM *training* throughput of the biLM against a fused ``torch.nn.LSTM`` stack of the same shapes, same run.

Shapes: "small ELMo" (2 x 1024 LSTM cells, 128 projection, 2048 char filters, 1 highway, clipping 3, skip
connections), a 10k-word full softmax shared by both directions, batches of 32 rows x 20 tokens of PTB training
text (the packed whole-sentence rows that ``pretrain.py`` trains on, ``--window 20``).  One training step = forward,
loss (forward + backward NLL), backward, gradient clipping at 10, Adagrad update.

Baselines (same batches, interleaved with our steps so machine load hits all alike):
* ``lstm``: two ``nn.LSTM(128, 1024, num_layers=2, proj_size=128)`` (forward / backward, fused kernel, no clipping)
  on token vectors of the batch's shape from a plain embedding table + the same softmax (the brief's baseline: the
  LSTM stack + softmax, no char CNN).
* ``cnn+lstm``: the same char-CNN token encoder as ours in front of that fused stack (isolates the LSTM cost).

Tokens/s count the real tokens of each batch (``<S>``/``</S>`` included); ratios are ours / baseline.

    python benchmarks/lm_throughput.py [--threads 1] [--steps 10] [--arch elmo-small] [--device cuda]

``--device cuda`` times the same steps on a GPU (each step timed to its last kernel), with the recurrence that
``ELMO_LAB_RECURRENCE`` selects (CUDA graphs by default there; see ``elmo_lab/bilm/recurrence_graph.py``);
``--profile N`` then prints the N costliest operations of our steps (torch.profiler, host and device time).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml
from torch import nn

from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.bilm.recurrence_masked import recurrence_backend
from elmo_lab.bilm.token_encoder import CharCNNEncoder, token_spans
from elmo_lab.config.published import PUBLISHED_SHAPES
from elmo_lab.lm.batching import IGNORE, EncodedCorpus, LMBatch
from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.corpora import ptb_split
from elmo_lab.lm.module import BiLMLanguageModel, lm_nll
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary

ARCH_DIR = Path(__file__).resolve().parents[1] / "conf" / "bilm_arch"


class FusedBaseline(nn.Module):
    """nn.LSTM forward and backward stacks + the shared softmax; token vectors from ``encoder`` or an embedding."""

    def __init__(self, options: BiLMOptions, vocab_size: int, char_cnn: bool) -> None:
        super().__init__()
        p = options.projection_dim
        self.encoder = CharCNNEncoder(options) if char_cnn else None
        self.embedding = None if char_cnn else nn.Embedding(vocab_size, p)
        self.forward_lstm = nn.LSTM(p, options.lstm_dim, num_layers=options.n_layers, proj_size=p, batch_first=True)
        self.backward_lstm = nn.LSTM(p, options.lstm_dim, num_layers=options.n_layers, proj_size=p, batch_first=True)
        self.softmax = FullSoftmax(p, vocab_size)

    def loss(self, batch: LMBatch, word_ids: torch.Tensor) -> torch.Tensor:
        x = self.encoder(batch.char_ids) if self.encoder is not None else self.embedding(word_ids)  # (b, t, p)
        fwd, _ = self.forward_lstm(x)  # (batch, time, p)
        bwd, _ = self.backward_lstm(x.flip(1))
        bwd = bwd.flip(1)  # (batch, time, p)
        total = 0.0
        for top, targets in ((fwd, batch.forward_targets), (bwd, batch.backward_targets)):
            t = targets.reshape(-1)
            total = total + self.softmax(top.reshape(-1, top.size(-1)), t) / max(int((t != IGNORE).sum()), 1)
        return total


def multiply_adds(options: BiLMOptions, batch: LMBatch, vocab_size: int) -> dict[str, float]:
    """Multiply-adds of one training step (forward x 3: forward + the two backward matmuls), by model.

    ``lstm`` (the baseline) runs its LSTMs over every position of the padded batch; ours runs the recurrence only
    over real positions (rows sorted, see ``recurrence.py``) and its char CNN + highway + projection once per
    distinct token, over the char positions the token needs (``token_encoder.py``).  Both score the same softmax
    predictions.  Their ratio is what ours / lstm would be if both ran at the same multiply-adds per second.
    """
    p, d, f = options.projection_dim, options.lstm_dim, options.n_filters
    positions = batch.char_ids.shape[0] * batch.char_ids.shape[1]
    real = int((batch.char_ids > 0).any(-1).sum())
    scored = int((batch.forward_targets != IGNORE).sum() + (batch.backward_targets != IGNORE).sum())
    per_step = 2 * options.n_layers  # directions x layers
    input_half, recurrent_half = p * 4 * d, p * 4 * d + d * p
    softmax = scored * vocab_size * p
    unique = torch.unique(batch.char_ids.reshape(-1, batch.char_ids.shape[-1]), dim=0)
    unique = unique[(unique > 0).any(-1)]
    max_width = max(w for w, _ in options.filters)
    spans = token_spans(unique).clamp(max=unique.shape[-1] - max_width) + max_width  # positions per token
    conv = int(spans.sum()) * sum(w * options.char_embedding_dim * n for w, n in options.filters)
    encoder = conv + unique.shape[0] * (options.n_highway * 2 * f * f + f * p)
    lstm = positions * per_step * (input_half + recurrent_half)
    ours = positions * per_step * input_half + real * per_step * recurrent_half
    return {"ours": 3.0 * (ours + softmax + encoder), "lstm": 3.0 * (lstm + softmax),
            "cnn+lstm": 3.0 * (lstm + softmax + encoder)}


def step_ours(model: BiLMLanguageModel, opt: torch.optim.Optimizer, batch: LMBatch, word_ids: torch.Tensor) -> None:
    nll_f, nll_b, n_f, n_b = lm_nll(model.bilm, model.softmax, batch, 0.1, training=True)
    loss = nll_f / max(n_f, 1) + nll_b / max(n_b, 1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    opt.step()


def step_base(model: FusedBaseline, opt: torch.optim.Optimizer, batch: LMBatch, word_ids: torch.Tensor) -> None:
    loss = model.loss(batch, word_ids)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--arch", default="elmo-small", help="a bilm_arch choice: a published shape (elmo-small, elmo-medium, "
                        "elmo-original) or a conf/bilm_arch/*.yaml name")
    parser.add_argument("--vocab", type=int, default=10000, help="softmax words")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest ops of our steps")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    published = {s["arch"]: s["options"] for s in PUBLISHED_SHAPES.values() if s["arch"]}
    options_dict = published.get(args.arch) or yaml.safe_load((ARCH_DIR / f"{args.arch}.yaml").read_text())
    options = BiLMOptions.from_dict(options_dict)
    train = ptb_split("train")
    vocab = Vocabulary.from_sentences(train, max_size=args.vocab)  # PTB: 10,000 words + <S> </S> <UNK>
    sentences = train[:5000]
    corpus = EncodedCorpus(sentences, vocab)
    loader = iter(make_loader(corpus, args.window, args.batch_size, shuffle=True, seed=0))
    batches = []
    for _ in range(args.warmup + args.steps):
        b = next(loader)
        word_ids = torch.where(b.forward_targets == IGNORE, 0, b.forward_targets)  # any ids of the right shape
        batches.append((b.to(device), word_ids.to(device), int((b.char_ids > 0).any(-1).sum())))
    work = [multiply_adds(options, b, len(vocab)) for b, _, _ in batches[args.warmup:]]
    work_total = {name: sum(w[name] for w in work) for name in work[0]}

    ours = BiLMLanguageModel(options_dict, len(vocab), dropout=0.1, sampled_softmax=False).to(device)
    models = {"ours": (ours, torch.optim.Adagrad(ours.parameters(), lr=0.2, initial_accumulator_value=1.0),
                       step_ours)}
    for name, char_cnn in (("lstm", False), ("cnn+lstm", True)):
        base = FusedBaseline(options, len(vocab), char_cnn).to(device)
        models[name] = (base, torch.optim.Adagrad(base.parameters(), lr=0.2, initial_accumulator_value=1.0),
                        step_base)
    times: dict[str, list[float]] = {name: [] for name in models}
    for i, (batch, word_ids, n_tokens) in enumerate(batches):
        for name, (model, opt, step) in models.items():
            model.train()
            sync()
            start = time.perf_counter()
            step(model, opt, batch, word_ids)
            sync()
            if i >= args.warmup:
                times[name].append(n_tokens / (time.perf_counter() - start))
    print(f"arch {args.arch} ({sum(p.numel() for p in ours.bilm.parameters()):,} biLM parameters), softmax "
          f"{len(vocab)} words (full), batch {args.batch_size} x {args.window}, {args.threads} thread(s), "
          f"{args.steps} timed steps, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, "
          f"recurrence {recurrence_backend(device)} (ELMO_LAB_RECURRENCE)")
    median = {name: statistics.median(v) for name, v in times.items()}
    tokens = sum(n for _, _, n in batches[args.warmup:])
    for name, tps in median.items():
        rate = work_total[name] / (tokens / tps) / 1e9  # multiply-adds per second at the median speed
        print(f"  {name:9s} {tps:8.0f} tokens/s (median; min {min(times[name]):.0f}, max {max(times[name]):.0f}); "
              f"{work_total[name] / tokens / 1e6:5.1f}M multiply-adds per token, {rate:5.1f} G/s")
    print(f"arithmetic ceiling of ours / lstm (same multiply-adds per second): "
          f"{work_total['lstm'] / work_total['ours']:.2f}")
    # Ratios per step (the models take turns on the same batch), then their median: robust to the machine's load
    # drifting during the run, which moves all three alike.
    for base, label in (("lstm", "fused nn.LSTM + softmax"), ("cnn+lstm", "char CNN + fused nn.LSTM + softmax")):
        per_step = statistics.median(o / b for o, b in zip(times["ours"], times[base]))
        print(f"ratio ours / {label}: {per_step:.2f} (median of per-step ratios; ratio of medians "
              f"{median['ours'] / median[base]:.2f})" + ("  (target >= 0.7)" if base == "lstm" else ""))

    if args.profile:
        profile_ours(models["ours"], batches[args.warmup:], device, args.profile)


def profile_ours(contender: tuple, batches: list, device: torch.device, top: int) -> None:
    """The costliest operations of our training steps, by total host time and, on a GPU, device time."""
    from torch.profiler import ProfilerActivity, profile

    model, opt, step = contender
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for batch, word_ids, _ in batches:
            step(model, opt, batch, word_ids)
        if device.type == "cuda":
            torch.cuda.synchronize()
    for key in ["self_cpu_time_total"] + (["self_device_time_total"] if device.type == "cuda" else []):
        print(prof.key_averages().table(sort_by=key, row_limit=top, max_name_column_width=48))


if __name__ == "__main__":
    main()
