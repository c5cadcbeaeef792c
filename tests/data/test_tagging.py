"""Tag schemes: conlleval's chunks (also for ill-formed tags), conversions, scheme detection, allowed transitions."""

import itertools
import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities  # the dev extra's independent oracle

from elmo_lab.data.tagging import (
    allowed_transitions,
    canonical_scheme,
    convert,
    detect_scheme,
    encode,
    entity_types,
    iob1_to_iob2,
    spans,
    split_tag,
    to_bioes,
)


def _conlleval_chunks(tags):
    """The chunks of the original conlleval.pl (2000-04-14), its endOfChunk/startOfChunk rules written as tables."""
    end_pairs = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
    start_pairs = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
    chunks, prev, prev_type, begin = [], "O", "", 0
    for index, tag in enumerate([*tags, "O"]):
        prefix, type_ = (tag, "") if tag == "O" else tag.split("-", 1)
        if (prev, prefix) in end_pairs or (prev != "O" and prev_type != type_):
            chunks.append((prev_type, begin, index - 1))
        if (prev, prefix) in start_pairs or (prefix != "O" and prev_type != type_):
            begin = index
        prev, prev_type = prefix, type_
    return chunks


def _random_tags(rng, prefixes, types=("PER", "LOC"), max_len=8):
    tags = [f"{rng.choice(prefixes)}-{rng.choice(types)}" for _ in range(rng.randint(0, max_len))]
    return ["O" if tag.startswith("O-") else tag for tag in tags]


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 1), ("LOC", 3, 3)]),
        (["I-PER", "I-PER", "B-PER", "O"], [("PER", 0, 1), ("PER", 2, 2)]),  # IOB1: B- splits same-type chunks
        (["O", "I-LOC", "I-LOC"], [("LOC", 1, 2)]),  # I- after O starts a chunk
        (["B-PER", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 1)]),  # a type change ends and starts
        (["B-PER", "B-PER"], [("PER", 0, 0), ("PER", 1, 1)]),
        (["O", "O", "B-ORG", "I-ORG"], [("ORG", 2, 3)]),  # a chunk that ends the sentence
        (["I-PER", "E-PER", "I-PER"], [("PER", 0, 1), ("PER", 2, 2)]),  # I- after E- starts a chunk
        (["B-PER", "I-PER", "E-PER", "O"], [("PER", 0, 2)]),
        (["S-PER", "S-PER"], [("PER", 0, 0), ("PER", 1, 1)]),
        (["B-PER", "E-PER", "B-PER", "E-PER"], [("PER", 0, 1), ("PER", 2, 3)]),
        (["B-PER", "S-PER", "E-LOC"], [("PER", 0, 0), ("PER", 1, 1), ("LOC", 2, 2)]),
        (["O", "E-PER", "E-PER"], [("PER", 1, 1), ("PER", 2, 2)]),
        (["B-PER", "O", "I-PER"], [("PER", 0, 0), ("PER", 2, 2)]),  # B- alone, then I- after O
        (["B-FOO-BAR", "I-FOO-BAR"], [("FOO-BAR", 0, 1)]),
        ([], []),
    ],
)
def test_spans_hand_cases(tags, expected):
    assert spans(tags) == expected


def test_spans_equal_original_conlleval_without_s_tags():
    # The BIOES extension only adds rules for S- and for E-X directly followed by B-X.
    rng = random.Random(0)
    checked = 0
    for _ in range(5000):
        tags = _random_tags(rng, "BIEO")
        if any(a[0] == "E" and b[0] == "B" and a[2:] == b[2:] for a, b in zip(tags, tags[1:])):
            continue
        assert spans(tags) == _conlleval_chunks(tags), tags
        checked += 1
    assert checked > 3000


def test_spans_equal_seqeval_default_mode():
    rng = random.Random(1)
    for _ in range(5000):
        tags = _random_tags(rng, "BIESO")
        assert spans(tags) == sorted(get_entities(tags), key=lambda chunk: chunk[1]), tags


def test_scheme_restricts_prefixes():
    assert spans(["S-PER"], "bioes") == [("PER", 0, 0)]
    for scheme in ("bio", "iob2", "iob1"):
        with pytest.raises(ValueError, match="invalid tag 'S-PER' in scheme"):
            spans(["O", "S-PER"], scheme)
    with pytest.raises(ValueError, match="unknown tag scheme 'bilou'"):
        spans(["O"], "bilou")
    for bad in ("PER", "B-", "X-PER", "b-PER", "BPER", ""):
        with pytest.raises(ValueError, match="invalid tag"):
            split_tag(bad)


def test_canonical_scheme_names():
    assert [canonical_scheme(name) for name in ("IOB2", "bio", "iob1", "iobes", "BIOES")] == [
        "bio", "bio", "iob1", "bioes", "bioes"
    ]


def test_conversions():
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"
    ]
    assert to_bioes(["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC"]) == [
        "B-PER", "I-PER", "E-PER", "O", "S-LOC", "S-LOC"
    ]
    assert convert(["B-PER", "I-PER", "B-PER", "O", "B-LOC"], "bio", "iob1") == [
        "I-PER", "I-PER", "B-PER", "O", "I-LOC"
    ]
    assert convert(["O", "I-PER", "B-LOC", "I-ORG"], "iob2", "bioes") == ["O", "S-PER", "S-LOC", "S-ORG"]
    assert convert(["B-PER", "I-PER", "E-PER", "S-LOC"], "bioes", "bio") == ["B-PER", "I-PER", "I-PER", "B-LOC"]
    with pytest.raises(ValueError, match="overlaps"):
        encode([("PER", 0, 1), ("LOC", 1, 2)], 3, "bio")


@pytest.mark.parametrize("source, prefixes", [("iob1", "BIO"), ("bio", "BIO"), ("bioes", "BIESO")])
def test_conversions_keep_the_chunks_of_any_sequence(source, prefixes):
    rng = random.Random(2)
    for _ in range(2000):
        tags = _random_tags(rng, prefixes)
        for target in ("iob1", "bio", "bioes"):
            converted = convert(tags, source, target)
            assert spans(converted) == spans(tags), (tags, target)
            assert convert(converted, target, target) == converted  # the output is well-formed
            assert convert(convert(converted, target, "bio"), "bio", target) == converted


def test_detect_scheme():
    assert detect_scheme([["O", "I-PER", "I-PER"], ["B-PER"]]) == "iob1"  # I- after O
    assert detect_scheme([["I-PER", "O"]]) == "iob1"  # I- first in a sentence
    assert detect_scheme([["B-PER", "I-LOC"]]) == "iob1"  # I- after another type
    assert detect_scheme([["I-PER", "B-PER", "O"], ["O", "I-LOC"]]) == "iob1"
    assert detect_scheme([["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "B-ORG"]]) == "bio"
    assert detect_scheme([["O", "O"], []]) == "bio"
    assert detect_scheme([["B-PER", "I-PER"], ["S-LOC"]]) == "bioes"
    assert detect_scheme([["O", "I-PER"], ["B-LOC", "E-LOC"]]) == "bioes"


def test_entity_types():
    assert entity_types(["O", "B-PER", "I-PER", "S-LOC", "E-MISC"]) == ["LOC", "MISC", "PER"]


def _allowed_by(transitions, ids):
    allowed, start, end = transitions
    if not ids:
        return True
    return bool(start[ids[0]] and end[ids[-1]] and all(allowed[a, b] for a, b in zip(ids, ids[1:])))


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_allowed_sequences_are_exactly_the_well_formed_ones(scheme):
    # Well-formed: written the way the scheme writes its own chunks (re-encoding changes nothing).
    prefixes = "BI" if scheme == "bio" else "BIES"
    names = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC") for p in prefixes]
    transitions = allowed_transitions(names, scheme)
    assert transitions.allowed.shape == (len(names), len(names))
    assert transitions.start.shape == transitions.end.shape == (len(names),)
    for length in range(1, 5):
        for ids in itertools.product(range(len(names)), repeat=length):
            tags = [names[i] for i in ids]
            assert _allowed_by(transitions, list(ids)) == (convert(tags, scheme, scheme) == tags), tags


def test_allowed_transitions_named_cases():
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed, start, end = allowed_transitions(names, "iob2")
    assert not allowed[0, 2] and not allowed[1, 4] and allowed[1, 2] and allowed[2, 2] and allowed[2, 3]
    assert start.tolist() == [True, True, False, True, False] and end.all()
    names = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    allowed, start, end = allowed_transitions(names, "bioes")
    assert allowed[1, 3] and not allowed[1, 0] and not allowed[3, 2] and allowed[3, 4] and allowed[4, 1]
    assert start.tolist() == [True, True, False, False, True]
    assert end.tolist() == [True, False, False, True, True]
    with pytest.raises(ValueError, match="iob1 is not supported"):
        allowed_transitions(names, "iob1")
    with pytest.raises(ValueError, match="invalid tag 'E-PER' in scheme bio"):
        allowed_transitions(names, "bio")
