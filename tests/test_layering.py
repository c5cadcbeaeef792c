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
