"""The CoNLL-U reader: words, heads and relations as written, comments, multi-word ranges and empty nodes skipped,
a write/read round trip, and one-line errors naming file:line."""
from pathlib import Path

import pytest

from elmo_lab.data.conllu import read_conllu, write_conllu
from elmo_lab.data.errors import DataError

# UD English-style sentences in the real format (tabs between the ten fields)
SAMPLE = """# newdoc id = weblog-1
# sent_id = s1
# text = I can't go.
1\tI\tI\tPRON\tPRP\tCase=Nom\t4\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tneg\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = s2
1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_
2\tthere\tthere\tADV\tRB\t_\t1\tadvmod\t_\tSpaceAfter=No
"""


def write(tmp_path: Path, text: str, name: str = "x-ud-train.conllu") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_words_heads_relations_and_comments(tmp_path):
    path = write(tmp_path, SAMPLE)
    first, second = read_conllu(path)
    assert first.tokens == ["I", "ca", "n't", "go", "."]  # the range 2-3 and the empty node 4.1 are not words
    assert first.lemmas == ["I", "can", "not", "go", "."]
    assert first.upos == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert first.xpos == ["PRP", "MD", "RB", "VB", "."]
    assert first.heads == [4, 4, 4, 0, 4]
    assert first.relations == ["nsubj", "aux", "neg", "root", "punct"]
    assert first.sentence_id == "s1" and first.extra == {"text": "I can't go."}
    assert second.tokens == ["Hello", "there"] and second.heads == [0, 1] and second.sentence_id == "s2"
    assert first.column("deprel") == first.relations
    assert (first.source, first.line, second.source, second.line) == (str(path), 4, str(path), 13)  # first words


def test_last_sentence_without_blank_line_and_crlf(tmp_path):
    text = SAMPLE.replace("\n", "\r\n").rstrip("\r\n")
    assert [s.tokens for s in read_conllu(write(tmp_path, text))][1] == ["Hello", "there"]


def test_write_then_read_gives_the_same_sentences(tmp_path):
    sentences = read_conllu(write(tmp_path, SAMPLE))
    again = read_conllu(write_conllu(tmp_path / "copy.conllu", sentences))
    assert again == sentences and [s.extra for s in again] == [s.extra for s in sentences]


@pytest.mark.parametrize("bad, line, expected", [
    ("1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\n", 1, "expected 10 tab-separated fields"),
    ("1 Hello hello INTJ UH _ 0 root _ _\n", 1, "expected 10 tab-separated fields"),
    ("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n2\tyou\tyou\tPRON\tPRP\t_\t3\tvocative\t_\t_\n", 2,
     "HEAD 3 is outside the sentence of 2 words"),
    ("1\tHi\thi\tINTJ\tUH\t_\tx\troot\t_\t_\n", 1, "HEAD \\(field 7\\) must be an integer"),
    ("one\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n", 1, "ID \\(field 1\\) must be an integer"),
    ("# c\n2\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n", 2, "word ID 2 out of order; expected 1"),
])
def test_bad_lines_name_file_and_line(tmp_path, bad, line, expected):
    path = write(tmp_path, SAMPLE + "\n" + bad)
    offset = SAMPLE.count("\n") + 1
    with pytest.raises(DataError, match=rf"^{path}:{offset + line}: {expected}"):
        read_conllu(path)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="no sentences"):
        read_conllu(write(tmp_path, "# only a comment\n\n"))
    with pytest.raises(DataError, match="cannot read"):
        read_conllu(tmp_path / "absent.conllu")
