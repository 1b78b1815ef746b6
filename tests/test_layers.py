"""The layers import in one direction (DESIGN.md rule 1): audio <- desktop <- ui, and nothing ships that
imports the developer tools.  Every import statement counts, also the lazy ones inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level modules it must never import
FORBIDDEN = {
    "audio": ("desktop", "ui", "devtools", "PySide6"),
    "desktop": ("ui", "devtools", "PySide6"),
    "ui": ("devtools",),
}
# the only allowed crossings, each lazy and in one named function: (file, function, imported module)
ALLOWED = {
    ("desktop/cli.py", "open_window", "ui.app"),
    ("desktop/launch.py", "main", "ui.app"),  # the window's first frame, before the command line loads
    ("desktop/launch.py", "main", "ui.first_frame"),
    ("desktop/cli.py", "build_parser", "devtools.cli"),
}


def imports(path: Path) -> list[tuple[str, str]]:
    """(enclosing function or '<module>', imported module) for every import in ``path``."""
    out: list[tuple[str, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Import):
                out.extend((where, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                out.extend((where, f"{child.module}.{alias.name}") for alias in child.names)
            visit(child, where)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return out


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for where, module in imports(path):
            top = module.split(".")[0]
            if top not in FORBIDDEN[package]:
                continue
            if any(rel == f and where == fn and module.startswith(m) for f, fn, m in ALLOWED):
                continue
            bad.append(f"{rel}: {where} imports {module}")
    return bad


def test_audio_is_a_library_that_imports_nothing_of_the_app():
    assert violations("audio") == []


def test_the_engine_never_imports_qt_or_the_window_outside_the_one_gui_entry_point():
    assert violations("desktop") == []


def test_the_window_never_imports_the_developer_tools():
    assert violations("ui") == []


def test_the_checker_sees_lazy_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from desktop.events import ErrorEvent\n")
    assert ("f", "desktop.events.ErrorEvent") in imports(src)
