"""A screen reader's view of the app, shared by the test from source (tests/e2e/test_accessibility.py) and the
built app's check (packaging/test_built_app.py): the app started with its accessibility bridge on (as when a
screen reader runs) inside a private D-Bus session with an AT-SPI bus, its tree read with pyatspi
(tests/e2e/atspi_reader.py), and every main control found by its name (PITFALLS 19: at-spi2-core,
python3-pyatspi, dbus).  A bundle that drops QtDBus starts fine but is silent here."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path("/usr/libexec/at-spi-bus-launcher")
SESSION = ROOT / "tests" / "e2e" / "atspi_session.sh"
# name -> focusable (Tab reaches it)
CONTROLS = {"Performance": True, "Settings": True, "Mute microphone": True, "Send request": True,
            "Push to talk": True, "Request": True, "Search past sessions": True, "Conversation": True,
            "CodeGen runs": True, "Input level": False}
# what a desktop session sets that would point the app at another bus than the private one
SESSION_VARIABLES = ("QT_QPA_PLATFORM", "GEMINI_API_KEY", "DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS")


def skip_without_reader() -> None:
    if shutil.which("dbus-run-session") is None or not LAUNCHER.exists():
        pytest.skip("no AT-SPI reader: dbus-run-session or at-spi2-core is not installed "
                    "(packaging/system-deps.sh installs them)")
    probe = subprocess.run(["/usr/bin/python3", "-c", "import pyatspi"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no AT-SPI reader: python3-pyatspi is not installed (packaging/system-deps.sh installs it)")


def read_tree(app: Sequence[str], app_name: str, env: dict[str, str], out: Path, cwd: Path) -> dict:
    """Run ``app`` (its command line) under the reader; the tree it read (the app's nodes), or fail."""
    env = {k: v for k, v in env.items() if k not in SESSION_VARIABLES}
    done = subprocess.run(["dbus-run-session", "--", "bash", str(SESSION), app_name, str(out), *app], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=120)
    tree = json.loads(out.read_text() or "{}") if out.exists() else {}
    assert done.returncode == 0 and tree.get("app") == app_name, (done.stderr[-2000:], tree)
    return tree


def assert_every_control_is_named(tree: dict) -> None:
    by_name: dict[str, list[dict]] = {}
    for node in tree["nodes"]:
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
