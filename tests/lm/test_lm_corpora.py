import pytest

from elmo_lab.lm.corpora import CorpusError, CorpusSpec, load_corpus, lowercase_sentences, ptb_split, read_text_file
from elmo_lab.lm.datamodule import LMDataModule


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


def test_case_augmentation_lowercases_the_share_of_training_sentences_drawn_by_seed(tmp_path):
    sentences = [["The", "Cat", str(i)] for i in range(200)]
    augmented = lowercase_sentences(sentences, 0.3, seed=1)
    lowered = [i for i, (a, s) in enumerate(zip(augmented, sentences)) if a != s]
    assert len(lowered) == 60 and all(augmented[i] == ["the", "cat", str(i)] for i in lowered)
    assert sentences[0] == ["The", "Cat", "0"]  # the input is not changed
    assert lowercase_sentences(sentences, 0.3, seed=1) == augmented  # a resumed run augments the same sentences
    assert lowercase_sentences(sentences, 0.3, seed=2) != augmented
    assert lowercase_sentences(sentences, 0.0, seed=1) == sentences
    assert all(s == [t.lower() for t in s] for s in lowercase_sentences(sentences, 1.0, seed=1))
    # in the data module: training sentences only, before the vocabulary is counted; dev and test stay cased
    (tmp_path / "cased.txt").write_text("".join(f"The Cat sat on Mat {i} .\n" for i in range(100)))
    spec = CorpusSpec(name="file", path=str(tmp_path / "cased.txt"), valid_fraction=0.1)
    dm = LMDataModule(spec, lowercase_share=1.0)
    dm.setup()
    assert dm.splits["valid"] == load_corpus(spec)["valid"] and dm.splits["valid"][0][0] == "The"
    assert dm.splits["train"][0] == ["the", "cat", "sat", "on", "mat", "0", "."]
    assert "the" in dm.vocab.words and "The" not in dm.vocab.words
    with pytest.raises(ValueError, match=r"data.lowercase_share must be in \[0, 1\]; got -0.1"):
        LMDataModule(spec, lowercase_share=-0.1)
