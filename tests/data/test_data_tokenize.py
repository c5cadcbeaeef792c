"""The tokeniser and sentence splitter follow the rules in their docstrings and are idempotent."""

import pytest

from elmo_lab.data import split_sentences, tokenize

CASES = [
    ("It doesn't matter, I can't.", ["It", "does", "n't", "matter", ",", "I", "ca", "n't", "."]),
    ("The film's plot; I'm sure you'll see.",
     ["The", "film", "'s", "plot", ";", "I", "'m", "sure", "you", "'ll", "see", "."]),
    ("An R-rated, 17-year-old co-writer.", ["An", "R-rated", ",", "17-year-old", "co-writer", "."]),
    ("Rated 3.5/10 for $1,000 at 10:30", ["Rated", "3.5", "/", "10", "for", "$", "1,000", "at", "10:30"]),
    ('Mr. Smith saw "Conan" in the U.S. (e.g. here)',
     ["Mr.", "Smith", "saw", '"', "Conan", '"', "in", "the", "U.S.", "(", "e.g.", "here", ")"]),
    ("Wait... really?! No -- never!!!", ["Wait", "...", "really", "?!", "No", "--", "never", "!!!"]),
    ("O'Brien's dogs' rock'n'roll", ["O'Brien", "'s", "dogs", "'", "rock'n'roll"]),
    ("it`s \x96 great\x85 \u201cyes\u201d don\u2019t",
     ["it", "'s", "--", "great", "...", '"', "yes", '"', "do", "n't"]),
    ("the rock 's new \" conan \" does n't", ["the", "rock", "'s", "new", '"', "conan", '"', "does", "n't"]),
    ("WON'T You'LL", ["WO", "N'T", "You", "'LL"]),
    ("   ", []),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_tokenize_cases(text, expected):
    assert tokenize(text) == expected


@pytest.mark.parametrize("text", [text for text, _ in CASES])
def test_tokenize_is_idempotent_on_its_output(text):
    tokens = tokenize(text)
    assert tokenize(" ".join(tokens)) == tokens


def test_split_sentences_on_terminators_abbreviations_and_lines():
    text = 'Mr. Smith went to the U.S. in 1967. He said "wow." Then (it ended!) Did it?\nNew line... no end'
    assert split_sentences(text) == [
        ["Mr.", "Smith", "went", "to", "the", "U.S.", "in", "1967", "."],
        ["He", "said", '"', "wow", ".", '"'],
        ["Then", "(", "it", "ended", "!", ")"],
        ["Did", "it", "?"],
        ["New", "line", "...", "no", "end"],
    ]


def test_split_sentences_opening_quote_starts_the_next_sentence():
    assert split_sentences('It ended. "Next one" came.') == [
        ["It", "ended", "."], ['"', "Next", "one", '"', "came", "."]
    ]
    assert split_sentences(" \n\n ") == []
