"""Quality benchmark: a char-CNN biLM (<= 6M parameters with its softmax) trained on PTB on CPU in ~60 minutes.

Trains ``bilm_arch=ptb-5m`` (2 x 512 LSTM, 128 projection, 512 char filters, 1 highway; ~3.0M biLM + 1.3M softmax
parameters) with ``pretrain.py``'s pipeline on the PTB LM text: Adam (lr 0.003, decaying linearly to 0 over
``--steps`` batches of 32 rows x 64 tokens, ~3.5 epochs), dropout 0.1, dev perplexity on 1,000 dev sentences every
300 steps; ``--minutes`` stops training early if the machine is slower than that.  Then it prints the test perplexity
(forward, backward, average).  Anchor: Kim et al. 2016, LSTM-Char-Small (5M parameters, forward LM only, 25 epochs on
a GPU, state carried over the whole test stream): test perplexity 92.3.  Our perplexities score whole sentences packed
into 64-token rows with zero initial state (see ``elmo_lab/lm/batching.py``), which gives the LM less context than
Kim et al.'s continuous stream.

    python benchmarks/pretrain_ptb.py [--minutes 60] [--steps 1250] [--threads 2] [--out DIR] [overrides]

On a machine shared with other work use ``--threads 1``: with 2 threads on 2 busy cores (load ~7) a run here managed
48 tokens/s (OpenMP threads waiting on each other), against ~600-1,200 tokens/s with one thread.  With 2 threads set
``OMP_WAIT_POLICY=PASSIVE``.

Extra arguments are Hydra overrides of ``conf/pretrain.yaml`` (e.g. ``model.lr=0.001``).  Rerunning resumes from the
run's last checkpoint (``max_time`` then counts the time already spent).
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
    "data.window=64", "data.batch_size=32", "data.max_valid_sentences=1000", "trainer.val_check_interval=300",
    "trainer.max_epochs=100", "trainer.enable_progress_bar=false",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2100,
                        help="training steps, over which the lr decays linearly to 0 (2,100 batches of 32 x 64 "
                             "tokens ~ 3.5 epochs ~ 60 minutes on 2 cores); --minutes stops it earlier if slower")
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
    print(json.dumps({"benchmark": "pretrain_ptb", "parameters_total": total,
                      "epochs_of_data": meta.get("epochs_of_data"),
                      "tokens_seen": meta["tokens_seen"], "wall_minutes": round((time.time() - start) / 60, 1),
                      "test_perplexity": {k: round(test[k], 2) for k in ("forward", "backward", "average")},
                      "valid_perplexity": {k: round(meta["perplexity"]["valid"][k], 2)
                                           for k in ("forward", "backward", "average")}}))
    print(f"PTB test perplexity: forward {test['forward']:.1f}  backward {test['backward']:.1f}  "
          f"average {test['average']:.1f}  ({total / 1e6:.2f}M parameters incl. softmax; "
          f"Kim et al. 2016 LSTM-Char-Small forward: 92.3; target average <= 100)")


if __name__ == "__main__":
    main()
