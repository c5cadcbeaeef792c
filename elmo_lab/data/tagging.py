"""Tag schemes for chunk tagging (NER): reading chunks out of tags, converting schemes, allowed transitions.

A tag is ``O`` (outside any chunk) or ``P-TYPE`` with a prefix ``P`` and a chunk type such as ``PER``. Schemes:

- ``iob1`` (the original CoNLL-2003 files): ``I-X`` inside a chunk; ``B-X`` only for the first token of a chunk
  that directly follows another chunk of the same type.
- ``bio`` (alias ``iob2``): every chunk starts with ``B-X``, continues with ``I-X``.
- ``bioes``: ``B-X`` begin, ``I-X`` inside, ``E-X`` end of a chunk of two or more tokens; ``S-X`` a one-token chunk.

Chunks (:func:`spans`) follow conlleval, the CoNLL shared-task scorer, so that F1 here is the F1 the papers report.
conlleval decides with one rule set for every scheme whether a chunk ends before and starts at each token, and it
accepts ill-formed sequences: ``I-X`` after ``O``, after another type or at the start of a sentence starts a chunk;
a type change ends a chunk and starts another (``B-X I-Y`` is two chunks). Its rules know ``B``, ``I``, ``O`` and
``E`` but not ``S``, so for BIOES the usual extension is used: ``S-X`` is always a chunk of its own and ``B-X``
after ``E-X`` starts a new chunk. The extension changes nothing for a sequence without ``S-`` tags and without
``E-X B-X``; it is the rule set of seqeval's default mode.

Why one module: the reader, the metric and the CRF must agree on what a chunk and a valid sequence are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # torch is only needed by allowed_transitions; data readers import this module without it
    import torch

__all__ = [
    "SCHEMES",
    "Span",
    "Transitions",
    "allowed_transitions",
    "canonical_scheme",
    "convert",
    "detect_scheme",
    "encode",
    "entity_types",
    "iob1_to_iob2",
    "spans",
    "split_tag",
    "to_bioes",
]

SCHEMES = ("iob1", "bio", "bioes")
_ALIASES = {"iob1": "iob1", "iob2": "bio", "bio": "bio", "bioes": "bioes", "iobes": "bioes"}
_PREFIXES = {name: "BIES" if canonical == "bioes" else "BI" for name, canonical in _ALIASES.items()}

Span = tuple[str, int, int]  # (type, first token, last token), both ends inclusive, as conlleval counts them


def canonical_scheme(scheme: str) -> str:
    """The canonical name of ``scheme`` (``iob2`` -> ``bio``, ``iobes`` -> ``bioes``); ValueError if unknown."""
    canonical = _ALIASES.get(scheme.lower()) if isinstance(scheme, str) else None
    if canonical is None:
        raise ValueError(f"unknown tag scheme {scheme!r}: expected one of iob1, bio (iob2), bioes (iobes)")
    return canonical


def split_tag(tag: str, scheme: str | None = None) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``; ValueError for anything else.

    # Parameters

    tag : ``O`` or ``P-TYPE`` with ``P`` one of ``B I E S`` and a non-empty type (``B-FOO-BAR`` has type ``FOO-BAR``).
    scheme : if given, ``P`` must be a prefix of that scheme (``B I`` for iob1/bio, ``B I E S`` for bioes).
    """
    prefixes = "BIES" if scheme is None else _PREFIXES.get(scheme) or _PREFIXES[canonical_scheme(scheme)]
    if tag == "O":
        return "O", ""
    if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIES":
        raise ValueError(f"invalid tag {tag!r}: expected O or B-/I-/E-/S- followed by a type")
    if tag[0] not in prefixes:
        raise ValueError(f"invalid tag {tag!r} in scheme {scheme}: expected O or {'/'.join(prefixes)}-TYPE")
    return tag[0], tag[2:]


def _ends(prev: str, prev_type: str, prefix: str, type_: str) -> bool:
    """Whether a chunk ends between a token tagged ``prev``/``prev_type`` and the next one (conlleval's endOfChunk)."""
    if prev == "O":
        return False
    if prev in "ES":
        return True
    if prefix in "BOS":  # prev is B or I here
        return True
    return prev_type != type_


def _starts(prev: str, prev_type: str, prefix: str, type_: str) -> bool:
    """Whether a chunk starts at a token tagged ``prefix``/``type_`` after ``prev`` (conlleval's startOfChunk)."""
    if prefix == "O":
        return False
    if prefix in "BS":
        return True
    if prev in "OES":  # I or E after O, after the end of a chunk or after a single-token chunk
        return True
    return prev_type != type_


def spans(tags: Sequence[str], scheme: str | None = None) -> list[Span]:
    """The chunks of one sentence's tags by conlleval's rules (module docstring), in order.

    # Parameters

    tags : one tag per token.
    scheme : ``None`` accepts every prefix; a scheme name rejects prefixes it does not use (ValueError), e.g.
        ``S-X`` under ``bio``. The chunks themselves do not depend on it.

    # Returns

    ``[(type, start, end), ...]`` with ``end`` inclusive, e.g. ``spans(["B-PER", "I-PER", "O", "I-LOC"])`` is
    ``[("PER", 0, 1), ("LOC", 3, 3)]``.
    """
    if scheme is not None:
        scheme = canonical_scheme(scheme)
    chunks: list[Span] = []
    prev, prev_type, begin = "O", "", 0
    for index, tag in enumerate([*tags, "O"]):
        prefix, type_ = split_tag(tag, scheme)
        if _ends(prev, prev_type, prefix, type_):
            chunks.append((prev_type, begin, index - 1))
        if _starts(prev, prev_type, prefix, type_):
            begin = index
        prev, prev_type = prefix, type_
    return chunks


def encode(chunks: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Write non-overlapping ``chunks`` of a sentence of ``length`` tokens as tags of ``scheme``.

    For ``iob1``, a chunk starts with ``B-X`` only when the previous token ends a chunk of the same type.
    """
    scheme = canonical_scheme(scheme)
    tags = ["O"] * length
    previous_end: dict[int, str] = {}  # last token of each chunk -> its type
    for type_, start, end in sorted(chunks, key=lambda chunk: chunk[1]):
        if not 0 <= start <= end < length or any(tag != "O" for tag in tags[start:end + 1]):
            raise ValueError(f"chunk {(type_, start, end)} overlaps another or lies outside {length} tokens")
        if scheme == "bioes" and start == end:
            tags[start] = f"S-{type_}"
            previous_end[end] = type_
            continue
        tags[start:end + 1] = [f"I-{type_}"] * (end - start + 1)
        if scheme == "bio" or scheme == "bioes" or previous_end.get(start - 1) == type_:
            tags[start] = f"B-{type_}"
        if scheme == "bioes":
            tags[end] = f"E-{type_}"
        previous_end[end] = type_
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Re-tag one sentence from ``source`` to ``target`` (``iob1``, ``bio``/``iob2`` or ``bioes``).

    Goes through :func:`spans`, so the chunks stay the same by construction, also for ill-formed input
    (``O I-X`` becomes ``O B-X`` in bio; ``B-X I-Y`` becomes ``B-X B-Y``).
    """
    return encode(spans(tags, source), len(tags), target)


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 -> IOB2 (bio): every chunk starts with ``B-``."""
    return convert(tags, "iob1", "bio")


def to_bioes(tags: Sequence[str]) -> list[str]:
    """IOB2 (bio) -> BIOES. IOB1 input gives the same result, since both have the same chunks."""
    return convert(tags, "bio", "bioes")


def detect_scheme(sentences: Iterable[Sequence[str]]) -> str:
    """Which scheme a corpus's tags are written in: ``bioes``, ``iob1`` or ``bio``.

    ``bioes`` if any tag has an ``E-``/``S-`` prefix. Otherwise ``iob1`` if some ``I-X`` starts a chunk, i.e. is
    the first tag of a sentence or follows ``O`` or a tag of another type: IOB2 would have written ``B-X`` there.
    Otherwise ``bio``; a corpus without such a witness is valid IOB2 (for example every chunk starts with
    ``B-``), and reading it either way gives the same chunks.
    """
    iob1 = False
    for tags in sentences:
        prev, prev_type = "O", ""
        for tag in tags:
            prefix, type_ = split_tag(tag)
            if prefix in "ES":
                return "bioes"
            if prefix == "I" and (prev == "O" or prev_type != type_):
                iob1 = True
            prev, prev_type = prefix, type_
    return "iob1" if iob1 else "bio"


def entity_types(tag_names: Iterable[str]) -> list[str]:
    """The sorted distinct chunk types of ``tag_names`` (``["B-PER", "I-PER", "O"]`` -> ``["PER"]``)."""
    return sorted({split_tag(tag)[1] for tag in tag_names} - {""})


class Transitions(NamedTuple):
    """Which tag sequences a scheme allows, as boolean masks over tag ids.

    ``allowed[i, j]``: tag ``j`` may follow tag ``i`` (num_tags, num_tags); ``start[j]``: a sentence may begin with
    tag ``j`` (num_tags,); ``end[i]``: a sentence may end with tag ``i`` (num_tags,).
    """

    allowed: torch.Tensor
    start: torch.Tensor
    end: torch.Tensor


def _may_follow(prev: str, prev_type: str, prefix: str, type_: str, scheme: str) -> bool:
    """Whether ``prefix-type_`` may directly follow ``prev-prev_type`` in a well-formed ``scheme`` sequence."""
    inside = prev in "BI" if scheme == "bioes" else prev != "O"  # prev leaves a chunk open
    if prefix in "IE":
        return inside and prev_type == type_
    return not (scheme == "bioes" and inside)  # O, B, S: only where no chunk is left open


def allowed_transitions(tag_names: Sequence[str], scheme: str) -> Transitions:
    """The transitions a well-formed sequence of ``scheme`` may use, for the tag vocabulary ``tag_names``.

    bio: ``I-X`` only after ``B-X`` or ``I-X`` (so never first, after ``O`` or after another type); anything may
    end a sentence. bioes: ``I-X``/``E-X`` only after ``B-X``/``I-X``; ``O``, ``B-``, ``S-`` only after ``O``,
    ``E-``, ``S-`` (or first); a sentence ends with ``O``, ``E-`` or ``S-``. A CRF decoding under these masks can
    only output sequences that :func:`spans` reads as intended. ``iob1`` is not supported: convert the data first.

    # Parameters

    tag_names : the tag of each id, e.g. ``["O", "B-PER", "I-PER"]``; every tag must belong to ``scheme``.
    scheme : ``bio`` (``iob2``) or ``bioes``.
    """
    import torch

    scheme = canonical_scheme(scheme)
    if scheme == "iob1":
        raise ValueError("allowed_transitions: iob1 is not supported; convert the tags to bio or bioes first")
    parts = [split_tag(tag, scheme) for tag in tag_names]
    allowed = torch.tensor(
        [[_may_follow(p, pt, q, qt, scheme) for q, qt in parts] for p, pt in parts], dtype=torch.bool
    ).reshape(len(parts), len(parts))  # (num_tags, num_tags)
    start = torch.tensor([q in "OBS" for q, _ in parts], dtype=torch.bool)  # (num_tags,)
    end = torch.tensor([scheme == "bio" or p in "OES" for p, _ in parts], dtype=torch.bool)  # (num_tags,)
    return Transitions(allowed, start, end)
