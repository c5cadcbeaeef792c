"""Quality benchmark: a char-CNN biLM (<= 6M parameters with its softmax) trained on PTB on CPU in ~60 minutes.

Trains ``bilm_arch=ptb-5m`` (2 x 512 LSTM, 128 projection, 512 char filters, 1 highway; ~3.0M biLM + 1.3M softmax
parameters) with ``pretrain.py``'s pipeline on the PTB LM text, read as one stream per batch row in windows of 64
tokens with the LSTM state carried (``data.batching=stream``, ``elmo_lab/lm/streams.py``): Adam (lr 0.003, decaying
linearly to 0 over ``--steps`` batches of 32 x 64 tokens), dropout 0.1, dev perplexity on 1,000 dev sentences every
300 steps; ``--minutes`` stops training early if the machine is slower than that.  Then it prints the test
perplexity (forward, backward, average) twice: read as a stream with the state carried (16 parallel segments), the
protocol of the anchor, and with whole sentences packed into rows that start from zero state (``data.batching=rows``).
Anchor: Kim et al. 2016, LSTM-Char-Small (5M parameters, forward LM only, 25 epochs on a GPU, state carried over the
whole test stream): test perplexity 92.3.

    python benchmarks/pretrain_ptb.py [--minutes 60] [--steps 2000] [--threads 2] [--out DIR] [overrides]

On a machine shared with other work use ``--threads 1``: with 2 threads on 2 busy cores (load ~7) a run here managed
48 tokens/s (OpenMP threads waiting on each other), against ~600-1,200 tokens/s with one thread.  With 2 threads set
``OMP_WAIT_POLICY=PASSIVE``.

Extra arguments are Hydra overrides of ``conf/pretrain.yaml`` (e.g. ``model.lr=0.001``, ``data.batching=rows``).
Rerunning resumes from the run's last checkpoint (``max_time`` then counts the time already spent).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]

OVERRIDES = [
    "corpus=ptb", "bilm_arch=ptb-5m", "logger=csv",
    "model.optimizer=adam", "model.lr=0.003", "model.dropout=0.1", "model.lr_schedule=linear",
    "data.batching=stream", "data.window=64", "data.batch_size=32", "data.eval_batch_size=16",
    "data.max_valid_sentences=1000", "trainer.val_check_interval=300",
    "trainer.max_epochs=100", "trainer.enable_progress_bar=false",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2000,
                        help="training steps, over which the lr decays linearly to 0 (2,000 batches of 32 x 64 "
                             "tokens ~ 4.2 epochs ~ 60 minutes on 2 cores); --minutes stops it earlier if slower")
    parser.add_argument("--out", default=str(REPO / "outputs" / "benchmarks" / "pretrain_ptb"))
    args, extra = parser.parse_known_args()
    minutes = int(round(args.minutes))
    overrides = [*OVERRIDES, f"threads={args.threads}", f"paths.output_dir={args.out}",
                 f"trainer.max_time=00:{minutes // 60:02d}:{minutes % 60:02d}:00", f"trainer.max_steps={args.steps}",
                 *extra]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="pretrain", overrides=overrides)
    from elmo_lab.lm.pretraining import run_pretraining

    command = " ".join(["python", "benchmarks/pretrain_ptb.py", *sys.argv[1:]])
    start = time.time()
    meta = run_pretraining(cfg, command=command)
    total = meta["bilm_parameters"] + meta["softmax_parameters"]
    test = meta["perplexity"]["test"]
    rows = rows_perplexity(Path(cfg.export.dir), cfg.data.eval_batch_size)
    print(json.dumps({"benchmark": "pretrain_ptb", "parameters_total": total, "batching": cfg.data.batching,
                      "epochs_of_data": meta.get("epochs_of_data"),
                      "tokens_seen": meta["tokens_seen"], "wall_minutes": round((time.time() - start) / 60, 1),
                      "test_perplexity": {k: round(test[k], 2) for k in ("forward", "backward", "average")},
                      "valid_perplexity": {k: round(meta["perplexity"]["valid"][k], 2)
                                           for k in ("forward", "backward", "average")},
                      "test_perplexity_rows": {k: round(rows[k], 2) for k in ("forward", "backward", "average")}}))
    print(f"PTB test perplexity ({cfg.data.batching}): forward {test['forward']:.1f}  backward {test['backward']:.1f}  "
          f"average {test['average']:.1f}  ({total / 1e6:.2f}M parameters incl. softmax; "
          f"Kim et al. 2016 LSTM-Char-Small forward: 92.3; target average <= 100)")
    print(f"PTB test perplexity (sentences packed into rows from zero state): forward {rows['forward']:.1f}  "
          f"backward {rows['backward']:.1f}  average {rows['average']:.1f}")


def rows_perplexity(model_dir: Path, batch_size: int) -> dict[str, float]:
    """Test perplexity of the exported model with packed sentence rows (zero state at each row start)."""
    from elmo_lab.bilm.weights import load_bilm
    from elmo_lab.lm.corpora import ptb_split
    from elmo_lab.lm.export import load_softmax
    from elmo_lab.lm.perplexity import evaluate_perplexity

    bilm = load_bilm(model_dir / "options.json", model_dir / "weights.hdf5")
    softmax, vocab = load_softmax(model_dir, bilm.options.projection_dim)
    return evaluate_perplexity(bilm, softmax, vocab, ptb_split("test"), window=64, batch_size=batch_size,
                               batching="rows")


if __name__ == "__main__":
    main()
