"""``python -m elmo_lab perplexity``: user errors are one line and exit status 2; results on an exported LM."""
import json

import pytest
import torch

from elmo_lab.__main__ import main
from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.lm.export import export_lm
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary


def test_published_models_have_no_perplexity(capsys):
    assert main(["perplexity", "--bilm", "elmo_small", "--corpus", "ptb"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --bilm elmo_small: the published ELMo models ship no softmax")


def test_perplexity_of_an_export_and_bad_corpus(tmp_path, capsys, tiny_options, tiny_corpus_path):
    torch.manual_seed(0)
    sentences = [line.split() for line in tiny_corpus_path.read_text().splitlines()]
    vocab = Vocabulary.from_sentences(sentences)
    export_lm(tmp_path / "lm", BiLM(BiLMOptions.from_dict(tiny_options)), FullSoftmax(8, len(vocab)), vocab)
    assert main(["perplexity", "--bilm", str(tmp_path / "lm"), "--corpus", str(tiny_corpus_path),
                 "--max-sentences", "20", "--json"]) == 0
    ppl = json.loads(capsys.readouterr().out)
    # an untrained LM: close to a uniform guess over the vocabulary
    assert 0.5 * len(vocab) < ppl["forward"] < 2 * len(vocab)
    assert ppl["n_predictions"] == sum(len(s) + 1 for s in sentences[:20])
    assert ppl["unknown_token_share"] == 0.0  # the vocabulary was built from this text
    capitalised = tmp_path / "capitalised.txt"
    capitalised.write_text("".join(" ".join(w.capitalize() for w in s) + "\n" for s in sentences[:20]))
    assert main(["perplexity", "--bilm", str(tmp_path / "lm"), "--corpus", str(capitalised), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unknown_token_share"] > 0  # capitalised words are not in it
    assert main(["perplexity", "--bilm", str(tmp_path / "lm"), "--corpus", str(capitalised), "--lowercase",
                 "--json"]) == 0
    lowered = json.loads(capsys.readouterr().out)
    assert all(w == w.lower() for s in sentences[:20] for w in s)  # so --lowercase gives back the original text
    assert lowered["unknown_token_share"] == 0.0 and lowered["forward"] == pytest.approx(ppl["forward"])
    assert main(["perplexity", "--bilm", str(tmp_path / "lm"), "--corpus", str(tmp_path / "nope.txt")]) == 2
    assert "expected ptb, imdb, general, mix or an existing text file" in capsys.readouterr().err


@pytest.mark.slow
def test_named_corpus_split_of_the_default_bilm(capsys):
    """``--corpus imdb --split valid``: the packaged IMDB text, which the default biLM was trained on, is predicted
    far better than uniform over its 30,000 words (measured 2026-12-07: 255 on these 10 sentences, 353 on the first
    10 of the test split)."""
    assert main(["perplexity", "--bilm", "default", "--corpus", "imdb", "--split", "valid", "--max-sentences", "10",
                 "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    assert 1 < score["average"] < 1000 and score["n_predictions"] == 392, score


def test_tokenize_and_batching_options_change_what_is_measured(tmp_path, capsys, tiny_options):
    torch.manual_seed(0)
    vocab = Vocabulary.from_sentences([["Hello", ",", "world", "."], ["It", "'s", "fine", "!"]])
    export_lm(tmp_path / "lm", BiLM(BiLMOptions.from_dict(tiny_options)), FullSoftmax(8, len(vocab)), vocab)
    raw = tmp_path / "raw.txt"
    raw.write_text("Hello, world.\nIt's fine!\n")

    def measure(*args: str) -> dict:
        assert main(["perplexity", "--bilm", str(tmp_path / "lm"), "--corpus", str(raw), "--json", *args]) == 0
        return json.loads(capsys.readouterr().out)

    split_only = measure()  # whitespace only: "Hello," and "world." are single (unknown) tokens
    tokenized = measure("--tokenize")  # Hello , world . / It 's fine !
    assert split_only["n_predictions"] == 2 + 1 + 2 + 1 and split_only["unknown_token_share"] > 0.5
    assert tokenized["n_predictions"] == 4 + 1 + 4 + 1 and tokenized["unknown_token_share"] == 0.0
    stream = measure("--tokenize", "--batching", "stream", "--window", "3", "--batch-size", "1")
    rows = measure("--tokenize", "--batching", "rows")
    assert stream["n_predictions"] >= rows["n_predictions"] - 2 and stream["forward"] != rows["forward"]
