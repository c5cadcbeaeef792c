"""What the shared biLM layer cache (``elmo_lab.cache.store``, ``bilm.cache_on_disk``) saves a sweep.

Three measurements, each printed as it finishes:

1. ``weights_digest`` time (the entry key's cost, paid once per process): the packaged default biLM and random
   weights of the ``elmo_original`` shape (93.6M parameters; ``--digest-original``).
2. Per-batch assembly on MR (8,530 snippets, the default biLM's shapes: 3 layers × 256, float16, batches of 64 in a
   shuffled order): from this run's memory vs from the memory-mapped disk entry (warm page cache), and the cache's
   previous in-memory layout for reference.  Synthetic values; only shapes and lengths matter here.
3. The sweep over placements none, input, output, both against one run (``placement=both``), each side with its own
   cold cache in a temporary directory.  ``--mode multirun`` (default): the sweep as the README runs it, one
   ``python train.py -m task=mr elmo.placement=none,input,output,both`` (the basic launcher: jobs one after another in
   one process, so start-up is paid once; per-job seconds from each job directory's first and last file).
   ``--mode processes``: ``python train.py task=mr elmo.placement=P``, a fresh process each (nothing shared in memory,
   as with joblib or a SLURM array).  Printed: wall seconds and the ratio sweep / single (the cache's target: ≤ 1.5×
   with the default biLM; without it a sweep costs about one biLM pass per biLM run).  Repeated with random weights
   of the published ``elmo_small`` architecture (saved with ``save_bilm`` into the temporary directory), where the
   biLM pass dominates.

    python benchmarks/sweep_cache.py [--epochs 1] [--bilms default,small] [--mode multirun|processes|both]
                                     [--skip-sweep] [--digest-original] [--compare-memory]

Slow on a busy machine: run it where nothing else competes for the cores.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elmo_lab import BiLM, BiLMOptions, save_bilm  # noqa: E402
from elmo_lab.cache.store import LayerStore, weights_digest  # noqa: E402
from elmo_lab.config.published import PUBLISHED_SHAPES  # noqa: E402

PLACEMENTS = ["none", "input", "output", "both"]
SHAPES = {name: BiLMOptions.from_dict(s["options"], name) for name, s in PUBLISHED_SHAPES.items()}


def time_digests(original: bool) -> None:
    from elmo_lab.bilm.pretrained import load_named_bilm

    models = [("default", load_named_bilm("default"))]
    if original:
        models.append(("elmo_original shape (random)", BiLM(SHAPES["elmo_original"])))
    for name, bilm in models:
        n = sum(p.numel() for p in bilm.state_dict().values())
        start = time.perf_counter()
        weights_digest(bilm)
        first = time.perf_counter() - start
        start = time.perf_counter()
        weights_digest(bilm)
        again = time.perf_counter() - start
        print(f"weights_digest {name}: {n / 1e6:.1f}M values, {first:.3f} s (memoised repeat {again * 1e3:.2f} ms)")


def _old_assembly(cache: dict, tokens: list) -> torch.Tensor:
    """The cache's previous in-memory path: (L + 1, len, dim) float16 per sequence, assembled into float32."""
    rows = [cache[tuple(t)] for t in tokens]
    n_layers, _, dim = rows[0].shape
    out = torch.zeros(len(rows), n_layers, max(len(t) for t in tokens), dim)  # (batch, L + 1, time, dim)
    for i, r in enumerate(rows):
        out[i, :, : r.size(1)] = r
    return out


def time_assembly(folder: Path, batch_size: int = 64, repeats: int = 5) -> None:
    from elmo_lab.data import rotten_tomatoes_splits
    from elmo_lab.elmo.layer_cache import SequenceLayerCache
    from elmo_lab.bilm.pretrained import load_named_bilm

    splits = rotten_tomatoes_splits()
    sequences = sorted({tuple(e.tokens) for split in splits.values() for e in split}, key=lambda s: (len(s), s))
    bilm = load_named_bilm("default")
    n_layers, dim = bilm.num_layers, bilm.output_dim
    rng = np.random.default_rng(0)
    values = {s: rng.standard_normal((len(s), n_layers, dim)).astype(np.float16) for s in sequences}
    memory = SequenceLayerCache()
    memory._memory.update(values)
    disk = SequenceLayerCache(LayerStore(folder))
    entry = disk.store.open_or_build("0" * 40, [len(s) for s in sequences], n_layers, dim,
                                      lambda: (values[s] for s in sequences))
    disk._on_disk.update((s, (entry, i)) for i, s in enumerate(sequences))
    old = {s: torch.from_numpy(v).transpose(0, 1).contiguous() for s, v in values.items()}
    order = [list(s) for s in sequences]
    random.Random(0).shuffle(order)
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    tokens = sum(len(s) for s in sequences)
    print(f"assembly: MR {len(sequences)} sequences, {tokens} tokens, {n_layers}×{dim} fp16 "
          f"({tokens * n_layers * dim * 2 / 2**20:.0f} MiB), {len(batches)} batches of {batch_size}")
    ways = {"memory": lambda b: memory._assemble(bilm, b), "disk (memmap)": lambda b: disk._assemble(bilm, b),
            "previous memory layout": lambda b: _old_assembly(old, b)}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(repeats):  # interleaved, best epoch kept: robust to a busy machine; disk round 1 checks CRCs
        for name, assemble in ways.items():
            start = time.perf_counter()
            for batch in batches:
                assemble(batch)
            best[name] = min(best[name], time.perf_counter() - start)
    for name, seconds in best.items():
        print(f"  {name:24s} {seconds / len(batches) * 1e3:6.2f} ms per batch (best of {repeats} epochs)")


def _train(overrides: list[str], cache_dir: Path, run_dir: Path | None = None) -> float:
    """Wall seconds of one ``train.py`` process (a multirun when ``run_dir`` is None and ``-m`` is in overrides)."""
    where = [f"hydra.run.dir={run_dir}"] if run_dir is not None else []
    flags = [o for o in overrides if o.startswith("-")]  # Hydra reads -m before the overrides only
    command = [sys.executable, str(REPO / "train.py"), *flags, "task=mr", f"bilm.cache_dir={cache_dir}", "logger=csv",
               "trainer.enable_progress_bar=false", *where, *(o for o in overrides if o not in flags)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"train.py failed ({' '.join(overrides)}):\n{done.stderr[-3000:]}")
    return seconds


def _job_seconds(job_dir: Path) -> float:
    """A multirun job's span: from its first file (Hydra's ``.hydra/config.yaml``) to ``results.json``."""
    return (job_dir / "results.json").stat().st_mtime - (job_dir / ".hydra" / "config.yaml").stat().st_mtime


def time_sweep(label: str, spec: str, epochs: int, folder: Path, mode: str, on_disk: bool = True) -> None:
    common = [f"bilm.spec={spec}", f"trainer.max_epochs={epochs}", f"bilm.cache_on_disk={str(on_disk).lower()}"]
    folder = folder / f"{Path(spec).name}-{mode}-{'disk' if on_disk else 'memory'}"
    label += "" if on_disk else " [bilm.cache_on_disk=false: each run has its own in-memory cache]"
    single = _train(common + ["elmo.placement=both"], folder / "cache_single", folder / "single")
    if mode == "processes":
        runs = [_train(common + [f"elmo.placement={p}"], folder / "cache_sweep", folder / f"sweep_{p}")
                for p in PLACEMENTS]
        total, how = sum(runs), "fresh processes"
    else:
        sweep_dir = folder / "multirun"
        total = _train(["-m", *common, f"elmo.placement={','.join(PLACEMENTS)}", f"hydra.sweep.dir={sweep_dir}",
                        "hydra.sweep.subdir=${elmo.placement}"], folder / "cache_sweep")
        runs = [_job_seconds(sweep_dir / p) for p in PLACEMENTS]
        how = f"one multirun process; start-up and Hydra {total - sum(runs):.0f} s"
    detail = ", ".join(f"{p} {s:.0f}" for p, s in zip(PLACEMENTS, runs))
    print(f"sweep {label}: single run (both) {single:.1f} s; 4-placement sweep {total:.1f} s ({how}; {detail}); "
          f"ratio {total / single:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1, help="trainer.max_epochs of every run (default 1)")
    parser.add_argument("--bilms", default="default,small", help="default and/or small (random elmo_small weights)")
    parser.add_argument("--mode", choices=["multirun", "processes", "both"], default="multirun",
                        help="the sweep as one `train.py -m` process (default) or a fresh process per placement")
    parser.add_argument("--skip-sweep", action="store_true", help="only the digest and assembly timings")
    parser.add_argument("--digest-original", action="store_true", help="also time the digest of a 93.6M biLM")
    parser.add_argument("--compare-memory", action="store_true",
                        help="also time each sweep with bilm.cache_on_disk=false (the per-run in-memory cache)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="sweep_cache_") as tmp:
        folder = Path(tmp)
        time_digests(args.digest_original)
        time_assembly(folder / "assembly")
        if args.skip_sweep:
            return
        for label in args.bilms.split(","):
            spec = label
            if label == "small":
                torch.manual_seed(0)
                label, spec = "elmo_small (random weights)", str(folder / "elmo_small_random")
                Path(spec).mkdir()
                save_bilm(BiLM(SHAPES["elmo_small"]).eval(), Path(spec) / "options.json",
                          Path(spec) / "weights.hdf5")
            for mode in ["multirun", "processes"] if args.mode == "both" else [args.mode]:
                for on_disk in (True, False) if args.compare_memory else (True,):
                    time_sweep(label, spec, args.epochs, folder, mode, on_disk)


if __name__ == "__main__":
    main()
