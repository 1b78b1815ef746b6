"""The optional global push-to-talk hotkey (works while another app has focus), through pynput.

pynput's listener runs its own thread; its key events reach the Qt thread as signals, which Qt queues
because this object lives on the Qt thread.
Wayland does not let an app see keys meant for other apps, so there the hotkey is refused with a note.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


def unsupported_reason() -> str | None:
    """Why a global hotkey cannot work here, or None if it can."""
    if sys.platform.startswith("linux"):
        if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland":
            return ("Wayland does not allow apps to listen to keys pressed in other windows: the push-to-talk "
                    "key works while this window has focus (or bind a desktop shortcut to it).")
        if not os.environ.get("DISPLAY"):
            return "No X11 display: the global hotkey needs one."
    if sys.platform == "darwin":
        return None  # works after the user grants Accessibility permission (macOS asks on first use)
    return None


def pynput_key_name(qt_name: str) -> str:
    """'Space' -> 'space', 'F8' -> 'f8', 'Ctrl' -> 'ctrl' (pynput's Key member names)."""
    return qt_name.strip().lower().replace("control", "ctrl").replace("return", "enter")


class GlobalHotkey(QObject):
    pressed = Signal(float)
    released = Signal()

    def __init__(self, key_name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.key_name = pynput_key_name(key_name)
        self._listener: Any = None
        self._down = False

    def start(self) -> str | None:
        """Start listening; returns a user-facing reason when it cannot."""
        reason = unsupported_reason()
        if reason:
            return reason
        try:
            from pynput import keyboard
        except Exception as exc:  # noqa: BLE001 - pynput fails at import on unsupported backends
            return f"The global hotkey is unavailable here ({type(exc).__name__})."
        target = getattr(keyboard.Key, self.key_name, None) or keyboard.KeyCode.from_char(self.key_name[:1])

        def on_press(key: Any) -> None:
            if key == target and not self._down:
                self._down = True
                self.pressed.emit(time.perf_counter())

        def on_release(key: Any) -> None:
            if key == target and self._down:
                self._down = False
                self.released.emit()

        try:
            self._listener = keyboard.Listener(on_press=on_press, on_release=on_release)
            self._listener.start()
        except Exception as exc:  # noqa: BLE001
            self._listener = None
            return f"The global hotkey could not start ({type(exc).__name__})."
        return None

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
