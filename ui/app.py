"""Start the window: ``main(settings) -> int`` (called by ``gemini-codegen`` without a subcommand).

First paint comes first.  The launch frame (``ui.first_frame``, painted by ``desktop.launch`` before the
command line is even imported) shows the window's outline with the state pill saying "Starting…"; the
window is built in its place from the settings of the file, the environment and the flags.  Only once the
window has painted does the engine thread start: behind the window it reads the keys from the OS keyring,
imports the engine, the stand-ins and the audio stack, and opens the session and the devices (the pill
follows: Connecting…, Ready).  The start/stop sounds are loaded once the session is up.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from desktop import APP_NAME

if TYPE_CHECKING:  # Qt is imported only when the window opens (the headless commands never load it)
    from PySide6.QtCore import QSocketNotifier
    from PySide6.QtWidgets import QApplication, QWidget

    from desktop.config import Settings
    from desktop.shutdown import SignalPipe
    from ui.main_window import MainWindow

# What Qt's X11 platform plugin links against beyond libxcb itself: library name -> Debian package.
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                 "xkbcommon-x11": "libxkbcommon-x11-0", "xcb-render-util": "libxcb-render-util0",
                 "xcb-image": "libxcb-image0", "xcb-randr": "libxcb-randr0", "xcb-shape": "libxcb-shape0",
                 "xcb-xkb": "libxcb-xkb1"}
STARTING = "Loading the engine, the audio devices and the session behind the window…"


def display_problem() -> str | None:
    """A one-line reason the window cannot open here, or None."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return None
    launch = sys.modules.get("ui.first_frame")  # imported only once a launch frame was painted
    if launch is not None and launch.launch_frame() is not None:
        return None  # the launch frame is on screen: this display works (and was checked before it)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("no display available to open the window: use a subcommand (e.g. `gemini-codegen --offline run "
                "--wav FILE`), or set QT_QPA_PLATFORM=offscreen to run the window without a screen")
    if not os.environ.get("WAYLAND_DISPLAY"):
        import ctypes.util  # (runs ldconfig: only for a real X11 launch)

        missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
        if missing:  # Qt's X11 plugin would abort the process without them
            return (f"the X11 window needs system libraries that are missing: sudo apt-get install {' '.join(missing)}"
                    " (or set QT_QPA_PLATFORM=offscreen to run the window without a screen)")
    return None


def light_import_scan() -> bool:
    """PySide6's import hook (shiboken's ``feature_imported``) reads the source of every module imported after
    it, through ``inspect.getsource``, to see whether it names PySide6 (and may switch its ``__feature__``
    options); linecache then keeps every line of every such file for the life of the process: about 330 files
    and 15 MB of the window's Python heap, for text nobody reads again.  Here the same question is answered
    from the file's bytes, kept nowhere.  False (nothing changed) where the hook is not shaped as expected."""
    try:
        from shibokensupport import feature  # type: ignore[import-not-found]  # shiboken6's, once PySide6 is
    except ImportError:
        return False
    if not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False

    def names_pyside(module: object) -> bool:
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if not isinstance(origin, str) or not origin.endswith(".py"):
            return False  # built in, compiled or frozen (the packaged app): no source to use PySide's features
        try:
            with open(origin, "rb") as f:
                return b"PySide6" in f.read()
        except OSError:
            return False

    feature._mod_uses_pyside = names_pyside
    return True


def application(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (made once), named for the desktop."""
    from PySide6.QtWidgets import QApplication

    light_import_scan()

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Gemini CodeGen")
    app.setDesktopFileName(APP_NAME)
    app.setQuitOnLastWindowClosed(True)
    return app


def open_window(settings: Settings, argv: list[str] | None = None, *,
                in_place_of: QWidget | None = None) -> tuple[QApplication, MainWindow]:
    """The application and its main window, shown; the engine starts behind the window's first frame.
    ``settings`` may lack the keyring's secrets: the engine thread reads them.  ``in_place_of``: a window
    (the launch frame) this one takes the place and size of, and closes."""
    from ui import theme
    from ui.bridge import EngineBridge
    from ui.first_frame import FirstFrame
    from ui.main_window import MainWindow

    app = application(argv)
    theme.apply(app)
    bridge = EngineBridge()
    window = MainWindow(settings, bridge)
    window.indicator.show_starting(STARTING)

    def adopt(loaded: Settings) -> None:
        if window.settings == settings:  # unchanged meanwhile: keep the keys the keyring had
            window.settings = loaded

    def start() -> None:
        if window.isVisible():  # not closed before its first frame
            bridge.settings_loaded.connect(adopt)
            bridge.session_started.connect(lambda _offline: _load_earcons(window))
            bridge.start(settings, load_secrets=True)

    FirstFrame(window.root, start)
    if in_place_of is not None:
        window.setGeometry(in_place_of.geometry())
    window.show()
    if in_place_of is not None:
        in_place_of.close()
        in_place_of.deleteLater()
    return app, window


def _load_earcons(window: MainWindow) -> None:
    """The start/stop sounds, once the session (and with it numpy and PortAudio) has loaded."""
    if window.earcons is None:
        from ui.earcons import Earcons, sounddevice_sink

        window.earcons = Earcons(sounddevice_sink(window.settings.output_device))


def main(settings: Settings, argv: list[str] | None = None, exit_after_ms: int | None = None) -> int:
    """Run the window, in the place of the launch frame when one is on screen.  ``exit_after_ms`` (smoke
    tests): quit N ms after the window opened (the first frame was reported by the launch frame, or is
    reported here when there was none)."""
    from PySide6.QtCore import QTimer

    from ui.first_frame import FirstFrame, report_shown, take_launch_frame

    frame = take_launch_frame()
    app, window = open_window(settings, argv, in_place_of=frame)
    if exit_after_ms is not None:
        if frame is None:
            FirstFrame(window.root, report_shown)
        QTimer.singleShot(exit_after_ms, app.quit)
    signals, notifier = quit_on_signals(app, window)
    try:
        code = int(app.exec())
        return signals.stop.exit_code or code
    finally:
        notifier.setEnabled(False)
        signals.close()
        window.bridge.stop()


def quit_on_signals(app: QApplication, window: MainWindow) -> tuple[SignalPipe, QSocketNotifier]:
    """SIGINT (Ctrl+C in the terminal), SIGTERM and SIGHUP close the window as its Quit does (the turn in
    flight saved marked interrupted, the session closed); ``main`` then exits 130, 143 or 129.  The signal
    wakes the Qt loop through a socket (``desktop.shutdown.SignalPipe``): nothing polls while the app idles."""
    from PySide6.QtCore import QSocketNotifier

    from desktop.shutdown import SignalPipe

    def on_signal(_signum: int) -> None:
        window.quit()  # the normal close path: the engine stops, the history is flushed
        app.quit()  # (also when the window was already hidden in the tray)

    pipe = SignalPipe(on_signal)
    notifier = QSocketNotifier(pipe.fileno(), QSocketNotifier.Type.Read, app)
    notifier.activated.connect(lambda *_: pipe.take())
    return pipe, notifier
