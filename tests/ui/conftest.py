"""Real widgets offscreen, a real engine thread on the local emulators, a test keyring in memory."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from desktop.config import Settings
from ui import theme
from ui.bridge import EngineBridge
from ui.earcons import Earcons
from ui.main_window import MainWindow, effective_settings

ROOT = Path(__file__).resolve().parents[2]


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in memory for one test (the OS keyring is never touched)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture
def shots() -> Path:
    """Where the screenshots of the main states go (docs/screenshots/ unless overridden)."""
    out = Path(os.environ.get("GEMINI_CODEGEN_SCREENSHOTS") or ROOT / "docs" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_shot(widget, path: Path) -> None:
    from PySide6.QtGui import QImage

    widget.grab().save(str(path))
    img = QImage(str(path))
    assert img.width() >= 600 and img.height() >= 400, (path, img.size())
    bg = img.pixelColor(2, 2)  # not a blank frame: some pixels differ from the background
    assert any(img.pixelColor(x, y) != bg for x in range(0, img.width(), 37) for y in range(0, img.height(), 29))


@pytest.fixture
def themed_app(qapp):
    theme.apply(qapp, dark=True)
    return qapp


class RecordingSink:
    def __init__(self) -> None:
        self.played: list[int] = []

    def __call__(self, samples, rate: int) -> None:
        self.played.append(len(samples))


def make_window(qtbot, settings: Settings | None = None, *, start: bool = True) -> MainWindow:
    settings = settings or Settings()
    bridge = EngineBridge(use_audio_devices=False)
    win = MainWindow(settings, bridge, earcons=Earcons(RecordingSink()))
    qtbot.addWidget(win)
    win.resize(1120, 760)
    win.show()
    qtbot.waitExposed(win)
    if start:
        bridge.start(effective_settings(settings))
        qtbot.waitUntil(lambda: win.state == "ready" and bridge.engine is not None, timeout=15_000)
    return win


@pytest.fixture
def window(qtbot, themed_app, memory_keyring):
    win = make_window(qtbot)
    yield win
    win.quit()


def refresh_portaudio() -> None:
    """PortAudio lists devices once, at initialisation: an earlier test (the settings dialog's device
    pickers) may have initialised it before this PulseAudio server existed.  sounddevice's documented way
    to refresh the list is to terminate and initialise again."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


def open_audio_window(qtbot, settings: Settings | None = None) -> MainWindow:
    """The window on the real audio devices (PortAudio's device list refreshed first), its session started;
    the caller quits it."""
    refresh_portaudio()
    settings = settings or Settings(offline=True)
    bridge = EngineBridge(use_audio_devices=True)
    win = MainWindow(settings, bridge, earcons=Earcons(None))
    qtbot.addWidget(win)
    win.show()
    bridge.start(settings)
    return win


def audio_ready(win: MainWindow) -> bool:
    """Ready to talk, with the microphone open or its absence said."""
    bridge = win.bridge
    return (win.state == "ready" and bridge.engine is not None
            and (bridge.mic is not None or "error:no_microphone" in win.messages.messages))
