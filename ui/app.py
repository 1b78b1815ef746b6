"""Start the window: ``main(settings) -> int`` (called by ``gemini-codegen`` without a subcommand)."""

from __future__ import annotations

import ctypes.util
import os
import sys

from desktop.config import APP_NAME, Settings

# What Qt's X11 platform plugin links against beyond libxcb itself: library name -> Debian package.
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                 "xkbcommon-x11": "libxkbcommon-x11-0", "xcb-render-util": "libxcb-render-util0",
                 "xcb-image": "libxcb-image0", "xcb-randr": "libxcb-randr0", "xcb-shape": "libxcb-shape0",
                 "xcb-xkb": "libxcb-xkb1"}


def display_problem() -> str | None:
    """A one-line reason the window cannot open here, or None."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return None
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("no display available to open the window: use a subcommand (e.g. `gemini-codegen --offline run "
                "--wav FILE`), or set QT_QPA_PLATFORM=offscreen to run the window without a screen")
    if not os.environ.get("WAYLAND_DISPLAY"):
        missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
        if missing:  # Qt's X11 plugin would abort the process without them
            return (f"the X11 window needs system libraries that are missing: sudo apt-get install {' '.join(missing)}"
                    " (or set QT_QPA_PLATFORM=offscreen to run the window without a screen)")
    return None


def open_window(settings: Settings, argv: list[str] | None = None):
    """The application, its engine bridge and the main window, shown and started (what a launch does)."""
    from PySide6.QtWidgets import QApplication

    from ui import theme
    from ui.bridge import EngineBridge
    from ui.earcons import Earcons, sounddevice_sink
    from ui.main_window import MainWindow, effective_settings

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
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
    return app, window


def main(settings: Settings, argv: list[str] | None = None, exit_after_ms: int | None = None) -> int:
    """Run the window.  ``exit_after_ms`` (smoke tests): report when the window is shown, quit after N ms."""
    from PySide6.QtCore import QTimer

    app, window = open_window(settings, argv)
    if exit_after_ms is not None:
        QTimer.singleShot(0, lambda: print(f"window shown {_ms_since_launch():.0f} ms after launch", flush=True))
        QTimer.singleShot(exit_after_ms, app.quit)
    try:
        return int(app.exec())
    finally:
        window.bridge.stop()


def _ms_since_launch() -> float:
    import time

    import psutil

    return (time.time() - psutil.Process().create_time()) * 1e3
