"""One sentence graph of the Universal Decompositional Semantics dataset (UDS 2.0, White et al. 2020) read into a
:class:`~elmo_lab.data.treebank.DependencySentence` with its proto-role and noun-supersense annotations.

A graph is the networkx "adjacency" serialisation: ``nodes`` (a list of attribute dicts with an ``id``) and
``adjacency`` (per node, in the same order, its out-edges: attribute dicts whose ``id`` is the target node).
- Syntax: nodes ``domain=syntax, type=token`` carry ``position`` (1-based), ``form``, ``lemma``, ``upos``, ``xpos``;
  an edge ``domain=syntax, type=dependency`` goes from the head (a token, or the ``root`` node at position 0) to the
  dependent and carries ``deprel`` (UD v1 relations: the graphs are built on UD English-EWT v1.2).
- Semantics: PredPatt predicate and argument nodes (``domain=semantics``) point to their words by ``domain=interface``
  edges, ``type=head`` (the head word) or ``type=nonhead`` (the other words of the phrase).  Argument nodes may carry
  ``wordsense``: per WordNet noun supersense ``supersense-noun.X`` a normalized ``value`` (positive: the annotators
  lean towards the supersense; negative: away) and a ``confidence``.
- Proto-roles (SPR2) are read from the raw annotation file instead (:func:`spr2_annotations`): per predicate-argument
  edge ``"<pred id>%%<arg id>"`` and property, each annotator's rating (0-4, i.e. the 1-5 likelihood scale minus 1)
  and whether they judged the property applicable (``confidence`` 1) or not (0).

Everything here keeps 0-based token indices and exclusive-end spans, as the edge-probing format does.
"""
from __future__ import annotations

from elmo_lab.data.errors import DataError
from elmo_lab.data.treebank import DependencySentence

__all__ = ["graph_sentence", "spr2_annotations", "supersense_annotations"]

SUPERSENSE_PREFIX = "supersense-"


def _tokens_and_tree(nodes: list[dict], adjacency: list[list[dict]], where: str) -> tuple[list[dict], list[tuple]]:
    """The token nodes in order and, per token, ``(head position, relation)``."""
    tokens = sorted((n for n in nodes if n.get("domain") == "syntax" and n.get("type") == "token"),
                    key=lambda n: n["position"])
    if [n["position"] for n in tokens] != list(range(1, len(tokens) + 1)):
        raise DataError(f"{where}: token positions are not 1..{len(tokens)}")
    position = {n["id"]: int(n["position"]) for n in nodes if n.get("domain") in ("syntax", "root")}
    arcs: dict[int, tuple[int, str]] = {}
    for node, edges in zip(nodes, adjacency):
        for edge in edges:
            if edge.get("domain") == "syntax" and edge.get("type") == "dependency":
                dependent = position[edge["id"]]
                if dependent in arcs:
                    raise DataError(f"{where}: token {dependent} has two heads")
                arcs[dependent] = (position[node["id"]], edge["deprel"])
    missing = [p for p in range(1, len(tokens) + 1) if p not in arcs]
    if missing:
        raise DataError(f"{where}: token {missing[0]} has no head")
    return tokens, [arcs[p] for p in range(1, len(tokens) + 1)]


def _phrases(nodes: list[dict], adjacency: list[list[dict]]) -> dict[str, tuple[int, tuple[int, int]]]:
    """Per semantics node with words: ``(head index, (start, end))``, 0-based, end exclusive, over its words."""
    position = {n["id"]: int(n["position"]) for n in nodes if n.get("domain") == "syntax"}
    phrases = {}
    for node, edges in zip(nodes, adjacency):
        if node.get("domain") != "semantics":
            continue
        words: dict[str, list[int]] = {"head": [], "nonhead": []}
        for edge in edges:
            if edge.get("domain") == "interface" and edge.get("type") in words and edge["id"] in position:
                words[edge["type"]].append(position[edge["id"]])
        if words["head"]:
            every = words["head"] + words["nonhead"]
            phrases[node["id"]] = (words["head"][0] - 1, (min(every) - 1, max(every)))
    return phrases


def supersense_annotations(nodes: list[dict], phrases: dict[str, tuple[int, tuple[int, int]]]) -> list[dict]:
    """Per argument with a ``wordsense`` annotation: its head word, its phrase span and the supersenses the
    annotators lean towards (positive normalized value, ``noun.X`` -> value, highest first); arguments with none
    are left out."""
    found = []
    for node in nodes:
        senses = node.get("wordsense")
        if not senses or node["id"] not in phrases:
            continue
        positive = sorted(((s["value"], name[len(SUPERSENSE_PREFIX):]) for name, s in senses.items()
                           if s.get("value") is not None and s["value"] > 0), key=lambda x: (-x[0], x[1]))
        if positive:
            head, span = phrases[node["id"]]
            found.append({"head": head, "span": list(span), "supersenses": {name: v for v, name in positive}})
    return sorted(found, key=lambda a: a["head"])


def spr2_annotations(raw_edges: dict, phrases: dict[str, tuple[int, tuple[int, int]]], where: str) -> list[dict]:
    """Per annotated predicate-argument edge: the predicate's head word, the argument's span and head word, and per
    property the mean rating on the 1-5 scale over the annotators who judged it applicable (properties nobody
    judged applicable are left out)."""
    found = []
    for edge_id, annotation in raw_edges.items():
        predicate, _, argument = edge_id.partition("%%")
        if predicate not in phrases or argument not in phrases:
            raise DataError(f"{where}: proto-role edge {edge_id} names a node without words")
        ratings = {}
        for prop, judged in annotation.get("protoroles", {}).items():
            applicable = [v + 1 for who, v in judged["value"].items() if judged["confidence"].get(who) == 1]
            if applicable:
                ratings[prop] = round(sum(applicable) / len(applicable), 4)
        head, span = phrases[argument]
        found.append({"predicate": phrases[predicate][0], "argument": list(span), "argument_head": head,
                      "ratings": dict(sorted(ratings.items()))})
    return sorted(found, key=lambda a: (a["predicate"], a["argument"]))


def graph_sentence(name: str, graph: dict, raw_protoroles: dict | None = None) -> DependencySentence:
    """The sentence of the UDS graph ``graph`` (named ``name``, e.g. ``ewt-dev-1``); ``extra`` holds ``spr2``
    (:func:`spr2_annotations` of ``raw_protoroles``, the raw file's entry for this graph) and ``supersense``
    (:func:`supersense_annotations`)."""
    where = f"UDS graph {name}"
    try:
        nodes, adjacency = graph["nodes"], graph["adjacency"]
        tokens, arcs = _tokens_and_tree(nodes, adjacency, where)
        phrases = _phrases(nodes, adjacency)
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{where}: not a UDS sentence graph ({type(error).__name__}: {error})") from None
    extra = {"spr2": spr2_annotations(raw_protoroles or {}, phrases, where),
             "supersense": supersense_annotations(nodes, phrases)}
    return DependencySentence(
        tokens=[n["form"] for n in tokens], lemmas=[n["lemma"] for n in tokens], upos=[n["upos"] for n in tokens],
        xpos=[n["xpos"] for n in tokens], heads=[h for h, _ in arcs], relations=[r for _, r in arcs],
        sentence_id=name, extra=extra)
