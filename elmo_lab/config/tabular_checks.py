"""The check every task on a user's own tabular data shares (``TabularConfig``: files or a Hugging Face dataset):
refuse a composed config whose data source or split settings cannot work, before any file is read."""
from __future__ import annotations

from elmo_lab.config.schema import ConfigError


def check_tabular(config: dict) -> None:
    """Refuse a composed config whose data source or split settings cannot work, before any file is read."""
    t = config["task"]
    sources = [key for key in ("data_dir", "train_file", "hf_dataset") if t.get(key)]
    if not sources:
        raise ConfigError("task.data_dir: no data; set task.data_dir=DIR (train/dev/test files), "
                          "task.train_file=... task.test_file=..., or task.hf_dataset=NAME_OR_PATH")
    if t.get("hf_dataset") and (t.get("data_dir") or any(t.get(f"{s}_file") for s in ("train", "dev", "test"))):
        raise ConfigError("task.hf_dataset: set either a Hugging Face dataset or files (task.data_dir, "
                          "task.*_file), not both")
    if not 0 < t.get("dev_fraction", 0.1) <= 0.5:
        raise ConfigError(f"task.dev_fraction: must be in (0, 0.5], got {t.get('dev_fraction')}")
    if t.get("max_tokens") is not None and t["max_tokens"] < 1:
        raise ConfigError(f"task.max_tokens: must be >= 1 or null, got {t['max_tokens']}")
