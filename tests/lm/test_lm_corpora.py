import pytest

from elmo_lab.lm.corpora import CorpusError, CorpusSpec, load_corpus, ptb_split, read_text_file


def test_file_corpus_holds_out_a_dev_set_and_reports_bad_input(tmp_path, tiny_corpus_path):
    splits = load_corpus(CorpusSpec(name="file", path=str(tiny_corpus_path), valid_fraction=0.05))
    assert len(splits["valid"]) == 20 and len(splits["train"]) == 380 and splits["test"] == splits["valid"]
    with pytest.raises(CorpusError, match="missing.txt: corpus file not found"):
        load_corpus(CorpusSpec(name="file", path=str(tmp_path / "missing.txt")))
    with pytest.raises(CorpusError, match="corpus.path: required"):
        load_corpus(CorpusSpec(name="file"))
    with pytest.raises(CorpusError, match="must be one of ptb, imdb, file"):
        load_corpus(CorpusSpec(name="wiki"))
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(CorpusError, match="no sentences"):
        read_text_file(tmp_path / "blank.txt")


def test_raw_text_is_sentence_split_and_tokenised(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("I didn't like it. The plot's weak!\nGreat cast, though.\n")
    assert read_text_file(raw, tokenize=True) == [["I", "did", "n't", "like", "it", "."],
                                                  ["The", "plot", "'s", "weak", "!"], ["Great", "cast", ",", "though", "."]]


def test_ptb_is_the_mikolov_text():
    valid = ptb_split("valid")
    # 73,760 = words + one end of sentence each: the count every published PTB perplexity divides by
    assert len(valid) == 3370 and sum(len(s) + 1 for s in valid) == 73760
    with pytest.raises(CorpusError, match="splits"):
        ptb_split("dev")
