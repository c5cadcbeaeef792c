"""A parser for the labelled bracketed trees of the Stanford Sentiment Treebank (PTB s-expression format).

Each line of ``trees/{train,dev,test}.txt`` holds one tree, e.g. ``(3 (2 It) (4 (2 's) (3 (2 a) (3 lark))))``:
a node is ``(LABEL CHILD CHILD ...)`` and a leaf is ``(LABEL WORD)``. Labels are integers 0..4 (very negative ..
very positive). Parentheses inside words are escaped as PTB brackets (``-LRB-`` ``-RRB-``, and ``-LSB-``
``-RSB-`` ``-LCB-`` ``-RCB-``), double quotes as two backticks / two apostrophes; :func:`parse_tree` maps
them back to ``( ) [ ] { }`` and ``"`` so leaves match what :func:`elmo_lab.data.tokenize.tokenize` gives for raw
text.

Why our own parser: it is short, iterative (no recursion limit on deep trees), and reports exactly what is
wrong (unbalanced parentheses, missing or out-of-range label, trailing junk) instead of failing somewhere later.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from elmo_lab.data.errors import DataError

__all__ = ["PTB_BRACKETS", "Tree", "parse_tree"]

PTB_BRACKETS = {
    "-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}", "``": '"', "''": '"'
}
# Pieces are separated by ASCII whitespace only: words may hold other space characters (the train trees write the
# film title "8 1/2" as one word with a no-break space, U+00A0), which ``\s`` would split.
_PIECE_RE = re.compile(r"\(|\)|[^ \t\n\r\f\v()]+")
_LABEL_RE = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Tree:
    """A sentiment tree node: a ``label`` and either ``children`` (inner node) or a ``word`` (leaf)."""

    label: int
    children: tuple[Tree, ...] = ()
    word: str | None = None

    def leaves(self) -> list[str]:
        """The words under this node, left to right."""
        words: list[str] = []
        stack = [self]
        while stack:
            node = stack.pop()
            if node.word is not None:
                words.append(node.word)
            stack.extend(reversed(node.children))
        return words

    def subtrees(self) -> Iterator[Tree]:
        """This node and every node below it, in pre-order (root first)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def _label(piece: str | None) -> int:
    if piece is None or not _LABEL_RE.match(piece):
        got = "the end of the line" if piece is None else repr(piece)
        raise DataError(f"missing label: expected an integer 0..4 after '(', got {got}")
    label = int(piece)
    if not 0 <= label <= 4:
        raise DataError(f"label {label} outside 0..4")
    return label


def parse_tree(text: str) -> Tree:
    """Parse one bracketed tree; raise :class:`DataError` (no file/line; the caller adds it) if malformed."""
    pieces = _PIECE_RE.findall(text)
    if not pieces:
        raise DataError("empty tree")
    if pieces[0] != "(":
        raise DataError(f"expected '(' at the start of the tree, got {pieces[0]!r}")
    # Each open node on the stack: [label, children, word].
    stack: list[list] = []
    root: Tree | None = None
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        if root is not None and piece == ")":
            raise DataError("unbalanced parentheses: extra ')' after the tree")
        if root is not None:
            raise DataError(f"trailing junk after the tree: {' '.join(pieces[index:])[:40]!r}")
        if piece == "(":
            if stack and stack[-1][2] is not None:
                raise DataError(f"node with word {stack[-1][2]!r} also has child nodes")
            stack.append([_label(pieces[index + 1] if index + 1 < len(pieces) else None), [], None])
            index += 2
            continue
        label, children, word = stack[-1]
        if piece == ")":
            if word is None and not children:
                raise DataError(f"node with label {label} has neither a word nor children")
            node = Tree(label, tuple(children), PTB_BRACKETS.get(word, word) if word is not None else None)
            stack.pop()
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
        elif word is not None or children:
            raise DataError(f"unexpected word {piece!r}: a node holds one word or only child nodes")
        else:
            stack[-1][2] = piece
        index += 1
    if root is None:
        raise DataError(f"unbalanced parentheses: {len(stack)} left open at the end of the line")
    return root
