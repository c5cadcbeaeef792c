"""Fake run folders as the training pipeline writes them, for the report's tests."""
from __future__ import annotations

import copy
import json
from pathlib import Path

SIZES = {"train": 6826, "dev": 852, "test": 852}
BASE_CONFIG = {
    "task": {"name": "mr", "module": "tasks.sentiment", "data_dir": None, "lr": 0.003, "max_epochs": 6,
             "pooling": ["max", "mean"], "num_workers": 0},
    "elmo": {"placement": "input", "mix": "all", "layer": None, "layer_norm": False, "dropout": 0.5,
             "l2_coef": 0.001},
    "bilm": {"spec": "default", "freeze": True, "finetune": {"enabled": False, "epochs": 1}},
    "trainer": {"max_epochs": 6, "accelerator": "cpu", "enable_progress_bar": True},
    "logger": {"csv": {"save_dir": "RUN"}},
    "callbacks": {"model_checkpoint": {"dirpath": "RUN/checkpoints", "monitor": "val/acc"},
                  "layer_weights": {"heatmap_path": "RUN/layer_weights.png", "every_n_steps": 20}},
    "paths": {"output_dir": "RUN"}, "seed": 0, "threads": 1, "force": False, "test": True,
    "optimized_metric": "val/acc", "run_name": "RUN",
}


def write_run(folder: Path, *, placement: str = "input", mix: str = "all", layer: int | None = None,
              l2: float = 0.001, lr: float = 0.003, seed: int = 0, test: float = 0.8, task: str = "mr",
              sizes: dict | None = None, spec: str = "default", metrics: dict | None = None,
              task_settings: dict | None = None, **extra) -> Path:
    """A run directory holding a results.json like the training pipeline writes; ``task_settings`` adds
    ``task.*`` keys (and names the folder after them)."""
    suffix = "".join(f"-{k}{v}" for k, v in sorted((task_settings or {}).items()))
    run_dir = folder / f"{task}-{placement}-{mix}{'' if layer is None else layer}-l2_{l2}-lr{lr}{suffix}-seed{seed}"
    config = copy.deepcopy(BASE_CONFIG)
    config["task"].update(name=task, lr=lr, **(task_settings or {}))
    config["elmo"].update(placement=placement, mix=mix, layer=layer, l2_coef=l2)
    config["bilm"]["spec"] = spec
    # where the layers were kept and the store's size cap: never a setting of their own
    config["bilm"].update(cache_dir=f"/scratch/job{seed}/layers", cache_max_gb=50 + seed)
    config.update(seed=seed, run_name=run_dir.name, paths={"output_dir": str(run_dir)})
    weights = {} if placement == "none" else {
        name: {"s": [0.2 + 0.1 * seed, 0.5, 0.3 - 0.1 * seed], "gamma": 1.0 + seed}
        for name in {"input": ["input"], "output": ["output"], "both": ["input", "output"]}[placement]}
    data = {"task": task, "placement": placement, "mix": mix, "l2_coef": l2, "seed": seed,
            "metrics": metrics or {"val/acc": test - 0.01, "test/acc": test}, "layer_weights": weights,
            "data_sizes": sizes or SIZES, "finetune": None, "config": config, **extra}
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(data, indent=2))
    return run_dir
