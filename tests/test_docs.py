"""The README and docs/ stay true to the tree: the README stays short, links resolve, the commands shown exist, and
every file path or module named is there.

Each check is a function returning what it found wrong, so the tests below can also show, on made-up text, that
the checks do fail when something is wrong.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from elmo_lab.__main__ import COMMANDS
from elmo_lab.config.groups import config_groups, group_choices
from elmo_lab.config.pretrain import register_pretrain_configs
from elmo_lab.config.schema import register_configs

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 200
# Hydra config groups whose choices (`group=name` in commands) must be a conf/<group>/<name>.yaml: read from conf/.
GROUPS = tuple(config_groups(ROOT / "conf"))
register_pretrain_configs()  # the bilm_arch choices that live in the package (the published shapes)
register_configs()  # and those the train schema registers in code (probe=layer<j>)


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- reading Markdown ---------------------------------------------------------------------------------------------
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def split_fenced(text: str) -> tuple[list[str], list[str]]:
    """(lines inside fenced code blocks, lines outside them)."""
    inside, outside, fence = [], [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if m and (fence is None or m.group(1) == fence):
            fence = m.group(1) if fence is None else None
            continue
        (inside if fence else outside).append(line)
    return inside, outside


def code_text(text: str) -> list[str]:
    """Fenced code lines plus every inline code span of the prose."""
    inside, outside = split_fenced(text)
    return inside + [m.group(2) for line in outside for m in INLINE_CODE.finditer(line)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in split_fenced(text)[1]:
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


# --- the checks ---------------------------------------------------------------------------------------------------
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def broken_links(page: Path, text: str) -> list[str]:
    """Relative links of ``text`` (the content of ``page``) whose file, or heading anchor, does not exist."""
    bad = []
    prose = "\n".join(INLINE_CODE.sub("", line) for line in split_fenced(text)[1])
    for target in LINK.findall(prose):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        if not path:  # a heading of this page
            if anchor not in anchors(text):
                bad.append(f"{rel(page)}: {target} (no such heading in this page)")
            continue
        dest = (page.parent / path).resolve()
        if not dest.exists() or ROOT not in (dest, *dest.parents):
            bad.append(f"{rel(page)}: {target} (no such file in the repository)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            bad.append(f"{rel(page)}: {target} (no heading #{anchor} in {rel(dest)})")
    return bad


SCRIPT = re.compile(r"\b(?:python3?|torchrun|bash)\b(?:\s+-{1,2}[\w-]+(?:=\S+)?)*\s+([\w./-]+\.(?:py|sh))\b")
ELMO_LAB_COMMAND = re.compile(r"\bpython3?\s+-m\s+elmo_lab\b(?:\s+(\S+))?")


def bad_commands(page: Path, text: str) -> list[str]:
    """In fenced code: scripts that do not exist and ``python -m elmo_lab`` commands not in ``COMMANDS``."""
    bad = []
    for line in split_fenced(text)[0]:
        for script in SCRIPT.findall(line):
            if not (ROOT / script).is_file():
                bad.append(f"{rel(page)}: no script {script}: {line.strip()}")
        for command in ELMO_LAB_COMMAND.findall(line):
            if command not in COMMANDS:
                bad.append(f"{rel(page)}: no command {command or '(none)'!r} in python -m elmo_lab: {line.strip()}")
    return bad


GROUP_CHOICE = re.compile(r"(?<![\w./+-])(" + "|".join(re.escape(g) for g in GROUPS) + r")=([\w][\w,.-]*)")


def bad_config_choices(page: Path, text: str) -> list[str]:
    """``group=name`` in code (fenced or inline) naming no ``conf/<group>/<name>.yaml`` (nor a registered choice)."""
    bad = []
    for line in code_text(text):
        for group, names in GROUP_CHOICE.findall(line):
            for name in names.split(","):
                if name and name not in group_choices(ROOT / "conf", group):
                    bad.append(f"{rel(page)}: {group}={name}: no conf/{group}/{name}.yaml")
        for name in re.findall(r"--config-name[= ]([\w-]+)", line):
            if not (ROOT / "conf" / f"{name}.yaml").is_file():
                bad.append(f"{rel(page)}: --config-name {name}: no conf/{name}.yaml")
    return bad


PATH = re.compile(r"(?<![\w./$~-])((?:elmo_lab|conf|tasks|tests|benchmarks)/[\w./-]*\.(?:py|yaml|sh|md))(?![\w/-])")
MODULE = re.compile(r"(?<![\w./$-])elmo_lab(?:\.\w+)+")


def missing_paths(page: Path, text: str) -> list[str]:
    """Repository paths (``elmo_lab/...py``, ``conf/...yaml``, ...) mentioned anywhere in ``text`` that do not
    exist."""
    return [f"{rel(page)}: {p} does not exist" for p in sorted(set(PATH.findall(text))) if not (ROOT / p).exists()]


def missing_modules(page: Path, text: str) -> list[str]:
    """Dotted names ``elmo_lab.x.y[.attr]`` whose module is not in the package (an attribute of a package must at
    least be named in its ``__init__.py``)."""
    bad = []
    for dotted in sorted(set(MODULE.findall(text))):
        where = ROOT
        for part in dotted.split("."):
            if (where / part).is_dir():
                where = where / part
            elif (where / f"{part}.py").is_file():
                break
            elif where != ROOT and (where / "__init__.py").is_file() \
                    and re.search(rf"\b{re.escape(part)}\b", (where / "__init__.py").read_text(encoding="utf-8")):
                break
            else:
                bad.append(f"{rel(page)}: {dotted}: no module or package {part!r} in {rel(where) if where != ROOT else '.'}")
                break
    return bad


# --- the tests ----------------------------------------------------------------------------------------------------
def test_docs_exist() -> None:
    names = {p.name for p in DOCS.glob("*.md")}
    assert {"index.md", "results.md", "tasks.md", "bilm.md", "cache.md", "scale-out.md", "benchmarks.md",
            "internals.md", "adding-a-task.md", "glossary.md"} <= names


def test_checks_read_the_pages() -> None:
    """The page checks below have something to check: they would pass vacuously on empty or unparsed pages."""
    texts = [page.read_text(encoding="utf-8") for page in pages()]
    links = sum(len(LINK.findall(t)) for t in texts)
    paths = sum(len(PATH.findall(t)) for t in texts)
    commands = sum(len(SCRIPT.findall(line)) + len(ELMO_LAB_COMMAND.findall(line))
                   for t in texts for line in split_fenced(t)[0])
    assert links > 30 and paths > 30 and commands > 30, (links, paths, commands)


def test_readme_is_short() -> None:
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; keep it to {README_MAX_LINES} and move the rest to docs/"


def test_index_lists_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = {Path(t.partition("#")[0]).name for t in LINK.findall(index)}
    assert {p.name for p in DOCS.glob("*.md") if p.name != "index.md"} <= linked


@pytest.mark.parametrize("check", [broken_links, bad_commands, bad_config_choices, missing_paths, missing_modules])
def test_pages(check) -> None:
    problems = [p for page in pages() for p in check(page, page.read_text(encoding="utf-8"))]
    assert problems == []


def test_readme_shows_every_command() -> None:
    """The README's code blocks give one example of each entry point and each ``python -m elmo_lab`` command."""
    code = "\n".join(split_fenced(README.read_text(encoding="utf-8"))[0])
    shown = set(ELMO_LAB_COMMAND.findall(code))
    assert set(COMMANDS) <= shown, f"no example for: {sorted(set(COMMANDS) - shown)}"
    for needle in ("python train.py ", "python train.py -m ", "python pretrain.py "):
        assert needle in code


def test_readme_setup_and_test_commands_are_what_ci_runs() -> None:
    code = split_fenced(README.read_text(encoding="utf-8"))[0]
    ci = [line.split("#")[0].strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in ("pip install -e \".[dev,hf]\"", "python -m pytest -q",
                    "python -m elmo_lab fetch conll2003 corpora glove_6b_50d"):
        assert command in ci, f".ci/run no longer runs {command}"
        assert any(line.split("#")[0].strip() == command for line in code), f"README lacks {command}"


# --- the checks do fail -------------------------------------------------------------------------------------------
def test_checks_catch_what_is_wrong() -> None:
    page = DOCS / "made-up.md"
    text = "\n".join([
        "# A heading",
        "[ok](index.md) [ok](#a-heading) [web](https://example.org) [bad](nowhere.md) [bad](index.md#no-such) [bad](#b)",
        "`[not a link](nowhere.md)` elmo_lab/cache/store.py elmo_lab/nope.py conf/task/nope.yaml `tasks/<x>.py`",
        "elmo_lab.cache.store.LayerStore elmo_lab.nope.thing",
        "```bash",
        "[in code](nowhere-either.md)",
        "python train.py task=mr task=nope experiment=probe_layers,nope",
        "python nope.py",
        "python -m elmo_lab report out",
        "python -m elmo_lab frobnicate",
        "python -m elmo_lab",
        "```",
    ])
    assert broken_links(page, text) == ["docs/made-up.md: nowhere.md (no such file in the repository)",
                                        "docs/made-up.md: index.md#no-such (no heading #no-such in docs/index.md)",
                                        "docs/made-up.md: #b (no such heading in this page)"]
    assert [p.split(": ")[1] for p in bad_commands(page, text)] == ["no script nope.py", "no command 'frobnicate' in python -m elmo_lab", "no command '(none)' in python -m elmo_lab"]
    assert [p.split(": ")[1] for p in bad_config_choices(page, text)] == ["task=nope", "experiment=nope"]
    assert missing_paths(page, text) == ["docs/made-up.md: conf/task/nope.yaml does not exist",
                                         "docs/made-up.md: elmo_lab/nope.py does not exist"]
    assert [p.split(": ")[1] for p in missing_modules(page, text)] == ["elmo_lab.nope.thing"]


def test_slug_matches_github() -> None:
    assert slug("Comparing runs: `python -m elmo_lab report`") == "comparing-runs-python--m-elmo_lab-report"
    assert slug("SQuAD v1.1") == "squad-v11"
    assert slug("Probing the biLM's layers") == "probing-the-bilms-layers"
