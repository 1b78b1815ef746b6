"""The layers import in one direction (docs/architecture.md, "Layers"): audio <- desktop <- ui, nothing ships
that imports the developer tools, and no module of the product or the developer tools imports itself back
through others (no import cycle).  Every import statement counts, also the lazy ones inside functions and the
type-checking-only ones."""

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


PACKAGES = ("audio", "desktop", "ui", "devtools")  # the product, and the developer tools beside it


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules of ``PACKAGES`` it imports (``from a.b import c`` counts as a.b, and as a.b.c if that is
    a module)."""
    paths = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found = set()
        for _where, module in imports(path):
            for candidate in (module, module.rpartition(".")[0]):
                if candidate in paths and candidate != name:
                    found.add(candidate)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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
                    out.append(sorted(component))
    return out


def test_no_import_cycle_in_the_product_or_the_developer_tools():
    assert cycles(module_graph()) == []


def test_the_cycle_check_finds_a_cycle_through_a_lazy_or_type_checking_import(tmp_path):
    pkg = tmp_path / "desktop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from desktop.b import x\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from desktop.c import y\n")
    (pkg / "c.py").write_text("def f():\n    import desktop.a\n")
    (pkg / "d.py").write_text("from desktop import a\n")
    assert cycles(module_graph(tmp_path)) == [["desktop.a", "desktop.b", "desktop.c"]]


def test_the_checker_sees_lazy_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from desktop.events import ErrorEvent\n")
    assert ("f", "desktop.events.ErrorEvent") in imports(src)


def hand_built_engines(root: Path = ROOT) -> list[str]:
    """Lines of the developer tools that build a ``SessionEngine`` themselves instead of opening the session
    through the composition root (``desktop.session.open_session``)."""
    return [f"{path.relative_to(root)}:{n}" for path in sorted((root / "devtools").rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "SessionEngine(" in line]


def test_the_bench_and_the_load_test_open_sessions_through_the_composition_root():
    # a change to open_session reaches the figures in docs/ only if the bench and the load test run it
    assert hand_built_engines() == []


def test_the_composition_root_check_finds_a_hand_built_engine(tmp_path):
    (tmp_path / "devtools").mkdir()
    (tmp_path / "devtools" / "bench.py").write_text("x = 1\nengine = SessionEngine(live)\n")
    assert hand_built_engines(tmp_path) == ["devtools/bench.py:2"]


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for child in graph[todo.pop()] - seen:
            seen.add(child)
            todo.append(child)
    return seen


def test_the_live_core_depends_on_nothing_of_the_app_around_it():
    """The sans-I/O Live core (``desktop.live.session``) owns the turn and has its own event types: nothing it
    imports, directly or through others, is the engine's event vocabulary (``desktop.events``), the transport,
    the engine or the window."""
    used = reachable(module_graph(), "desktop.live.session")
    around = {"desktop.events", "desktop.live.client", "desktop.engine", "desktop.session"}
    assert not used & around and not [m for m in used if m.split(".")[0] in ("ui", "devtools")], sorted(used)
