"""Driving the real window like a person: focus it, hold a key, speak into the virtual microphone, read it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from desktop.config import Settings
from tests.audio.conftest import PulseServer
from tests.e2e.conftest import FIXTURES, XServer
from ui.main_window import MainWindow


class Person:
    """What a person does at the window: keys through XTEST, a mouse, a voice into the microphone."""

    def __init__(self, qtbot, x: XServer, pulse: PulseServer, win: MainWindow):
        self.qtbot, self.x, self.pulse, self.win = qtbot, x, pulse, win

    def focus(self) -> None:
        wid = str(int(self.win.winId()))
        self.x.xdotool("windowactivate", "--sync", wid)
        self.qtbot.waitUntil(self.win.isActiveWindow, timeout=5000)

    def key_down(self, key: str = "space") -> None:
        self.x.xdotool("keydown", key)

    def key_up(self, key: str = "space") -> None:
        self.x.xdotool("keyup", key)

    def type(self, text: str) -> None:
        self.x.xdotool("type", "--delay", "20", text)

    def click(self, widget) -> None:
        """A real mouse click in the middle of ``widget``."""
        centre = widget.mapToGlobal(widget.rect().center())
        self.x.xdotool("mousemove", str(centre.x()), str(centre.y()))  # (--sync hangs when already there)
        self.qtbot.waitUntil(widget.underMouse, timeout=3000)  # the pointer is there as Qt sees it
        self.x.xdotool("click", "1")

    def say(self, wav: str | Path, *, timeout_ms: int = 20_000) -> None:
        """Play a fixture into the microphone and wait until it has been played."""
        path = Path(wav) if Path(wav).is_absolute() else FIXTURES / wav
        proc = self.pulse.play(path)
        try:
            self.qtbot.waitUntil(lambda: proc.poll() is not None, timeout=timeout_ms)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
            if proc.stderr:
                proc.stderr.close()
        assert proc.returncode == 0, f"paplay failed for {path}"

    def hold_and_say(self, wav: str | Path, key: str = "space", after_ms: int = 350,
                     while_held: Callable[[], None] | None = None) -> None:
        """Hold ``key``, speak, keep holding a moment (the last words reach the capture), let go."""
        self.key_down(key)
        try:
            self.qtbot.waitUntil(lambda: self.win.listening, timeout=3000)
            self.qtbot.wait(150)  # auto-repeat starts 500 ms after the press: speaking spans it
            self.say(wav)
            if while_held is not None:
                while_held()
            self.qtbot.wait(after_ms)
        finally:
            self.key_up(key)

    def shot(self, name: str, window=None) -> None:
        """A screenshot of the real X window (or dialog) into $GEMINI_CODEGEN_SCREENSHOTS (docs/screenshots
        with `make screenshots`), when set."""
        out = os.environ.get("GEMINI_CODEGEN_SCREENSHOTS")
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            wid = int((window or self.win).winId())
            self.x.run("import", "-window", str(wid), str(Path(out) / name))


def user_texts(win: MainWindow) -> list[str]:
    return [b.body.text() for (_turn, role), b in sorted(win.conversation.bubbles.items()) if role == "user"]


def assistant_texts(win: MainWindow) -> list[str]:
    return [b.body.text() for (_turn, role), b in sorted(win.conversation.bubbles.items()) if role == "assistant"]


def open_app(settings: Settings | None = None) -> MainWindow:
    from ui.app import open_window

    _app, win = open_window(settings or Settings(offline=True))
    return win


def close_app(win: MainWindow) -> None:
    win.quit()


def ready(win: MainWindow) -> bool:
    b = win.bridge
    return win.state == "ready" and b.engine is not None and b.mic is not None and b.store is not None


def sox_speech(text: str, out: Path, *, speed: int = 165) -> Path:
    """A spoken phrase as a 16 kHz mono WAV with silence around it, made like tests/fixtures (espeak-ng + sox)."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(speed), "-w", str(raw), text], check=True, timeout=30)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), "pad", "0.4", "0.6"],
                   check=True, timeout=30)
    raw.unlink()
    return out
