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


def application(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (made once), named for the desktop."""
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(TITLE)
    app.setDesktopFileName(APP_NAME)
    app.setQuitOnLastWindowClosed(True)
    return app
