"""Quality benchmark: a char-CNN biLM (<= 6M parameters with its softmax) trained on PTB on CPU in ~60 minutes.

Trains ``bilm_arch=ptb-5m`` (2 x 512 LSTM, 128 projection, 512 char filters, 1 highway; ~3.0M biLM + 1.3M softmax
parameters) with ``pretrain.py``'s pipeline on the PTB LM text: Adam (lr 0.003, decaying linearly to 0 over
``--steps`` batches of 32 x 64 tokens), dropout 0.1, dev perplexity on 1,000 dev sentences every 300 steps;
``--minutes`` stops training early if the machine is slower than that.  ``--batching rows`` (default) packs whole
sentences into rows that start from zero state; ``--batching stream`` reads one stream per row in 64-token windows
with the LSTM state carried (``elmo_lab/lm/streams.py``).  Then it prints the test perplexity (forward, backward,
average) both ways: with packed sentence rows, and as a stream with the state carried (16 segments), the protocol of
the anchor: Kim et al. 2016, LSTM-Char-Small (5M parameters, forward LM only, 25 epochs on a GPU, state carried over
the whole test stream), test perplexity 92.3.

    python benchmarks/pretrain_ptb.py [--minutes 60] [--steps 2100] [--batching rows|stream] [--threads 2]
                                      [--out DIR] [overrides]

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

from elmo_lab.config.pretrain import register_pretrain_configs, validate_pretrain

REPO = Path(__file__).resolve().parents[1]

OVERRIDES = [
    "corpus=ptb", "bilm_arch=ptb-5m", "logger=csv",
    "model.optimizer=adam", "model.lr=0.003", "model.dropout=0.1", "model.lr_schedule=linear",
    "data.window=64", "data.batch_size=32", "data.max_valid_sentences=1000", "trainer.val_check_interval=300",
    "trainer.max_epochs=100", "trainer.enable_progress_bar=false",
]
# Test-set protocols: batching and rows per batch (stream: parallel segments, each starting without context).
PROTOCOLS = {"rows": 64, "stream": 16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2100,
                        help="training steps, over which the lr decays linearly to 0 (2,100 batches of 32 x 64 "
                             "tokens ~ 3.5 epochs of rows ~ 60 minutes on 2 cores); --minutes stops it earlier if "
                             "slower")
    parser.add_argument("--batching", choices=sorted(PROTOCOLS), default="rows",
                        help="how training reads the text (data.batching); the test set is scored both ways")
    parser.add_argument("--out", default=str(REPO / "outputs" / "benchmarks" / "pretrain_ptb"))
    args, extra = parser.parse_known_args()
    minutes = int(round(args.minutes))
    overrides = [*OVERRIDES, f"data.batching={args.batching}", f"data.eval_batch_size={PROTOCOLS[args.batching]}",
                 f"threads={args.threads}", f"paths.output_dir={args.out}",
                 f"trainer.max_time=00:{minutes // 60:02d}:{minutes % 60:02d}:00", f"trainer.max_steps={args.steps}",
                 *extra]
    register_pretrain_configs()  # the typed schema conf/pretrain.yaml starts from
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="pretrain", overrides=overrides)
    validate_pretrain(cfg)
    from elmo_lab.lm.pretraining import run_pretraining

    command = " ".join(["python", "benchmarks/pretrain_ptb.py", *sys.argv[1:]])
    start = time.time()
    meta = run_pretraining(cfg, command=command)
    total = meta["bilm_parameters"] + meta["softmax_parameters"]
    test = {name: test_perplexity(Path(cfg.export.dir), name) for name in PROTOCOLS}
    print(json.dumps({"benchmark": "pretrain_ptb", "parameters_total": total, "batching": str(cfg.data.batching),
                      "steps": meta["global_steps"], "epochs_of_data": meta.get("epochs_of_data"),
                      "tokens_seen": meta["tokens_seen"], "wall_minutes": round((time.time() - start) / 60, 1),
                      "valid_perplexity": {k: round(meta["perplexity"]["valid"][k], 2)
                                           for k in ("forward", "backward", "average")},
                      **{f"test_perplexity_{name}": {k: round(ppl[k], 2) for k in ("forward", "backward", "average")}
                         for name, ppl in test.items()}}))
    for name, words in (("rows", "whole sentences packed into rows from zero state"),
                        ("stream", f"one stream per row, state carried, {PROTOCOLS['stream']} segments")):
        ppl = test[name]
        print(f"PTB test perplexity ({words}): forward {ppl['forward']:.1f}  backward {ppl['backward']:.1f}  "
              f"average {ppl['average']:.1f}")
    print(f"({total / 1e6:.2f}M parameters incl. softmax, trained with data.batching={cfg.data.batching}; "
          "Kim et al. 2016 LSTM-Char-Small, forward, stream: 92.3; target average <= 100)")


def test_perplexity(model_dir: Path, batching: str) -> dict[str, float]:
    """Test perplexity of the exported model, the text batched as ``batching`` (``PROTOCOLS``)."""
    from elmo_lab.bilm.weights import load_bilm
    from elmo_lab.lm.corpora import ptb_split
    from elmo_lab.lm.export import load_softmax
    from elmo_lab.lm.perplexity import evaluate_perplexity

    bilm = load_bilm(model_dir / "options.json", model_dir / "weights.hdf5")
    softmax, vocab = load_softmax(model_dir, bilm.options.projection_dim)
    return evaluate_perplexity(bilm, softmax, vocab, ptb_split("test"), window=64, batch_size=PROTOCOLS[batching],
                               batching=batching)


if __name__ == "__main__":
    main()
