"""A screen reader's view of the window: the app started with its accessibility bridge on (as when a screen
reader runs), read over AT-SPI in a private D-Bus session, and every control found by its name, with a
description, focusable where Tab reaches it (PITFALLS 19: at-spi2-core, python3-pyatspi, dbus)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import APP_NAME

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path("/usr/libexec/at-spi-bus-launcher")
# name -> focusable (Tab reaches it)
CONTROLS = {"Performance": True, "Settings": True, "Mute microphone": True, "Send request": True,
            "Push to talk": True, "Request": True, "Search past sessions": True, "Conversation": True,
            "CodeGen runs": True, "Input level": False}


def have_reader() -> str:
    if shutil.which("dbus-run-session") is None or not LAUNCHER.exists():
        return "dbus-run-session or at-spi2-core is not installed"
    probe = subprocess.run(["/usr/bin/python3", "-c", "import pyatspi"], capture_output=True)
    return "" if probe.returncode == 0 else "python3-pyatspi is not installed"


def test_every_control_is_found_by_name_over_atspi(xserver, speakers, tmp_path):
    missing = have_reader()
    if missing:
        pytest.skip(f"no AT-SPI reader: {missing} (packaging/system-deps.sh installs it)")
    out = tmp_path / "tree.json"
    env = {**xserver.env, **speakers.env, "DISPLAY": xserver.display, "PYTHONPATH": str(ROOT),
           "GEMINI_CODEGEN_CONFIG_DIR": str(tmp_path / "config"), "GEMINI_CODEGEN_DATA_DIR": str(tmp_path / "data")}
    for name in ("QT_QPA_PLATFORM", "GEMINI_API_KEY", "DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS"):
        env.pop(name, None)
    done = subprocess.run(["dbus-run-session", "--", "bash", str(ROOT / "tests" / "e2e" / "atspi_session.sh"),
                           sys.executable, APP_NAME, str(out)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    tree = json.loads(out.read_text() or "{}") if out.exists() else {}
    assert done.returncode == 0 and tree.get("app") == APP_NAME, (done.stderr[-2000:], tree)
    nodes = tree["nodes"]
    by_name: dict[str, list[dict]] = {}
    for node in nodes:
        by_name.setdefault(node["name"], []).append(node)
    for name, focusable in CONTROLS.items():
        found = by_name.get(name)
        assert found, (name, sorted(by_name))
        node = found[0]
        assert node["description"], node
        assert "showing" in node["states"], node
        if focusable:
            assert "focusable" in node["states"], node
    assert any(n.startswith("State: ") for n in by_name)  # the state pill says the state
    assert by_name["Push to talk"][0]["role"] == "push button"
    assert by_name["Mute microphone"][0]["role"] in ("toggle button", "check box", "push button")  # checkable
    assert os.environ.get("QT_LINUX_ACCESSIBILITY_ALWAYS_ON") is None  # only the app's own process had it
