"""The defaults the docs state are the schema's: every table row ``| `key` | `value` | ...`` (or ``| `key` |
`value` (default) / ... |``) of docs/tasks.md, docs/cache.md and docs/user-data.md names the value a composed config
has for that key (``task=classify`` for docs/user-data.md, the default task elsewhere)."""
from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest
import yaml

from train_helpers import compose_train

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = {"tasks.md": [], "cache.md": [], "user-data.md": ["task=classify", "task.data_dir=."]}
# a row: the key, then a cell that is one `value`, or lists choices with one marked "(default)"
ROW = re.compile(r"^\| `(?P<key>[a-z_][a-z_0-9.]*)` \| (?P<cell>[^|]*) \|")
STATED = re.compile(r"^`(?P<value>[^`]*)`(?: \(default\))?$|`(?P<marked>[^`]*)` \(default\)")


def stated_defaults(text: str) -> dict[str, object]:
    """``{key: default}`` for every row that states one (a row listing choices without "(default)" states none)."""
    found = {}
    for line in text.splitlines():
        row = ROW.match(line)
        stated = STATED.search(row["cell"].strip()) if row else None
        if stated:
            found[row["key"]] = yaml.safe_load(stated["value"] if stated["value"] is not None else stated["marked"])
    return found


def _value(cfg, key: str):
    node = cfg
    for part in key.split("."):
        if part not in node:
            return KeyError
        node = node[part]
    return node.value if isinstance(node, Enum) else node


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_defaults_docs_state_are_the_schemas(page: str) -> None:
    stated = stated_defaults((DOCS / page).read_text(encoding="utf-8"))
    cfg = compose_train(PAGES[page])
    checked = {k: v for k, v in stated.items() if _value(cfg, k) is not KeyError}
    assert len(checked) >= 4, stated  # the page's table was read
    wrong = {k: (v, _value(cfg, k)) for k, v in checked.items() if _value(cfg, k) != v}
    assert wrong == {}, "key: (docs, schema)"


def test_a_wrong_default_in_a_table_is_found() -> None:
    text = "| `threads` | `null` | torch CPU threads |\n| `elmo.mix` | `all` (default) / `top` | how |\n" \
           "| `bilm.recurrence` | `loop` / `masked` | no default stated |"
    assert stated_defaults(text) == {"threads": None, "elmo.mix": "all"}
    cfg = compose_train([])
    assert _value(cfg, "threads") != stated_defaults(text)["threads"]
