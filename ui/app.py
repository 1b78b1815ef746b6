"""Start the window: ``main(settings) -> int`` (called by ``gemini-codegen`` without a subcommand)."""

from __future__ import annotations

import os
import sys

from desktop.config import APP_NAME, Settings


def display_problem() -> str | None:
    """A one-line reason the window cannot open here, or None."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return None
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("no display available to open the window: use a subcommand (e.g. `gemini-codegen --offline run "
                "--wav FILE`), or set QT_QPA_PLATFORM=offscreen to run the window without a screen")
    return None


def main(settings: Settings, argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from ui import theme
    from ui.bridge import EngineBridge
    from ui.earcons import Earcons, sounddevice_sink
    from ui.main_window import MainWindow, effective_settings

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Gemini CodeGen")
    app.setDesktopFileName(APP_NAME)
    app.setQuitOnLastWindowClosed(True)
    theme.apply(app)
    bridge = EngineBridge()
    earcons = Earcons(sounddevice_sink(settings.output_device))
    window = MainWindow(settings, bridge, earcons=earcons)
    window.show()
    bridge.start(effective_settings(settings))
    try:
        return int(app.exec())
    finally:
        bridge.stop()
