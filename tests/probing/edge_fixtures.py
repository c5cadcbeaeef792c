"""Small edge-probing data sets in jiant's JSON-lines format for the edge probe's tests: labels that the word types
inside the spans decide, among filler words, so a probe on the token layer alone can learn them."""
from __future__ import annotations

import json
import random
from pathlib import Path

FILLER = ["ab", "ba", "aab", "bba", "abab"]
CLASSES = {"PER": ["qqz", "zzq"], "LOC": ["xxy", "yyx"], "ORG": ["mmn", "nnm"], "TIME": ["rrs", "ssr"]}


def _record(rng: random.Random, two_spans: bool) -> dict:
    """A sentence of filler words with two class words (one or two tokens long) and its targets: one span per
    class word labelled with its class, or one pair (first, second) labelled with both classes, marked 1/2."""
    tokens = rng.choices(FILLER, k=rng.randint(3, 6))
    spans = []
    for _ in range(2):
        label = rng.choice(sorted(CLASSES))
        words = rng.choices(CLASSES[label], k=rng.randint(1, 2))
        at = rng.choice([i for i in range(len(tokens) + 1) if not any(s < i < e for s, e, _ in spans)])
        tokens[at:at] = words
        spans = [(s + len(words) if s >= at else s, e + len(words) if s >= at else e, x) for s, e, x in spans]
        spans.append((at, at + len(words), label))
    spans.sort()
    if two_spans:
        (s1, e1, l1), (s2, e2, l2) = spans
        targets = [{"span1": [s1, e1], "span2": [s2, e2], "label": [f"first-{l1}", f"second-{l2}"]}]
    else:
        targets = [{"span1": [s, e], "label": x} for s, e, x in spans]
    return {"text": " ".join(tokens), "targets": targets}


def write_edge_files(folder: Path, two_spans: bool = False, sizes: tuple[int, int, int] = (80, 20, 20),
                     seed: int = 0) -> Path:
    """``folder/{train,dev,test}.json``: one-span targets labelled by class, or two-span multi-label targets."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "dev", "test"), sizes):
        lines = [json.dumps(_record(rng, two_spans)) for _ in range(n)]
        (folder / f"{split}.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
