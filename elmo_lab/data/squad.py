"""SQuAD v1.1 (Rajpurkar et al. 2016): extractive question answering, the ELMo paper's BiDAF task.

Files: ``train-v1.1.json`` (87,599 questions, 18,896 paragraphs, 442 Wikipedia articles) and ``dev-v1.1.json``
(10,570 questions, 2,067 paragraphs, 48 articles; mostly three answers per question): ``{"data": [{"title",
"paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}``, where
``answer_start`` must point at the answer text in ``context`` (checked, like every other field).

Tokens (:func:`~elmo_lab.data.offset_tokenize.tokenize_with_offsets`, re-exported here) keep their ``(start,
end)`` character offsets into the original string, so a predicted token span is turned back into the exact passage
substring that the official evaluator scores. Each answer's character span becomes the token span ``(start_token,
end_token)`` (inclusive) covering it; an answer whose boundary falls inside a token (``"Bronco"`` in
``"Broncos"``) gets the smallest covering span and is counted in :class:`SquadStats` as misaligned (no token span
can match it exactly).

Splits (:func:`load_squad`): the official dev set is the ``test`` split (the number the paper reports); ``dev``
(validation, for model selection) is a held-out part of the train file, ``round(val_fraction * articles)``
whole articles (at least one when ``val_fraction > 0``) drawn with ``random.Random(split_seed)``, so no passage
(nor any other passage of the same article) is in both. ``max_train_questions`` then keeps a sample of that
many training questions, drawn by the same generator and kept in file order.

Truncation (``max_passage_tokens=N``): every passage keeps only its first N tokens. Training questions whose first
answer ends beyond the cut are dropped (counted). Evaluation questions (``dev`` and ``test``) are never dropped, so
scores are over every question as in the official evaluation; a question whose gold answers all end beyond the
cut is kept with ``beyond_limit=True`` — no token span of the kept passage is a gold span, so it scores as wrong
(unless the same text also occurs earlier, which the text-based official metric counts as right).

Where the files come from (:func:`find_squad`): with ``data_dir``, that folder must hold both files; nothing is
downloaded. Without it, ``elmo_lab.util.download.cache_dir()/squad/``, filled once from the official site with a
progress bar and a size check against the server's ``Content-Length``. No SHA-256 is recorded: the files could not
be fetched to compute one when this reader was written (the network is unavailable here).

Memory: passages are tokenised once and shared by their questions (:class:`Passage`); offsets are ``array``
columns and token strings are interned.
"""

from __future__ import annotations

import json
import random
import sys
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elmo_lab.data.errors import DataError
from elmo_lab.data.offset_tokenize import tokenize_with_offsets

__all__ = ["Passage", "QAExample", "SQUAD_FILES", "SQUAD_URL", "SquadStats", "find_squad", "load_squad",
           "read_squad", "split_by_article", "tokenize_with_offsets"]

SQUAD_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
SQUAD_FILES = {"train": "train-v1.1.json", "test": "dev-v1.1.json"}  # our split name -> official file


@dataclass(frozen=True, eq=False)
class Passage:
    """One context paragraph, tokenised once and shared (by reference) by all of its questions.

    # Parameters
    title : the Wikipedia article title.
    article : index of the article in its file (the unit of the train/validation split).
    context : the paragraph text, unchanged.
    tokens : the kept tokens (the first ``max_passage_tokens`` when truncating), interned strings.
    starts, ends : ``array`` of each kept token's character offsets: ``context[starts[i]:ends[i]] == tokens[i]``.
    num_tokens : the passage's token count before truncation.
    """

    title: str
    article: int
    context: str
    tokens: tuple[str, ...]
    starts: array = field(repr=False)
    ends: array = field(repr=False)
    num_tokens: int

    @property
    def truncated(self) -> bool:
        return len(self.tokens) < self.num_tokens

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """``(start, end)`` character offsets of the kept tokens."""
        return list(zip(self.starts, self.ends))

    def span_text(self, start: int, end: int) -> str:
        """The context substring of the token span ``start..end`` (inclusive): what a prediction answers."""
        return self.context[self.starts[start] : self.ends[end]]


@dataclass(frozen=True)
class QAExample:
    """One question over a shared :class:`Passage`, with all of its gold answers.

    # Parameters
    qid : the official question id (the key of the predictions the official evaluator reads).
    question_tokens : the tokenised question (never empty).
    passage : the paragraph, shared with its other questions.
    answer_texts : every gold answer text as given (duplicates kept; the metric takes the max over them).
    answer_spans : ``(start_token, end_token)`` (inclusive) of each answer in the untruncated tokenisation (an end
        may lie beyond ``len(passage.tokens)`` when truncating); training uses the first.
    answer_aligned : per answer, whether its character span begins and ends on token boundaries (``False``: the
        span is the smallest covering one).
    beyond_limit : every gold span ends beyond the kept passage tokens (evaluation questions only; training
        questions whose first answer lies beyond are dropped instead).
    """

    qid: str
    question_tokens: tuple[str, ...]
    passage: Passage
    answer_texts: tuple[str, ...]
    answer_spans: tuple[tuple[int, int], ...]
    answer_aligned: tuple[bool, ...]
    beyond_limit: bool = False

    @property
    def passage_tokens(self) -> tuple[str, ...]:
        return self.passage.tokens

    @property
    def passage_offsets(self) -> list[tuple[int, int]]:
        return self.passage.offsets

    @property
    def context(self) -> str:
        return self.passage.context

    @property
    def span(self) -> tuple[int, int] | None:
        """The training target: the first gold span inside the kept passage tokens; ``None`` if ``beyond_limit``."""
        kept = len(self.passage.tokens)
        return next((span for span in self.answer_spans if span[1] < kept), None)


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _get(obj: Any, key: str, kind: type, where: str) -> Any:
    """``obj[key]``, checked to exist and be of ``kind``; otherwise a one-line DataError naming ``where``."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise DataError(f"{where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(f"{where}: field {key!r} is {type(value).__name__}, expected {kind.__name__}")
    return value


def _load_json(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    if not raw.strip():
        raise DataError(f"{path}: empty file, expected SQuAD v1.1 JSON")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); is this a SQuAD JSON file?") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object with a 'data' list, got {type(data).__name__}")
    return data


def _passage(title: str, article: int, context: str, limit: int | None) -> tuple[Passage, array, array]:
    """The shared passage (kept tokens only) and the full start/end columns used to map answers."""
    tokens = tokenize_with_offsets(context)
    starts, ends = array("i", (t[1] for t in tokens)), array("i", (t[2] for t in tokens))
    kept = len(tokens) if limit is None else min(limit, len(tokens))
    passage = Passage(title, article, context, tuple(sys.intern(t[0]) for t in tokens[:kept]),
                      starts[:kept], ends[:kept], len(tokens))
    return passage, starts, ends


def _answer_span(context: str, starts: array, ends: array, text: str, start: int, where: str) -> tuple[int, int, bool]:
    """Map one answer's characters to its covering token span; returns ``(first, last, aligned)``."""
    if start < 0 or context[start : start + len(text)] != text:
        found = context[max(start, 0) : max(start, 0) + len(text)]
        raise DataError(f"{where}: answer_start {start} does not point at the answer text {_short(text)} "
                        f"(the context there reads {_short(found)})")
    stripped = text.strip()
    if not stripped:
        raise DataError(f"{where}: empty answer text at answer_start {start}")
    begin = start + text.index(stripped)
    end = begin + len(stripped)
    first, last = bisect_right(ends, begin), bisect_left(starts, end) - 1
    if first > last:
        raise DataError(f"{where}: answer {_short(text)} at {start} covers no token")
    return first, last, starts[first] == begin and ends[last] == end


def read_squad(path: str | Path, *, max_passage_tokens: int | None = None) -> list[QAExample]:
    """Every question of a SQuAD v1.1 file, in file order, with passages cut to ``max_passage_tokens``.

    Nothing is dropped here; ``beyond_limit`` marks questions whose gold answers all end beyond the cut.
    Raises :class:`DataError` naming the file (and the question id, or ``data[i].paragraphs[j]``) on bad input.
    """
    path = Path(path)
    articles = _get(_load_json(path), "data", list, str(path))
    examples: list[QAExample] = []
    seen: set[str] = set()
    for a, article in enumerate(articles):
        title = _get(article, "title", str, f"{path}: data[{a}]")
        for p, paragraph in enumerate(_get(article, "paragraphs", list, f"{path}: data[{a}]")):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            context = _get(paragraph, "context", str, where)
            passage, starts, ends = _passage(title, a, context, max_passage_tokens)
            if not passage.num_tokens:
                raise DataError(f"{where}: empty context")
            for q, qa in enumerate(_get(paragraph, "qas", list, where)):
                qid = _get(qa, "id", str, f"{where}.qas[{q}]")
                examples.append(_example(qa, qid, passage, starts, ends, f"{path}: question {qid}", seen))
    if not examples:
        raise DataError(f"{path}: no questions found (expected data[].paragraphs[].qas[])")
    return examples


def _example(qa: dict, qid: str, passage: Passage, starts: array, ends: array, where: str,
             seen: set[str]) -> QAExample:
    if qid in seen:
        raise DataError(f"{where}: duplicate question id")
    seen.add(qid)
    question = tuple(sys.intern(t[0]) for t in tokenize_with_offsets(_get(qa, "question", str, where)))
    if not question:
        raise DataError(f"{where}: empty question")
    answers = _get(qa, "answers", list, where)
    if not answers:
        raise DataError(f"{where}: no answers (SQuAD 2.0 unanswerable questions are not supported)")
    texts, spans, aligned = [], [], []
    for answer in answers:
        text = _get(answer, "text", str, where)
        first, last, ok = _answer_span(passage.context, starts, ends, text,
                                       _get(answer, "answer_start", int, where), where)
        texts.append(text)
        spans.append((first, last))
        aligned.append(ok)
    kept = len(passage.tokens)
    return QAExample(qid, question, passage, tuple(texts), tuple(spans), tuple(aligned),
                     beyond_limit=all(last >= kept for _, last in spans))


def split_by_article(
    examples: list[QAExample], val_fraction: float, rng: random.Random
) -> tuple[list[QAExample], list[QAExample]]:
    """``(train, validation)``: ``round(val_fraction * n_articles)`` whole articles (at least one if
    ``val_fraction > 0``, at least one left for training) go to validation; both keep file order."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction={val_fraction}: expected a number in [0, 1)")
    articles = sorted({example.passage.article for example in examples})
    n_val = max(1, round(val_fraction * len(articles))) if val_fraction > 0 else 0
    if n_val >= len(articles) and n_val:
        raise DataError(f"val_fraction={val_fraction} leaves no training article (the train file has "
                        f"{len(articles)}); use a smaller fraction")
    held_out = set(rng.sample(articles, n_val))
    return ([e for e in examples if e.passage.article not in held_out],
            [e for e in examples if e.passage.article in held_out])


@dataclass(frozen=True)
class SquadStats:
    """What :func:`load_squad` read, cut and dropped; per-split counts are over the returned examples.

    # Parameters
    questions, passages, articles : per split.
    answers : gold answers per split (evaluation questions mostly have three).
    misaligned_answers : per split, gold answers whose boundary falls inside a token (mapped to the covering span).
    truncated_passages : per split, passages longer than ``max_passage_tokens``.
    beyond_limit : per split, kept evaluation questions whose gold answers all lie beyond the cut.
    dropped_beyond_limit : training questions dropped because their first answer lies beyond the cut.
    dropped_by_sample : training questions left out by ``max_train_questions``.
    """

    questions: dict[str, int]
    passages: dict[str, int]
    articles: dict[str, int]
    answers: dict[str, int]
    misaligned_answers: dict[str, int]
    truncated_passages: dict[str, int]
    beyond_limit: dict[str, int]
    dropped_beyond_limit: int = 0
    dropped_by_sample: int = 0

    @classmethod
    def of(cls, splits: dict[str, list[QAExample]], dropped_beyond_limit: int, dropped_by_sample: int) -> SquadStats:
        passages = {name: list({id(e.passage): e.passage for e in es}.values()) for name, es in splits.items()}
        return cls(
            questions={name: len(es) for name, es in splits.items()},
            passages={name: len(ps) for name, ps in passages.items()},
            articles={name: len({e.passage.article for e in es}) for name, es in splits.items()},
            answers={name: sum(len(e.answer_texts) for e in es) for name, es in splits.items()},
            misaligned_answers={name: sum(e.answer_aligned.count(False) for e in es) for name, es in splits.items()},
            truncated_passages={name: sum(p.truncated for p in ps) for name, ps in passages.items()},
            beyond_limit={name: sum(e.beyond_limit for e in es) for name, es in splits.items()},
            dropped_beyond_limit=dropped_beyond_limit,
            dropped_by_sample=dropped_by_sample,
        )

    def summary(self) -> str:
        """One line per split, for logs."""
        lines = [f"{name}: {self.questions[name]} questions, {self.passages[name]} passages, "
                 f"{self.articles[name]} articles, {self.misaligned_answers[name]}/{self.answers[name]} answers "
                 f"misaligned, {self.truncated_passages[name]} passages truncated, "
                 f"{self.beyond_limit[name]} questions beyond the limit" for name in self.questions]
        lines.append(f"training questions dropped: {self.dropped_beyond_limit} beyond the limit, "
                     f"{self.dropped_by_sample} by max_train_questions")
        return "\n".join(lines)


def _offline_hint(folder: Path) -> str:
    files = " and ".join(SQUAD_URL + name for name in SQUAD_FILES.values())
    return f"download {files} into a folder and pass task.data_dir=PATH (or put them in {folder})"


def find_squad(data_dir: str | Path | None = None, download: bool = True) -> dict[str, Path]:
    """``{"train": train-v1.1.json, "test": dev-v1.1.json}`` from ``data_dir`` or the cache (module docstring)."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        files = {split: root / name for split, name in SQUAD_FILES.items()}
        missing = [str(path) for path in files.values() if not path.is_file()]
        if missing:
            raise DataError(f"SQuAD not found: missing {', '.join(missing)}; {_offline_hint(root)}")
        return files
    from elmo_lab.util.download import DownloadError, cache_dir
    from elmo_lab.util.download import download as fetch

    folder = cache_dir() / "squad"
    files = {split: folder / name for split, name in SQUAD_FILES.items()}
    for path in files.values():
        if path.is_file():
            continue
        if not download:
            raise DataError(f"SQuAD not available: {path} does not exist; {_offline_hint(folder)}")
        try:
            fetch(SQUAD_URL + path.name, path)
        except DownloadError as error:
            raise DataError(f"SQuAD not available ({error}); {_offline_hint(folder)}") from None
    return files


def load_squad(
    data_dir: str | Path | None = None,
    *,
    download: bool = True,
    val_fraction: float = 0.05,
    split_seed: int = 0,
    max_train_questions: int | None = None,
    max_passage_tokens: int | None = None,
) -> tuple[dict[str, list[QAExample]], SquadStats]:
    """SQuAD v1.1 as ``({"train", "dev", "test"}, stats)`` (splits, truncation and location: module docstring).

    # Parameters
    data_dir : a folder holding ``train-v1.1.json`` and ``dev-v1.1.json``; ``None`` uses/fills the cache.
    download : without ``data_dir``, whether missing cached files may be downloaded.
    val_fraction : share of the train file's articles held out as the ``dev`` (validation) split.
    split_seed : seeds the held-out articles and the ``max_train_questions`` sample.
    max_train_questions : keep a seeded sample of this many training questions (CPU runs); ``None`` keeps all.
    max_passage_tokens : cut every passage to its first N tokens; ``None`` keeps whole passages.
    """
    for name, value in (("max_train_questions", max_train_questions), ("max_passage_tokens", max_passage_tokens)):
        if value is not None and value < 1:
            raise DataError(f"{name}={value}: expected an integer >= 1 or None")
    files = find_squad(data_dir, download=download)
    rng = random.Random(split_seed)
    train, dev = split_by_article(read_squad(files["train"], max_passage_tokens=max_passage_tokens), val_fraction, rng)
    test = read_squad(files["test"], max_passage_tokens=max_passage_tokens)
    kept = [e for e in train if e.answer_spans[0][1] < len(e.passage.tokens)]
    dropped_beyond = len(train) - len(kept)
    dropped_sample = 0
    if max_train_questions is not None and max_train_questions < len(kept):
        chosen = sorted(rng.sample(range(len(kept)), max_train_questions))
        dropped_sample = len(kept) - len(chosen)
        kept = [kept[i] for i in chosen]
    splits = {"train": kept, "dev": dev, "test": test}
    return splits, SquadStats.of(splits, dropped_beyond, dropped_sample)
