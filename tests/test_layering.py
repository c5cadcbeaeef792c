"""The core never imports the task modules: ``elmo_lab`` works for any task that ``task.module`` names, so adding
a task never touches it."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "elmo_lab"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_core_module_imports_tasks() -> None:
    offenders = sorted(f"{p.relative_to(PACKAGE.parent)}: {name}" for p in PACKAGE.rglob("*.py")
                       for name in _imports(p) if name == "tasks" or name.startswith("tasks."))
    assert offenders == []
    assert len(list(PACKAGE.rglob("*.py"))) > 30  # the walk really read the package


TASKS = PACKAGE.parent / "tasks"


def test_no_task_module_imports_another_task() -> None:
    """What two tasks share is library code (``elmo_lab``), so a task can be read, copied or removed alone."""
    offenders = sorted(f"{p.name}: {name}" for p in TASKS.glob("*.py")
                       for name in _imports(p) if name == "tasks" or name.startswith("tasks."))
    assert offenders == []


def _builtin_task_names() -> set[str]:
    """The names of the built-in tasks (``name:`` of ``conf/task/*.yaml``), read as plain yaml."""
    from omegaconf import OmegaConf

    names = {OmegaConf.load(p).get("name") for p in (PACKAGE.parent / "conf" / "task").glob("*.yaml")}
    return {n for n in names if isinstance(n, str) and n != "???"}


def task_name_uses(source: str, names: set[str]) -> list[int]:
    """Lines of ``source`` that name a task of ``names`` beyond an import: a task module path (``"tasks.ner"``), a
    comparison of something called ``task`` with such a name, or a collection of them assigned to a ``*TASK*``
    name (dataset names in readers and ``fetch`` are datasets, not tasks, and are not counted)."""
    tree = ast.parse(source)

    def strings(node: ast.AST) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    def mentions_task(node: ast.AST) -> bool:
        return any("task" in (n.id if isinstance(n, ast.Name) else n.attr).lower()
                   for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute)))

    lines = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and n.value.startswith("tasks.")]
    lines += [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Compare) and mentions_task(n)
              and strings(n) & names]
    lines += [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assign) and strings(n.value) & names
              and any(isinstance(t, ast.Name) and "TASK" in t.id for t in n.targets)]
    return sorted(lines)


def test_the_core_names_no_builtin_task() -> None:
    """Paper rows, metric units, schemas: what a built-in task is, the task says (``Task``, its schema module); the
    core keeps no table of task names (the paper's data file may, for results written before tasks declared it)."""
    names = _builtin_task_names()
    assert {"mr", "conll2003", "squad", "probe"} <= names
    offenders = sorted(f"{p.relative_to(PACKAGE.parent)}:{line}" for p in PACKAGE.rglob("*.py")
                       for line in task_name_uses(p.read_text(encoding="utf-8"), names))
    assert offenders == []


def test_the_task_name_check_finds_what_it_looks_for() -> None:
    names = {"squad", "sst"}
    assert task_name_uses('POINTS_TASKS = frozenset({"squad"})\nif task == "sst":\n    m = "tasks.ner"\n',
                          names) == [1, 2, 3]
    assert task_name_uses('folder = cache_dir() / "squad"\nFETCH = {"sst": 1}\n', names) == []
