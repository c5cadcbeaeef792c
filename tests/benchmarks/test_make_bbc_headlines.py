"""``benchmarks/make_bbc_headlines.py`` (the README's seeded-effect example): the real BBC archive becomes three CSV
files that ``task=classify`` reads — every headline once, each topic split 80/10/10, the same files for a seed."""
from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from elmo_lab.lm.text_sources import SOURCES, source_folder

REPO = Path(__file__).resolve().parents[2]
ARCHIVE = source_folder() / SOURCES["bbc"].archive.filename
TOPICS = {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}  # the dataset's sizes


@pytest.mark.skipif(not ARCHIVE.is_file(), reason="the BBC archive is not cached (python -m elmo_lab fetch corpora)")
def test_headlines_split_per_topic_into_csv(tmp_path: Path) -> None:
    run = [sys.executable, str(REPO / "benchmarks" / "make_bbc_headlines.py")]
    subprocess.run(run + [str(tmp_path / "a")], check=True, capture_output=True, timeout=120)
    rows = {}
    for split in ("train", "dev", "test"):
        with open(tmp_path / "a" / f"{split}.csv", newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == ["text", "label"]
            rows[split] = [(r["text"], r["label"]) for r in reader]
    assert [len(rows[s]) for s in ("train", "dev", "test")] == [1781, 223, 221]
    assert Counter(label for part in rows.values() for _, label in part) == TOPICS
    for topic, n in TOPICS.items():
        assert sum(label == topic for _, label in rows["dev"]) == round(0.1 * n)
    assert all(text.strip() for part in rows.values() for text, _ in part)
    subprocess.run(run + [str(tmp_path / "b")], check=True, capture_output=True, timeout=120)
    assert (tmp_path / "a" / "test.csv").read_bytes() == (tmp_path / "b" / "test.csv").read_bytes()
