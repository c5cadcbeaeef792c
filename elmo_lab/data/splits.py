"""The splits of every task's data, and what datasets call them: one home for both."""
from __future__ import annotations

SPLITS = ("train", "dev", "test")  # in this order everywhere: the datamodule, readers, results.json
# What a split is called in a folder's file names and in a Hugging Face dataset, the usual name first: GLUE and
# Hugging Face say "validation", SNLI/MultiNLI releases "dev" and "dev_matched", GLUE's MultiNLI
# "validation_matched".
SPLIT_NAMES = {"train": ("train",), "dev": ("validation", "dev", "valid", "validation_matched", "dev_matched"),
               "test": ("test",)}
