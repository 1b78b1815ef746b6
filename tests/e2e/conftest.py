"""The window as a person meets it: a real X server, a window manager, real key events, a real microphone.

Session set-up (this package runs in its own pytest process: one Qt platform per process, see
``tests/conftest.py``):
- ``Xvfb`` on a free display (``-displayfd``), ``-noreset`` so it keeps the keyboard settings, key
  auto-repeat on at a desktop's usual rate (``xset r on; xset r rate 500 30``), and ``fluxbox`` for focus
  and a system tray;
- a private PulseAudio server with a virtual microphone sink (``vmic``, fixtures are played into it) and a
  separate speaker sink (``vspk``), so the app never hears its own replies;
- Qt on the ``xcb`` platform, the window opened by ``ui.app.open_window`` exactly as a launch does.
Key and mouse events go through the X server's XTEST extension (``xdotool`` without ``--window``), so they
reach the window the way a keyboard's do.  A failing test leaves a screenshot of the whole screen in
``build/e2e-failures/`` (or ``$GEMINI_CODEGEN_E2E_SHOTS``).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.audio.conftest import PulseServer, running_pulse, stop_process

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
TOOLS = ("Xvfb", "xdotool", "xset", "xprop", "fluxbox")


@dataclass
class XServer:
    display: str
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> str:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=15,
                              check=check).stdout.strip()

    def xdotool(self, *args: str) -> str:
        return self.run("xdotool", *args)

    def screenshot(self, path: Path) -> bool:
        if shutil.which("import") is None:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        return subprocess.run(["import", "-window", "root", str(path)], env=self.env, capture_output=True,
                              timeout=30).returncode == 0


@contextlib.contextmanager
def x_server() -> Iterator[XServer]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"no real X server for the window tests: {', '.join(missing)} not installed "
                    "(packaging/system-deps.sh installs them)")
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1440x900x24", "-noreset",
                             "-nolisten", "tcp"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 15
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], 0.5)
        if ready:
            chunk = os.read(read_fd, 16)
            if not chunk:
                break
            number += chunk
    os.close(read_fd)
    if not number.strip():
        stop_process(xvfb)
        pytest.fail("Xvfb did not report a display within 15 s")
    home = Path(tempfile.mkdtemp(prefix="gcd-x-"))
    env = {**os.environ, "DISPLAY": f":{number.decode().strip()}", "HOME": str(home)}
    server = XServer(env["DISPLAY"], env)
    wm = None
    try:
        server.run("xset", "r", "on")
        server.run("xset", "r", "rate", "500", "30")
        rc = home / ".fluxbox"
        rc.mkdir()
        (rc / "overlay").write_text("background: none\n")  # no wallpaper helper, no warning dialog
        (rc / "init").write_text(f"session.styleOverlay: {rc / 'overlay'}\nsession.screen0.rootCommand:\n")
        wm = subprocess.Popen(["fluxbox", "-rc", str(rc / "init")], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        wait_for(lambda: "_NET_SUPPORTING_WM_CHECK(WINDOW)" in server.run(
            "xprop", "-root", "_NET_SUPPORTING_WM_CHECK", check=False), 15, "fluxbox to start")
        yield server
    finally:
        if wm is not None:
            stop_process(wm)
        stop_process(xvfb)
        shutil.rmtree(home, ignore_errors=True)


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``cond`` (outside Qt: a subprocess-level condition) until true or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="session")
def xserver() -> Iterator[XServer]:
    with x_server() as server:
        yield server


@pytest.fixture(scope="session")
def speakers() -> Iterator[PulseServer]:
    with running_pulse(speaker=True) as server:
        yield server


@pytest.fixture(scope="session")
def qapp(xserver, speakers):
    """The one QApplication of this process, on the real X server (overrides pytest-qt's)."""
    os.environ["DISPLAY"] = xserver.display
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    import sounddevice as sd

    sd._terminate()  # PortAudio lists devices once: list them again now that the virtual sinks exist
    sd._initialize()
    from PySide6.QtWidgets import QApplication

    import ui  # noqa: F401 - the PySide6 guard

    app = QApplication.instance() or QApplication(["gemini-codegen-e2e"])
    assert app.platformName() == "xcb", app.platformName()
    yield app


def shots_dir() -> Path:
    return Path(os.environ.get("GEMINI_CODEGEN_E2E_SHOTS") or ROOT / "build" / "e2e-failures")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        server = item.funcargs.get("xserver")
        if isinstance(server, XServer):
            path = shots_dir() / f"{item.name}.png"
            if server.screenshot(path):
                report.sections.append(("screenshot", str(path)))
    return report


@pytest.fixture
def person(qtbot, xserver, speakers, monkeypatch):
    """``person(settings=None)`` opens the app (as a launch does), waits until it is ready to talk, and
    gives its window to a ``Person``; every window opened is closed at the end."""
    from desktop import session as desktop_session
    from tests.e2e.window import Person, close_app, open_app, ready

    monkeypatch.setattr(desktop_session, "OFFLINE_STEP_S", 0.8)  # the demo's runs finish in about 4 s
    opened = []

    def open_person(settings=None) -> Person:
        win = open_app(settings)
        opened.append(win)
        qtbot.waitUntil(lambda: ready(win), timeout=20_000)
        p = Person(qtbot, xserver, speakers, win)
        p.focus()
        return p

    yield open_person
    for win in opened:
        close_app(win)
