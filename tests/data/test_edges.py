"""jiant's edge-probing JSON lines: read as published, unknown keys kept, a byte-for-byte round trip, one-line
errors naming file:line."""
import json
from pathlib import Path

import pytest

from elmo_lab.data.edges import EdgeExample, EdgeTarget, read_edges, write_edges
from elmo_lab.data.errors import DataError

# lines in the published layout (SRL-like two-span single label; SPR-like multi-label; one-span entities)
SRL = ('{"text": "Ian ate strawberry ice cream", "targets": [{"span1": [1, 2], "span2": [0, 1], "label": "A0"}, '
       '{"span1": [1, 2], "span2": [2, 5], "label": "A1", "info": {"pred": "eat"}}], "info": {"source": "PropBank"}}')
SPR = ('{"text": "The cat slept", "targets": [{"span1": [2, 3], "span2": [0, 2], "label": ["awareness", '
       '"sentient"]}, {"span1": [2, 3], "span2": [1, 2], "label": []}], "source": "spr2"}')
NER = ('{"text": "EU rejects German call", "targets": [{"span1": [0, 1], "label": "ORG"}, '
       '{"span1": [2, 3], "label": "NORP"}]}')


def write(tmp_path: Path, lines: list[str], name: str = "train.json") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_read_spans_labels_and_kept_keys(tmp_path):
    path = write(tmp_path, ["", SRL, SPR])
    srl, spr = read_edges(path)
    assert (srl.location, spr.location) == (f"{path}:2", f"{path}:3")  # kept for later errors; blank lines count
    assert srl.tokens == ["Ian", "ate", "strawberry", "ice", "cream"]
    assert srl.targets[0] == EdgeTarget((1, 2), ("A0",), (0, 1))
    assert srl.targets[1].span2 == (2, 5) and srl.targets[1].info == {"info": {"pred": "eat"}}
    assert srl.info == {"info": {"source": "PropBank"}}
    assert spr.targets[0].labels == ("awareness", "sentient") and spr.targets[1].labels == ()
    assert spr.info == {"source": "spr2"}
    ner = read_edges(write(tmp_path, [NER], "ner.json"))[0]
    assert ner.targets[1] == EdgeTarget((2, 3), ("NORP",)) and ner.targets[1].span2 is None


@pytest.mark.parametrize("lines", [[SRL], [SPR], [NER, NER]])
def test_round_trip_byte_for_byte(tmp_path, lines):
    path = write(tmp_path, lines)
    copy = write_edges(tmp_path / "copy.json", read_edges(path))
    assert [json.loads(x) for x in copy.read_text().splitlines()] == [json.loads(x) for x in lines]
    assert copy.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_written_examples_read_back(tmp_path):
    examples = [EdgeExample(["a", "b", "c"], [EdgeTarget((0, 1), ("x",), (1, 3), {"note": 1})], {"id": 7})]
    assert read_edges(write_edges(tmp_path / "e.json", examples, label_lists=True)) == examples
    with pytest.raises(ValueError, match="whitespace"):
        write_edges(tmp_path / "bad.json", [EdgeExample(["a b"], [])])
    assert not (tmp_path / "bad.json").exists()


@pytest.mark.parametrize("bad, expected", [
    ('{"text": "a b", "targets": [', "not JSON"),
    ('["a b"]', 'expected an object with "text"'),
    ('{"text": "a b", "targets": [{"span1": [0, 1]}]}', r"targets\[0\]: expected an object with span1 and label"),
    ('{"text": "a b", "targets": [{"label": "X"}]}', r"targets\[0\]: expected an object with span1 and label"),
    ('{"text": "a b", "targets": [{"span1": [1, 3], "label": "X"}]}',
     r"targets\[0\]: span1 \[1, 3\] is beyond the sentence of 2 tokens"),
    ('{"text": "a b", "targets": [{"span1": [0, 1], "span2": [2, 2], "label": "X"}]}', "span2 \\[2, 2\\] is beyond"),
    ('{"text": "a b", "targets": [{"span1": [0, "1"], "label": "X"}]}', "span1 must be a list"),
    ('{"text": "a b", "targets": [{"span1": [0, 1], "label": 3}]}', "label must be a string or a list"),
])
def test_bad_lines_name_file_and_line(tmp_path, bad, expected):
    path = write(tmp_path, [NER, bad])
    with pytest.raises(DataError, match=rf"^{path}:2: (targets\[0\]: )?{expected}"):
        read_edges(path)


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="no examples"):
        read_edges(write(tmp_path, []))
