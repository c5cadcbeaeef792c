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
