"""Starting the window: a clear line without a display, no Qt in the headless commands, offline by default
without keys, and the PySide6 6.12 / Python 3.11 reference-count guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop.config import Settings
from ui.main_window import effective_settings

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_no_display_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["GEMINI_CODEGEN_CONFIG_DIR"] = str(tmp_path)
    r = subprocess.run([sys.executable, "-m", "desktop", "--offline"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "QT_QPA_PLATFORM=offscreen" in lines[0]
    assert "Traceback" not in r.stderr


def test_headless_commands_never_import_qt():
    code = ("import sys, desktop.cli, desktop.session, desktop.simulated_user, ui.app\n"
            "desktop.cli.build_parser()\n"
            "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'\n")
    r = _run(code, dict(os.environ))
    assert r.returncode == 0, r.stderr


def test_first_run_without_keys_is_the_offline_demo():
    assert effective_settings(Settings()).offline
    assert not effective_settings(Settings(gemini_api_key="k")).offline
    assert effective_settings(Settings(gemini_api_key="k", offline=True)).offline


def test_void_qt_calls_do_not_exhaust_none(qapp):
    """Thousands of void Qt calls must not leak references to None (PySide6 6.12.0 on Python 3.11 does, and the
    interpreter aborts: pyproject.toml pins below it)."""
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for i in range(20_000):
        label.setText(str(i & 7))
    assert sys.getrefcount(None) >= before - 100  # a leak would show as about -20,000


def test_missing_x11_libraries_are_named_instead_of_a_qt_abort(monkeypatch):
    import ctypes.util

    from ui import app

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None if name == "xcb-icccm" else f"lib{name}.so")
    msg = app.display_problem()
    assert msg is not None and "apt-get install libxcb-icccm4 " in msg and "QT_QPA_PLATFORM=offscreen" in msg
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: f"lib{name}.so")
    assert app.display_problem() is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert app.display_problem() is None


def test_global_hotkey_is_refused_with_a_note_on_wayland(monkeypatch):
    from ui import hotkey

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    reason = hotkey.unsupported_reason()
    assert reason is not None and "Wayland" in reason
    assert hotkey.GlobalHotkey("Space").start() == reason
    assert hotkey.pynput_key_name("Space") == "space" and hotkey.pynput_key_name("F8") == "f8"


def test_modules_imported_after_qt_leave_no_source_in_memory(tmp_path):
    """PySide6's import hook asks of every later import whether it names PySide6; answered from the file's
    bytes, the sources are no longer kept in linecache (about 15 MB of the window's heap), and the answer is
    the same as PySide's own."""
    (tmp_path / "plain_mod.py").write_text("X = 1\n")
    (tmp_path / "qt_mod.py").write_text("from PySide6 import QtCore\n")
    code = f"""
import json, linecache, sys
sys.path.insert(0, {str(tmp_path)!r})
from ui.app import application
application()
import plain_mod, qt_mod
from shibokensupport import feature
print(json.dumps({{"kept": [m.__file__ for m in (plain_mod, qt_mod) if m.__file__ in linecache.cache],
                   "uses": [feature.pyside_feature_dict.get(n) for n in ("plain_mod", "qt_mod")]}}))
"""
    r = _run(code, {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-800:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"kept": [], "uses": [-1, 0]}  # nothing kept; only the module naming PySide6 is PySide's
