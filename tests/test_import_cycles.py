"""No import cycles: between the files of ``elmo_lab/``, ``tasks/``, ``train.py`` and ``pretrain.py``, and between the
packages of ``elmo_lab/`` (``report``, ``training``, ``lm`` ...).  Every ``import`` counts, those inside functions
too: a function-level import only hides a cycle from Python's loader, not from the reader."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Edges of a cycle that is known and scheduled to go, "importer -> imported"; each one a note why.  Keep it empty.
KNOWN_CYCLE_EDGES: set[str] = set()


def module_files(root: Path = REPO) -> dict[str, Path]:
    """``{dotted module name: file}`` for every file the test walks."""
    files = [*sorted((root / "elmo_lab").rglob("*.py")), *sorted((root / "tasks").glob("*.py")),
             root / "train.py", root / "pretrain.py"]
    out = {}
    for path in files:
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The walked modules that ``module`` imports anywhere in its file: ``import a.b``, ``from a import b`` (the
    module ``a.b`` when it is one, else the package ``a``), relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # a.b.Class -> a.b; an outside library -> ""
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles of ``graph`` as its strongly connected components of two or more nodes (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    files = module_files(root)
    known = set(files)
    graph = {m: imported_modules(m, p, known) for m, p in files.items()}
    for edge in KNOWN_CYCLE_EDGES:
        importer, _, imported = edge.partition(" -> ")
        graph[importer].discard(imported)
    return graph


def package_graph(graph: dict[str, set[str]], root: Path = REPO) -> dict[str, set[str]]:
    """``X`` imports ``Y`` when a file of ``elmo_lab/X/`` imports one of ``elmo_lab/Y/`` (X != Y); the files at the
    package's root (``__main__.py``) and outside it are not packages."""
    def package(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if parts[0] == "elmo_lab" and len(parts) > 1 and (root / "elmo_lab" / parts[1]).is_dir() \
            else None

    out: dict[str, set[str]] = {}
    for importer, imported in graph.items():
        a = package(importer)
        if a is not None:
            out.setdefault(a, set()).update(b for b in map(package, imported) if b is not None and b != a)
    return out


def test_no_cycle_between_files() -> None:
    graph = import_graph()
    assert len(graph) > 100 and graph["elmo_lab.report.render"]  # the walk read the tree
    assert strongly_connected(graph) == []


def test_no_cycle_between_packages_of_elmo_lab() -> None:
    packages = package_graph(import_graph())
    assert {"report", "training", "lm", "data", "run"} <= set(packages)
    assert strongly_connected(packages) == []


def test_the_walk_sees_function_level_and_relative_imports_and_finds_cycles(tmp_path: Path) -> None:
    (tmp_path / "elmo_lab" / "a").mkdir(parents=True)
    (tmp_path / "tasks").mkdir()
    for name in ("train.py", "pretrain.py", "elmo_lab/__init__.py", "elmo_lab/a/__init__.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "elmo_lab" / "a" / "one.py").write_text("def f():\n    from elmo_lab.a.two import g\n")
    (tmp_path / "elmo_lab" / "a" / "two.py").write_text("from . import one\n")
    files = module_files(tmp_path)
    graph = {m: imported_modules(m, p, set(files)) for m, p in files.items()}
    assert graph["elmo_lab.a.one"] == {"elmo_lab.a.two"} and "elmo_lab.a.one" in graph["elmo_lab.a.two"]
    assert strongly_connected(graph) == [["elmo_lab.a.one", "elmo_lab.a.two"]]
    assert strongly_connected({"x": {"y"}, "y": {"z"}, "z": set()}) == []
