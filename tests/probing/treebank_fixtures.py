"""Small CoNLL-U treebanks written for the tree probes' tests: sentences whose trees their word types decide, so
a probe on the token layer alone (``probe=layer0``) can learn them, in a word order that tells nothing."""
from __future__ import annotations

import random
from pathlib import Path

# words of each tree level; the words of a level share their letters (the token layer of the tiny biLM reads
# characters), the levels do not; the root level's words are not the shortest in the token layer (else an untrained
# depth probe finds the root)
LEVELS = [["uuv", "vvu", "uvuv"], ["xxy", "yyx", "xyxy"], ["mmn", "nnm", "mnmn"], ["rrs", "ssr", "rsrs"],
          ["qqz", "zzq", "qzqz"], ["ggh", "hhg", "ghgh"]]
XPOS = ["VB", "NN", "JJ", "RB", "IN", "DT"]


def chain_sentence(rng: random.Random, levels: int) -> list[tuple[str, str, int]]:
    """``(form, xpos, depth)`` of one word per level 0..levels-1, shuffled, then a full stop: each level's word
    heads the next level's, the level-0 word is the root, the full stop attaches to the root."""
    chosen = [(rng.choice(LEVELS[d]), XPOS[d], d) for d in range(levels)]
    rng.shuffle(chosen)
    return chosen + [(".", ".", -1)]


def conllu_sentence(words: list[tuple[str, str, int]], sent_id: str) -> str:
    """CoNLL-U lines of a chain sentence (heads from the levels)."""
    position = {depth: i + 1 for i, (_, _, depth) in enumerate(words) if depth >= 0}
    lines = [f"# sent_id = {sent_id}", "# text = " + " ".join(w for w, _, _ in words)]
    for i, (form, xpos, depth) in enumerate(words, start=1):
        head = 0 if depth == 0 else position[0] if depth < 0 else position[depth - 1]
        upos, rel = ("PUNCT", "punct") if depth < 0 else ("X", "root" if depth == 0 else "dep")
        lines.append("\t".join([str(i), form, form, upos, xpos, "_", str(head), rel, "_", "_"]))
    return "\n".join(lines) + "\n\n"


def write_treebank(folder: Path, sizes: tuple[int, int, int] = (60, 15, 20), seed: int = 0) -> Path:
    """``folder/tiny-ud-{train,dev,test}.conllu``: chain sentences of 5 or 6 words and a full stop."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "dev", "test"), sizes):
        text = "".join(conllu_sentence(chain_sentence(rng, rng.choice([5, 6])), f"{split}-{i}") for i in range(n))
        (folder / f"tiny-ud-{split}.conllu").write_text(text, encoding="utf-8")
    return folder
