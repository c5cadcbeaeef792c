"""The built-in edge-probing sources (dependency arcs, entity spans, SPR2 proto-roles, noun supersenses) against
hand-derived targets, and users' jiant JSON files found by split name."""
import json

import pytest

from elmo_lab.data.edge_sources import (EDGE_SOURCES, deprel_edges, load_edge_splits, spr2_edges,
                                        supersense_edges)
from elmo_lab.data.edges import EdgeTarget
from elmo_lab.data.errors import DataError
from elmo_lab.data.treebank import DependencySentence
from uds_fixtures import FAKE_SIZES, fake_pip  # noqa: F401 (fake_pip: a fixture)

SENTENCE = DependencySentence(tokens=["The", "cat", "chased", "a", "mouse"],
                              lemmas=["the", "cat", "chase", "a", "mouse"],
                              upos=["DET", "NOUN", "VERB", "DET", "NOUN"], xpos=["DT", "NN", "VBD", "DT", "NN"],
                              heads=[2, 3, 0, 5, 3], relations=["det", "nsubj", "root", "det", "dobj"],
                              extra={"spr2": [{"predicate": 2, "argument": [0, 2], "argument_head": 1,
                                               "ratings": {"volition": 4.0, "awareness": 4.5, "sentient": 3.5}},
                                              {"predicate": 2, "argument": [3, 5], "argument_head": 4,
                                               "ratings": {"volition": 1.0}}],
                                     "supersense": [{"head": 1, "span": [0, 2], "supersenses": {"noun.animal": 1.2,
                                                                                               "noun.person": 1.2}},
                                                    {"head": 4, "span": [3, 5], "supersenses": {"noun.food": -0.5}}]})


def test_deprel_pairs_dependent_then_head_without_the_root_arc():
    example = deprel_edges(SENTENCE)
    assert example.tokens == SENTENCE.tokens
    assert example.targets == [EdgeTarget((0, 1), ("det",), (1, 2)), EdgeTarget((1, 2), ("nsubj",), (2, 3)),
                               EdgeTarget((3, 4), ("det",), (4, 5)), EdgeTarget((4, 5), ("dobj",), (2, 3))]


def test_spr2_keeps_the_properties_rated_likely():
    assert spr2_edges(SENTENCE).targets == [EdgeTarget((2, 3), ("awareness", "volition"), (0, 2)),
                                            EdgeTarget((2, 3), (), (3, 5))]  # mean >= 4; none likely: no label
    assert spr2_edges(SENTENCE, likely=3.5).targets[0].labels == ("awareness", "sentient", "volition")


def test_supersense_takes_the_best_supported_positive_label():
    # a tie goes to the alphabetically first; an argument with no positive supersense is left out
    assert supersense_edges(SENTENCE).targets == [EdgeTarget((1, 2), ("noun.animal",))]


CONLLU = ("1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_\n"
          "3\tslept\tsleep\tVERB\tVBD\t_\t0\troot\t_\t_\n\n1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_\n\n")


def test_deprel_from_a_conllu_folder(tmp_path):
    for split in ("train", "dev", "test"):
        (tmp_path / f"x-ud-{split}.conllu").write_text(CONLLU)
    data = load_edge_splits("deprel", str(tmp_path))
    assert [len(data[split]) for split in ("train", "dev", "test")] == [1, 1, 1]  # "Yes" alone has no arc
    assert data["dev"][0].targets == [EdgeTarget((0, 1), ("det",), (1, 2)), EdgeTarget((1, 2), ("nsubj",), (2, 3))]


def test_entities_from_a_conll2003_folder(tmp_path):
    text = ("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nPeter NNP B-NP B-PER\n"
            "Blackburn NNP I-NP I-PER\n\nthe DT B-NP O\n\n")
    for name in ("train.txt", "valid.txt", "test.txt"):
        (tmp_path / name).write_text(text)
    data = load_edge_splits("entities", str(tmp_path))
    assert len(data["train"]) == 1  # the sentence without an entity is left out
    assert data["train"][0].targets == [EdgeTarget((0, 1), ("ORG",)), EdgeTarget((2, 4), ("PER",))]


def test_spr2_and_supersense_from_the_fetched_data(fake_pip):
    spr2 = load_edge_splits("spr2")
    assert [len(spr2[split]) for split in ("train", "dev", "test")] == [1, 1, 1]  # the first graph of each split
    assert spr2["train"][0].targets == [EdgeTarget((2, 3), ("awareness", "volition"), (0, 2))]
    supersense = load_edge_splits("supersense", download=False)
    assert {split: len(examples) for split, examples in supersense.items()} == FAKE_SIZES
    assert supersense["dev"][1].targets == [EdgeTarget((4, 5), ("noun.animal",))]


def test_jiant_files_found_by_split_name(tmp_path):
    line = json.dumps({"text": "a b", "targets": [{"span1": [0, 1], "label": "X"}]})
    for name in ("train.json", "development.json", "test.json"):
        (tmp_path / name).write_text(line + "\n")
    data = load_edge_splits("file", str(tmp_path))
    assert {split: len(examples) for split, examples in data.items()} == {"train": 1, "dev": 1, "test": 1}
    (tmp_path / "edges.dev.json").write_text(line + "\n")
    with pytest.raises(DataError, match=r"expected one dev edge-probing file .*found development\.json, edges\.dev"):
        load_edge_splits("file", str(tmp_path))


@pytest.mark.parametrize("source, data_dir, message", [
    ("srl", None, "unknown edge-probing source 'srl'; expected one of " + ", ".join(EDGE_SOURCES)),
    ("file", None, "task.data_dir: the file source reads jiant edge-probing JSON files"),
    ("spr2", ".", "task.data_dir: the spr2 source reads the UDS annotations"),
])
def test_bad_requests(source, data_dir, message):
    with pytest.raises(DataError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_edge_splits(source, data_dir)
