"""The built-in edge-probing data sets (Tenney et al. 2019's edge probing) as ``{"train", "dev", "test"}`` lists of
:class:`~elmo_lab.data.edges.EdgeExample`, and users' own files in jiant's JSON format.

Sources (:func:`load_edge_splits`); sentences without a target are left out of every one:
- ``deprel``: dependency labels on word pairs of UD English-EWT (or the CoNLL-U treebank in ``data_dir``): per word
  with a head, ``span1`` = the dependent ``[i, i+1]``, ``span2`` = its head ``[h, h+1]``, label = the relation; the
  root arc (no head word) is left out.
- ``entities``: entity types of CoNLL-2003 (or ``data_dir``, its layouts): per entity of the IOB2 NER column one span
  over its words, label = the type (PER, LOC, ORG, MISC).
- ``spr2``: semantic proto-roles (Reisinger et al. 2015; the UDS 2.0 SPR2 ratings of UD English-EWT): per annotated
  predicate-argument pair, ``span1`` = the predicate's word, ``span2`` = the argument phrase, labels = the properties
  rated *likely*: mean rating >= 4 on the 1-5 scale (4 likely, 5 very likely) over the annotators who judged the
  property applicable (:data:`SPR2_LIKELY`).  This is the rule of jiant's SPR2 conversion, which Tenney et al.
  used, applied to the raw ratings shipped in the wheel.  The normalized UDS values (White et al. 2020's
  normalisation of the ratings, centred on 0; "likely" read as value > 0) agree with it on 87% of the (pair,
  property) cases that some annotator judged applicable (all 7,090 pairs, measured on 2026-12-07), but are not what
  the published edge-probing sets hold.  A pair may have no likely property (an empty label list).  All 18 UDS
  properties are kept: 14 rated on core arguments (nsubj, dobj, ...) and ``location``, ``manner``, ``purpose``,
  ``time``, rated on ``nmod`` arguments.
- ``supersense``: WordNet noun supersenses of UDS 2.0 (UDS-Word Sense): per annotated argument one span, its head word
  ``[h, h+1]`` (the sense is the head noun's), label = the supersense with the highest normalized value, kept only
  when that value is positive (the annotators lean towards it); the normalized value already pools the annotators,
  so when they differ the best-supported supersense wins (ties: alphabetical), and arguments none of whose
  supersenses is positive are left out.
- ``file``: jiant's edge-probing JSON-lines files in ``data_dir`` (:func:`find_edge_files`).

Examples keep where they were read (``EdgeExample.source``/``line``): the JSON line of a ``file`` example, the first
word's line of a sentence of a CoNLL-U ``data_dir`` (``deprel``); none for the cached UD English-EWT and CoNLL-2003.
"""
from __future__ import annotations

import re
from pathlib import Path

from elmo_lab.data.edges import EdgeExample, EdgeTarget, read_edges
from elmo_lab.data.errors import DataError
from elmo_lab.data.splits import SPLIT_NAMES, SPLITS
from elmo_lab.data.treebank import DependencySentence

__all__ = ["EDGE_SOURCES", "SPR2_LIKELY", "deprel_edges", "entity_edges", "find_edge_files", "load_edge_splits",
           "spr2_edges", "supersense_edges"]

EDGE_SOURCES = ("deprel", "entities", "spr2", "supersense", "file")
SPR2_LIKELY = 4.0  # a property holds when its mean rating (1-5 scale) is at least "likely"
# what edge-probing releases call a split: jiant's OntoNotes sets say "development", SPR2 "edges.dev.json"
_EDGE_SPLIT_NAMES = {**SPLIT_NAMES, "dev": (*SPLIT_NAMES["dev"], "development")}


def deprel_edges(sentence: DependencySentence) -> EdgeExample:
    """One example: every (dependent, head) word pair with its relation, the root arc left out."""
    targets = [EdgeTarget((i, i + 1), (relation,), (head - 1, head))
               for i, (head, relation) in enumerate(zip(sentence.heads, sentence.relations)) if head > 0]
    return EdgeExample(list(sentence.tokens), targets, source=sentence.source, line=sentence.line)


def spr2_edges(sentence: DependencySentence, likely: float = SPR2_LIKELY) -> EdgeExample:
    """One example: per annotated predicate-argument pair the properties whose mean rating is ``>= likely``."""
    targets = [EdgeTarget((pair["predicate"], pair["predicate"] + 1),
                          tuple(sorted(p for p, rating in pair["ratings"].items() if rating >= likely)),
                          (pair["argument"][0], pair["argument"][1]))
               for pair in sentence.extra.get("spr2", [])]
    return EdgeExample(list(sentence.tokens), targets, source=sentence.source, line=sentence.line)


def supersense_edges(sentence: DependencySentence) -> EdgeExample:
    """One example: per annotated argument its head word and the supersense with the highest positive value."""
    targets = []
    for argument in sentence.extra.get("supersense", []):
        ranked = sorted(argument["supersenses"].items(), key=lambda item: (-item[1], item[0]))
        if ranked and ranked[0][1] > 0:
            targets.append(EdgeTarget((argument["head"], argument["head"] + 1), (ranked[0][0],)))
    return EdgeExample(list(sentence.tokens), targets, source=sentence.source, line=sentence.line)


def entity_edges(tokens: list[str], tags: list[str]) -> EdgeExample:
    """One example: every entity of the BIO/BIOES ``tags`` as one span labelled with its type."""
    from elmo_lab.data.tagging import spans

    return EdgeExample(list(tokens), [EdgeTarget((start, end + 1), (kind,)) for kind, start, end in spans(tags)])


def find_edge_files(root: Path) -> dict[str, Path]:
    """The train/dev/test edge-probing files of the folder ``root``: the ``*.json``/``*.jsonl`` files whose name holds
    a split's name as a word (``train.json``, ``development.json``, ``edges.dev.json``, ``en_ewt-ud-test.json``);
    exactly one per split."""
    if not root.is_dir():
        raise DataError(f"task.data_dir {root}: not a folder; expected a folder with train/dev/test edge-probing "
                        "JSON files (e.g. train.json, dev.json, test.json)")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl"))
    found = {}
    for split in SPLITS:
        names = _EDGE_SPLIT_NAMES[split]
        matches = [p for p in files if set(re.split(r"[^a-z0-9]+", p.name.lower())) & set(names)]
        if len(matches) != 1:
            what = "none" if not matches else ", ".join(p.name for p in matches)
            raise DataError(f"{root}: expected one {split} edge-probing file (a .json name with "
                            f"{' or '.join(repr(n) for n in names)}), found {what}")
        found[split] = matches[0]
    return found


def _ewt_sentences(source: str, data_dir: str | None, download: bool) -> dict[str, list[DependencySentence]]:
    from elmo_lab.data.ud_ewt import load_ud_ewt

    if data_dir is not None and source != "deprel":
        raise DataError(f"task.data_dir: the {source} source reads the UDS annotations of UD English-EWT (fetch "
                        f"ud_ewt), not a folder; leave task.data_dir unset, or bring jiant JSON files with "
                        f"task.source=file")
    return load_ud_ewt(data_dir, download=download)


def _keep_with_targets(examples: list[EdgeExample]) -> list[EdgeExample]:
    return [example for example in examples if example.targets]


def load_edge_splits(source: str, data_dir: str | None = None, download: bool = True) -> dict[str, list[EdgeExample]]:
    """``{"train", "dev", "test"}`` edge-probing examples of ``source`` (one of :data:`EDGE_SOURCES`; rules in the
    module docstring).

    # Parameters

    source : ``deprel``, ``entities``, ``spr2``, ``supersense`` or ``file``.
    data_dir : ``deprel``: a CoNLL-U folder instead of UD English-EWT; ``entities``: a CoNLL-2003 copy;
        ``file``: the folder of JSON files (required); ``spr2``/``supersense``: must be ``None``.
    download : whether missing cached data may be downloaded (``False``: :class:`DataError` instead).
    """
    if source not in EDGE_SOURCES:
        raise DataError(f"unknown edge-probing source {source!r}; expected one of {', '.join(EDGE_SOURCES)}")
    if source == "file":
        if data_dir is None:
            raise DataError("task.data_dir: the file source reads jiant edge-probing JSON files; give the folder "
                            "that holds them (train/dev/test)")
        return {split: read_edges(path) for split, path in find_edge_files(Path(data_dir).expanduser()).items()}
    if source == "entities":
        from elmo_lab.data.conll import load_conll2003

        data = load_conll2003(data_dir, scheme="bio", download=download)
        return {split: _keep_with_targets([entity_edges(s.tokens, s.tags) for s in sentences])
                for split, sentences in data.items()}
    convert = {"deprel": deprel_edges, "spr2": spr2_edges, "supersense": supersense_edges}[source]
    return {split: _keep_with_targets([convert(s) for s in sentences])
            for split, sentences in _ewt_sentences(source, data_dir, download).items()}
