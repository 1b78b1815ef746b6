"""The two colour palettes, and which one the OS asks for.

Kept apart from ``ui.theme`` (the style sheet and the state looks) so the launch frame
(``ui.first_frame``) can paint in the right colours before the rest of the UI is imported.
"""

from __future__ import annotations

from typing import NamedTuple


class Palette(NamedTuple):  # a tuple, not a dataclass: ``dataclasses`` is not loaded before the first frame
    dark: bool
    window: str
    surface: str
    surface_alt: str
    border: str
    text: str
    text_muted: str
    accent: str
    accent_text: str
    user_bubble: str
    assistant_bubble: str
    ok: str
    warn: str
    bad: str
    info: str


DARK = Palette(True, window="#14161b", surface="#1c1f26", surface_alt="#252933", border="#2e3340",
               text="#e8eaf0", text_muted="#8b93a7", accent="#7c8cff", accent_text="#0e1020",
               user_bubble="#2b3256", assistant_bubble="#22262f", ok="#3ecf8e", warn="#f5b945",
               bad="#ff6b6b", info="#5cb8ff")
LIGHT = Palette(False, window="#f4f5f8", surface="#ffffff", surface_alt="#eef0f5", border="#dde1ea",
                text="#1b1e27", text_muted="#6b7285", accent="#4f5fe8", accent_text="#ffffff",
                user_bubble="#e3e7ff", assistant_bubble="#ffffff", ok="#1f9d66", warn="#c98a00",
                bad="#d64545", info="#2b7fd6")


# Qt platforms without a theme: their colour scheme is always Unknown (asking would cost ~15 ms of Python enum
# creation for the whole Qt namespace before the launch frame, for an answer known in advance)
NO_THEME = ("offscreen", "minimal")


def os_prefers_dark() -> bool:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None or QGuiApplication.platformName() in NO_THEME:
        return True
    from PySide6.QtCore import Qt

    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Light:
        return False
    return True  # Dark, or Unknown (offscreen, old desktops): dark is the product's default look
