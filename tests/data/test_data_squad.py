"""SQuAD v1.1: offset tokeniser, answer spans, truncation, splits, the cache download and one-line errors."""

import json
import pickle
import random
import shutil
import urllib.error
from pathlib import Path

import pytest

import elmo_lab.util.download as dl
import elmo_lab.data.squad as squad
from elmo_lab.data.errors import DataError
from elmo_lab.data.squad import QAExample, load_squad, read_squad, split_by_article, tokenize_with_offsets

FIXTURES = Path(__file__).parent / "fixtures" / "squad"
TRAIN, DEV = FIXTURES / "train-v1.1.json", FIXTURES / "dev-v1.1.json"


def _by_qid(examples: list[QAExample]) -> dict[str, QAExample]:
    return {example.qid: example for example in examples}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Denver-based team", ["The", "Denver", "-", "based", "team"]),
        ("scored 3.5 points; 1,000 fans at 10:30.",
         ["scored", "3.5", "points", ";", "1,000", "fans", "at", "10:30", "."]),
        ("Destiny's Child doesn't (NFL) 24–10",
         ["Destiny", "'s", "Child", "does", "n't", "(", "NFL", ")", "24", "–", "10"]),
        ("Beyoncé’s U.S.-based co-op, e.g. Mr. X",
         ["Beyoncé", "’s", "U.S.", "-", "based", "co", "-", "op", ",", "e.g.", "Mr.", "X"]),
        ("Wait... really?! No -- \"never\"", ["Wait", "...", "really", "?!", "No", "--", '"', "never", '"']),
        ("cafe\u0301 x\u200by\u00a0z  ", ["cafe\u0301", "x", "y", "z"]),
        ("  \n ", []),
    ],
)
def test_tokenize_with_offsets_splits_and_keeps_exact_offsets(text, expected):
    tokens = tokenize_with_offsets(text)
    assert [token for token, _, _ in tokens] == expected
    assert all(text[start:end] == token for token, start, end in tokens)
    assert all(a[2] <= b[1] for a, b in zip(tokens, tokens[1:]))  # in order, never overlapping


def test_answers_map_to_token_spans_with_exact_text():
    examples = _by_qid(read_squad(TRAIN))
    assert len(examples) == 19
    for example in examples.values():
        for text, (first, last), aligned in zip(example.answer_texts, example.answer_spans, example.answer_aligned):
            if aligned:
                assert example.passage.span_text(first, last) == text.strip()
    sb = examples["t-sb-1"]
    assert sb.passage_tokens[33:35] == ("Denver", "Broncos") and sb.answer_spans == ((33, 34),)
    assert examples["t-sb-3"].answer_spans[0][1] == len(sb.passage_tokens) - 1  # ends with the passage's "."
    assert examples["t-sb-4"].passage.span_text(*examples["t-sb-4"].span) == "National Football League (NFL)"
    assert examples["t-den-1"].passage_tokens[1:4] == ("Denver", "-", "based")
    assert examples["t-den-1"].span == (1, 1)  # "Denver" of "Denver-based"
    assert examples["t-den-2"].span == (25, 25)  # the repeated "Denver": the second one, at the passage end
    assert examples["t-bey-3"].passage.span_text(*examples["t-bey-3"].span) == "Destiny's Child."
    assert examples["t-bey-4"].passage.span_text(*examples["t-bey-4"].span) == "Carter"  # Knowles-Carter
    assert examples["t-nor-3"].passage.span_text(*examples["t-nor-3"].span) == "Denmark, Iceland and Norway"


def test_answers_inside_a_token_get_the_covering_span_and_are_counted():
    examples = _by_qid(read_squad(TRAIN))
    bronco, halcogen = examples["t-sb-5"], examples["t-oxy-2"]
    assert bronco.answer_aligned == (False,) and bronco.passage.span_text(*bronco.span) == "Broncos"
    assert halcogen.answer_aligned == (False,) and halcogen.passage.span_text(*halcogen.span) == "chalcogen group"
    splits, stats = load_squad(FIXTURES, val_fraction=0.0)
    assert stats.misaligned_answers == {"train": 2, "dev": 0, "test": 0}
    assert stats.answers == {"train": 19, "dev": 0, "test": 15}


def test_several_gold_answers_are_all_kept():
    examples = _by_qid(read_squad(DEV))
    levi = examples["d-levi-1"]
    assert levi.answer_texts == ("Santa Clara, California", "Levi's Stadium",
                                 "Levi's Stadium in the San Francisco Bay Area at Santa Clara, California.")
    assert [levi.passage.span_text(*span) for span in levi.answer_spans] == list(levi.answer_texts)
    assert examples["d-levi-2"].answer_texts == ("February 7, 2016", "February 7", "February 7, 2016")  # duplicates
    assert examples["d-vic-2"].answer_spans == ((18, 18), (18, 20), (18, 18))  # Melbourne / Melbourne-based
    assert levi.passage is examples["d-levi-2"].passage  # one shared passage per paragraph
    assert levi.context.startswith("The game") and levi.passage_offsets[0] == (0, 3)


def test_truncation_drops_training_questions_and_flags_evaluation_ones():
    splits, stats = load_squad(FIXTURES, val_fraction=0.0, max_passage_tokens=20)
    assert sorted(e.qid for e in splits["train"]) == ["t-bey-4", "t-den-1", "t-den-3", "t-den-4", "t-oxy-1", "t-sb-4"]
    assert stats.dropped_beyond_limit == 13
    assert all(len(e.passage_tokens) <= 20 and e.span is not None for e in splits["train"])
    test = _by_qid(splits["test"])
    assert len(test) == 5  # evaluation questions are never dropped
    assert [qid for qid, e in test.items() if e.beyond_limit] == ["d-vic-3"]
    assert test["d-vic-3"].span is None
    assert test["d-levi-1"].span == (11, 13)  # first gold answer is cut off, the second is kept
    assert test["d-levi-1"].passage.num_tokens == 26 and test["d-levi-1"].passage.truncated
    assert stats.beyond_limit == {"train": 0, "dev": 0, "test": 1}
    assert stats.truncated_passages["test"] == 2


def test_validation_is_a_seeded_article_level_split_of_train():
    splits, stats = load_squad(FIXTURES, val_fraction=0.3, split_seed=3)
    train_articles = {e.passage.article for e in splits["train"]}
    dev_articles = {e.passage.article for e in splits["dev"]}
    assert len(dev_articles) == 1 and not train_articles & dev_articles  # round(0.3 * 4) = 1 article
    assert stats.questions["train"] + stats.questions["dev"] == 19 and stats.questions["test"] == 5
    again, _ = load_squad(FIXTURES, val_fraction=0.3, split_seed=3)
    assert [e.qid for e in again["dev"]] == [e.qid for e in splits["dev"]]
    seeds = {tuple(e.qid for e in load_squad(FIXTURES, val_fraction=0.3, split_seed=s)[0]["dev"]) for s in range(8)}
    assert len(seeds) > 1
    with pytest.raises(DataError, match="val_fraction=1.0"):
        load_squad(FIXTURES, val_fraction=1.0)
    train, held_out = split_by_article(read_squad(DEV), 0.5, random.Random(0))  # 2 articles: one each
    assert len({e.passage.article for e in train}) == len({e.passage.article for e in held_out}) == 1
    with pytest.raises(DataError, match="leaves no training article"):
        split_by_article(read_squad(DEV), 0.9, random.Random(0))


def test_max_train_questions_is_a_seeded_sample_in_file_order():
    full, _ = load_squad(FIXTURES, val_fraction=0.0)
    order = [e.qid for e in full["train"]]
    splits, stats = load_squad(FIXTURES, val_fraction=0.0, max_train_questions=5, split_seed=1)
    sample = [e.qid for e in splits["train"]]
    assert len(sample) == 5 and stats.dropped_by_sample == 14
    assert sample == sorted(sample, key=order.index)
    again, _ = load_squad(FIXTURES, val_fraction=0.0, max_train_questions=5, split_seed=1)
    assert sample == [e.qid for e in again["train"]]
    assert "train: 5 questions" in stats.summary()


def test_examples_pickle_and_keep_passages_shared():
    examples = read_squad(DEV)
    copies = pickle.loads(pickle.dumps(examples))
    assert copies[0].passage is copies[1].passage and copies[0].passage is not examples[0].passage
    assert [e.answer_spans for e in copies] == [e.answer_spans for e in examples]


def _write(tmp_path, data) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _one(qa=None, context="Denver won the game.") -> dict:
    qa = {"id": "q1", "question": "Who won?", "answers": [{"text": "Denver", "answer_start": 0}]} if qa is None else qa
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": context, "qas": [qa]}]}]}


@pytest.mark.parametrize(
    "data, message",
    [
        ("", r"bad\.json: empty file"),
        ('{"data": [', r"bad\.json: not valid JSON \(Expecting value at line 1 column 11\)"),
        ([], r"bad\.json: expected a JSON object"),
        ({"version": "1.1"}, r"bad\.json: missing field 'data'"),
        ({"data": []}, r"bad\.json: no questions"),
        ({"data": [{"title": "T", "paragraphs": [{"qas": []}]}]},
         r"data\[0\]\.paragraphs\[0\]: missing field 'context'"),
        (_one({"id": "q1", "question": "Who won?"}), r"bad\.json: question q1: missing field 'answers'"),
        (_one({"id": "q1", "question": "Who?", "answers": [{"text": "Denver"}]}),
         r"question q1: missing field 'answer_start'"),
        (_one({"id": "q1", "question": "Who?", "answers": [{"text": "Denver", "answer_start": "0"}]}),
         r"question q1: field 'answer_start' is str, expected int"),
        (_one({"id": "q1", "question": "Who?", "answers": [{"text": "Denver", "answer_start": 3}]}),
         r"question q1: answer_start 3 does not point at the answer text 'Denver' \(the context there reads "
         r"'ver wo'\)"),
        (_one({"id": "q1", "question": "Who?", "answers": []}), r"question q1: no answers"),
        (_one({"id": "q1", "question": " ", "answers": [{"text": "Denver", "answer_start": 0}]}),
         r"question q1: empty question"),
        (_one({"id": "q1", "question": "Who?", "answers": [{"text": " ", "answer_start": 6}]}),
         r"question q1: empty answer"),
        (_one({"question": "Who?", "answers": []}), r"qas\[0\]: missing field 'id'"),
        (_one(context="  "), r"paragraphs\[0\]: empty context"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_question(tmp_path, data, message):
    with pytest.raises(DataError, match=message) as error:
        read_squad(_write(tmp_path, data))
    assert "\n" not in str(error.value)


def test_duplicate_ids_are_an_error(tmp_path):
    data = _one()
    data["data"][0]["paragraphs"][0]["qas"].append(data["data"][0]["paragraphs"][0]["qas"][0])
    with pytest.raises(DataError, match="question q1: duplicate question id"):
        read_squad(_write(tmp_path, data))


def test_data_dir_needs_both_files(tmp_path):
    shutil.copy(TRAIN, tmp_path / TRAIN.name)
    with pytest.raises(DataError, match=r"SQuAD not found: missing .*dev-v1\.1\.json; download https://"):
        load_squad(tmp_path)


def test_cache_is_filled_once_by_download(tmp_path, monkeypatch):
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    requested = []

    class Response:
        def __init__(self, path):
            self._data, self.status = path.read_bytes(), 200
            self.headers = {"Content-Length": str(len(self._data))}

        def read(self, n=-1):
            chunk, self._data = (self._data, b"") if n < 0 else (self._data[:n], self._data[n:])
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(dl, "_open", lambda request: (requested.append(request.full_url),
                                                      Response(FIXTURES / request.full_url.rsplit("/", 1)[1]))[1])
    splits, _ = load_squad(val_fraction=0.0)
    assert sorted(requested) == [squad.SQUAD_URL + "dev-v1.1.json", squad.SQUAD_URL + "train-v1.1.json"]
    assert (tmp_path / "cache" / "squad" / "train-v1.1.json").read_bytes() == TRAIN.read_bytes()
    assert len(splits["train"]) == 19 and len(splits["test"]) == 5
    load_squad(val_fraction=0.0)
    assert len(requested) == 2  # cached: not fetched again


def test_offline_without_a_copy_says_how_to_get_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))

    def offline(request):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(dl, "_open", offline)
    with pytest.raises(DataError, match=r"SQuAD not available \(cannot download .*offline.*\); download "
                                        r"https://rajpurkar\.github\.io/SQuAD-explorer/dataset/train-v1\.1\.json and "
                                        r".*dev-v1\.1\.json into a folder and pass task\.data_dir=PATH"):
        load_squad()
    with pytest.raises(DataError, match="SQuAD not available: .*train-v1.1.json does not exist"):
        load_squad(download=False)


def test_stats_count_passages_articles_and_reject_bad_limits():
    _, stats = load_squad(FIXTURES, val_fraction=0.0)
    assert stats.passages == {"train": 5, "dev": 0, "test": 2} and stats.articles == {"train": 4, "dev": 0, "test": 2}
    assert stats.truncated_passages == {"train": 0, "dev": 0, "test": 0} and stats.dropped_beyond_limit == 0
    for name in ("max_passage_tokens", "max_train_questions"):
        with pytest.raises(DataError, match=f"{name}=0: expected an integer >= 1"):
            load_squad(FIXTURES, **{name: 0})
