"""The one QApplication, the window's title and first size: a leaf both the launch frame (``ui.first_frame``)
and the window (``ui.app``, ``ui.main_window``) import, so neither imports the other back.  Qt is imported only
when the application is made."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from desktop import APP_NAME

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

TITLE = "Gemini CodeGen"
DEFAULT_SIZE = (1120, 760)  # the main window's first size


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
    app.setApplicationDisplayName(TITLE)
    app.setDesktopFileName(APP_NAME)
    app.setQuitOnLastWindowClosed(True)
    return app
