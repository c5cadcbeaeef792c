"""SST from the PTB-format trees: parser, local layouts, variants, cache download, and one-line errors."""

import hashlib
import zipfile

import pytest

import elmo_lab.data.sst as sst
from elmo_lab.data import DataError, Example, load_sst, parse_tree, tokenize
from elmo_lab.data.splits import SPLITS

# Small trees in the official format (binarised, labels 0..4, PTB escapes for brackets and quotes).
TREES = {
    "train": [
        "(3 (2 (2 The) (2 Rock)) (4 (2 is) (4 great)))",
        "(1 (2 It) (1 (1 (0 fails) (2 -LRB-)) (2 (2 really) (2 -RRB-))))",
        "(2 (2 (2 ``) (2 great)) (2 ''))",
    ],
    "dev": ["(4 (3 Good) (4 fun))", "(0 (2 Not) (0 good))"],
    "test": ["(2 (2 Meh) (2 .))", "(3 (2 (2 A) (3 nice)) (2 touch))"],
}


# Real lines of the official release (first line of trees/train.txt, one of dev.txt, one of test.txt).
REAL_LINES = [
    "(3 (2 (2 The) (2 Rock)) (4 (3 (2 is) (4 (2 destined) (2 (2 (2 (2 (2 to) (2 (2 be) (2 (2 the) (2 (2 21st) "
    "(2 (2 (2 Century) (2 's)) (2 (3 new) (2 (2 ``) (2 Conan)))))))) (2 '')) (2 and)) (3 (2 that) (3 (2 he) (3 (2 's) "
    "(3 (2 going) (3 (2 to) (4 (3 (2 make) (3 (3 (2 a) (3 splash)) (2 (2 even) (3 greater)))) (2 (2 than) (2 (2 (2 "
    "(2 (1 (2 Arnold) (2 Schwarzenegger)) (2 ,)) (2 (2 Jean-Claud) (2 (2 Van) (2 Damme)))) (2 or)) (2 (2 Steven) "
    "(2 Segal))))))))))))) (2 .)))",
    "(4 (4 (2 A) (4 (3 (3 warm) (2 ,)) (3 funny))) (3 (2 ,) (3 (4 (4 engaging) (2 film)) (2 .))))",
    "(3 (3 (2 If) (3 (2 you) (3 (2 sometimes) (2 (2 like) (3 (2 to) (3 (3 (2 go) (2 (2 to) (2 (2 the) (2 movies)))) "
    "(3 (2 to) (3 (2 have) (4 fun))))))))) (2 (2 ,) (2 (2 Wasabi) (3 (3 (2 is) (2 (2 a) (2 (3 good) (2 (2 place) "
    "(2 (2 to) (2 start)))))) (2 .)))))",
]


def _text(split, lines=None):
    return "\n".join(TREES[split] if lines is None else lines) + "\n"


def _write_zip(path, overrides=None):
    with zipfile.ZipFile(path, "w") as archive:
        for split in SPLITS:
            archive.writestr(f"trees/{split}.txt", (overrides or {}).get(split, _text(split)))
    return path


def _write_folder(folder, overrides=None):
    folder.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        (folder / f"{split}.txt").write_text((overrides or {}).get(split, _text(split)), encoding="utf-8")
    return folder


def test_parse_tree_leaves_labels_and_escapes():
    tree = parse_tree(TREES["train"][1])
    assert tree.label == 1
    assert tree.leaves() == ["It", "fails", "(", "really", ")"]
    assert [node.label for node in tree.subtrees()] == [1, 2, 1, 1, 0, 2, 2, 2, 2]
    assert parse_tree(TREES["train"][2]).leaves() == ['"', "great", '"']


def test_no_break_space_stays_inside_a_word(tmp_path):
    # The official train trees write the film title "8 1/2" as one word holding a no-break space (U+00A0);
    # only ASCII whitespace separates words in the format.
    line = "(3 (2 (2 Fellini) (2 's)) (3 (2 8\u00a01\\/2) (2 .)))"
    assert parse_tree(line).leaves() == ["Fellini", "'s", "8\u00a01\\/2", "."]
    _write_folder(tmp_path, {"train": _text("train", TREES["train"] + [line])})
    assert load_sst(tmp_path)["train"][-1].tokens == ["Fellini", "'s", "8\u00a01\\/2", "."]


def test_real_lines_parse_and_match_the_tokeniser():
    first = parse_tree(REAL_LINES[0])
    assert first.label == 3
    assert " ".join(first.leaves()) == (
        "The Rock is destined to be the 21st Century 's new \" Conan \" and that he 's going to make a splash even "
        "greater than Arnold Schwarzenegger , Jean-Claud Van Damme or Steven Segal ."
    )
    assert [parse_tree(line).label for line in REAL_LINES[1:]] == [4, 3]
    for line in REAL_LINES:  # SST's own tokens are a fixed point of our tokeniser
        leaves = parse_tree(line).leaves()
        assert tokenize(" ".join(leaves)) == leaves


@pytest.mark.parametrize(
    "line, message",
    [
        ("(3 (2 a)", "unbalanced parentheses: 1 left open"),
        ("(3 (2 a)))", "unbalanced parentheses: extra ')'"),
        ("(3 (2 a)) junk", "trailing junk"),
        ("((2 a) (2 b))", "missing label"),
        ("(x (2 a))", "missing label"),
        ("(5 (2 a))", "label 5 outside 0..4"),
        ("(3 (-1 a))", "label -1 outside 0..4"),
        ("(3 (2 a b))", "one word or only child nodes"),
        ("(2 a (2 b))", "also has child nodes"),
        ("(2)", "neither a word nor children"),
        ("it is a tree", "expected '('"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    folder = _write_folder(tmp_path / "trees", {"dev": _text("dev", [TREES["dev"][0], line])})
    with pytest.raises(DataError) as error:
        load_sst(tmp_path)
    assert str(error.value).startswith(f"{folder / 'dev.txt'}:2: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_error_inside_zip_names_member_and_line(tmp_path):
    archive = _write_zip(tmp_path / sst.SST_ZIP, {"train": _text("train", ["(2 ok)", "(2 ok)", "(9 bad)"])})
    with pytest.raises(DataError) as error:
        load_sst(tmp_path)
    assert str(error.value) == f"{archive}:trees/train.txt:3: label 9 outside 0..4"


def test_empty_file_is_an_error(tmp_path):
    _write_folder(tmp_path, {"test": "\n"})
    with pytest.raises(DataError, match=r"test\.txt: empty file"):
        load_sst(tmp_path)


@pytest.mark.parametrize("layout", ["zip_in_dir", "zip_path", "trees_folder", "flat_files"])
def test_local_layouts_give_the_same_sentences(tmp_path, layout):
    if layout == "zip_in_dir":
        data_dir = tmp_path
        _write_zip(tmp_path / sst.SST_ZIP)
    elif layout == "zip_path":
        data_dir = _write_zip(tmp_path / "copy.zip")
    elif layout == "trees_folder":
        data_dir = tmp_path
        _write_folder(tmp_path / "trees")
    else:
        data_dir = _write_folder(tmp_path / "sst")
    data = load_sst(data_dir)
    assert data["train"] == [
        Example(["The", "Rock", "is", "great"], 3),
        Example(["It", "fails", "(", "really", ")"], 1),
        Example(['"', "great", '"'], 2),
    ]
    assert [example.label for example in data["dev"]] == [4, 0]
    assert data["test"][1] == Example(["A", "nice", "touch"], 3)


def test_binary_drops_neutral_and_merges_labels(tmp_path):
    data = load_sst(_write_folder(tmp_path), fine_grained=False)
    assert [(e.tokens[0], e.label) for e in data["train"]] == [("The", 1), ("It", 0)]
    assert [e.label for e in data["dev"]] == [1, 0]
    assert data["test"] == [Example(["A", "nice", "touch"], 1)]


def test_phrases_cover_distinct_subtrees_of_train_only(tmp_path):
    folder = _write_folder(tmp_path)
    data = load_sst(folder, phrases=True)
    # 7 + 9 + 5 nodes; the two quote leaves of the third tree are the same phrase with the same label.
    assert len(data["train"]) == 20
    assert data["train"][:3] == [
        Example(["The", "Rock", "is", "great"], 3), Example(["The", "Rock"], 2), Example(["The"], 2)
    ]
    assert Example(["great"], 4) in data["train"] and Example(["great"], 2) in data["train"]
    assert data["dev"] == load_sst(folder)["dev"]
    assert len(load_sst(folder, phrases=True, min_phrase_tokens=2)["train"]) == 9
    binary = load_sst(folder, fine_grained=False, phrases=True)["train"]
    assert sorted(len(e.tokens) for e in binary) == [1, 1, 2, 2, 4, 4, 5]
    with pytest.raises(DataError, match="min_phrase_tokens"):
        load_sst(folder, phrases=True, min_phrase_tokens=0)


def test_missing_or_incomplete_copy_names_the_offline_task(tmp_path):
    with pytest.raises(DataError, match="does not exist.*task=mr"):
        load_sst(tmp_path / "nowhere")
    with pytest.raises(DataError, match="SST not found in .*task=mr"):
        load_sst(tmp_path)
    (tmp_path / "trees").mkdir()
    (tmp_path / "trees" / "train.txt").write_text(_text("train"))
    with pytest.raises(DataError, match=r"incomplete.*missing .*dev\.txt, .*test\.txt"):
        load_sst(tmp_path)
    with pytest.raises(DataError, match="not a valid zip"):
        load_sst(tmp_path / "trees" / "train.txt")


@pytest.fixture
def fake_remote(tmp_path, monkeypatch):
    """Point the SST URL at a local zip (with its real checksum) and the cache at tmp_path/cache."""
    archive = _write_zip(tmp_path / "remote.zip")
    data = archive.read_bytes()
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sst, "SST_URL", archive.as_uri())
    monkeypatch.setattr(sst, "SST_SHA256", hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(sst, "SST_SIZE", len(data))
    return archive


def test_downloads_into_the_cache_once(tmp_path, fake_remote):
    with pytest.raises(DataError, match="no local copy.*task=mr"):
        load_sst(download=False)
    data = load_sst()
    assert (tmp_path / "cache" / "sst" / sst.SST_ZIP).read_bytes() == fake_remote.read_bytes()
    fake_remote.unlink()  # the cached copy is used from now on
    assert load_sst(download=False) == data


def test_offline_without_copy_names_the_offline_task(tmp_path, fake_remote, monkeypatch):
    monkeypatch.setattr(sst, "SST_URL", (tmp_path / "missing.zip").as_uri())
    with pytest.raises(DataError, match=r"SST not available \(cannot download .*\); .*task\.data_dir=PATH.*task=mr"):
        load_sst()
    assert not (tmp_path / "cache" / "sst" / sst.SST_ZIP).exists()
