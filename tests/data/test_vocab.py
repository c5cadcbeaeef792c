from pathlib import Path

import pytest

from elmo_lab.data.vocab import SPECIALS, Vocabulary, VocabError


def test_vocab_orders_by_frequency_after_specials():
    vocab = Vocabulary.from_sentences([["b", "a", "a"], ["c", "a", "b"]])
    assert vocab.words == [*SPECIALS, "a", "b", "c"]
    assert vocab.id("a") == 3 and vocab.id("zzz") == vocab.unk_id == 2
    assert Vocabulary.from_sentences([["b", "a", "a"], ["c"]], max_size=4).words == [*SPECIALS, "a"]
    assert Vocabulary.from_sentences([["b", "a", "a"]], min_count=2).words == [*SPECIALS, "a"]


def test_vocab_round_trip(tmp_path: Path):
    vocab = Vocabulary.from_sentences([["Der", "Film", "ist", "gut", "."]])
    vocab.save(tmp_path / "vocab.txt")
    assert Vocabulary.load(tmp_path / "vocab.txt") == vocab


def test_vocab_file_errors_name_file_and_line(tmp_path: Path):
    bad = tmp_path / "vocab.txt"
    bad.write_text("<S>\n</S>\n<UNK>\ntwo words\n")
    with pytest.raises(VocabError, match=r"vocab.txt:4: expected one word"):
        Vocabulary.load(bad)
    bad.write_text("a\nb\n")
    with pytest.raises(VocabError, match="must start with"):
        Vocabulary.load(bad)
    with pytest.raises(VocabError, match="not found"):
        Vocabulary.load(tmp_path / "missing.txt")
