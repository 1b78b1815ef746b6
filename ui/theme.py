"""Colours, type and the application style sheet, in a dark and a light variant that follow the OS.

One palette dataclass per mode; widgets that paint themselves (the push-to-talk button, the level meter,
the state pill, sparklines) read colours from ``current()`` so a scheme change repaints them correctly.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from desktop.assets import asset
from desktop.events import EngineState
from ui.palette import DARK, LIGHT, Palette, os_prefers_dark

# State -> (label, colour role, animated)
STATES: dict[EngineState, tuple[str, str, bool]] = {
    EngineState.CONNECTING: ("Connecting…", "warn", True),
    EngineState.READY: ("Ready", "ok", False),
    EngineState.LISTENING: ("Listening", "bad", True),
    EngineState.THINKING: ("Thinking…", "accent", True),
    EngineState.SPEAKING: ("Speaking", "info", True),
    EngineState.ERROR: ("Error", "bad", False),
    EngineState.CLOSED: ("Disconnected", "text_muted", False),
}

MUTED: tuple[str, str, bool] = ("Muted", "warn", False)  # shown instead of Ready while the microphone is muted
YOUR_TURN: tuple[str, str, bool] = ("Your turn", "ok", False)  # instead of Ready: Gemini waits for the answer
STARTING: tuple[str, str, bool] = ("Starting…", "warn", True)  # the engine loads behind the first frame


def look(state: EngineState, muted: bool = False) -> tuple[str, str, bool]:
    """Label, colour role and animation of ``state`` as shown (muted: the microphone is off)."""
    if muted:
        return MUTED
    return STATES.get(state, (str(state).title(), "text_muted", False))


_current: Palette = DARK


def current() -> Palette:
    return _current


def color(role: str) -> QColor:
    return QColor(getattr(_current, role))


# Qt's own tray balloon (where the desktop has no notification service) is always light yellow (#ffffe1),
# whatever the theme: its words are dark on it, never the dark theme's light text
BALLOON_TEXT = LIGHT.text


def style_sheet(c: Palette) -> str:
    chevron = asset("icons", "chevron-down.svg").as_posix()
    return f"""
    QWidget {{ color: {c.text}; font-size: 10pt; }}
    QMainWindow, QDialog, #Root {{ background: {c.window}; }}
    #Card, #Panel {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: 12px; }}
    #PanelTitle {{ color: {c.text_muted}; font-size: 8.5pt; font-weight: 600; letter-spacing: 1px; }}
    #AppTitle {{ font-size: 13pt; font-weight: 700; }}
    #Muted, QLabel[muted="true"] {{ color: {c.text_muted}; }}
    QLineEdit, QComboBox, QSpinBox, QPlainTextEdit {{
        background: {c.surface_alt}; border: 1px solid {c.border}; border-radius: 8px;
        padding: 6px 10px; selection-background-color: {c.accent}; }}
    QLineEdit:focus, QComboBox:focus, QSpinBox:focus {{ border: 1px solid {c.accent}; }}
    QComboBox QAbstractItemView {{ background: {c.surface}; border: 1px solid {c.border}; }}
    QComboBox::drop-down {{ border: none; width: 26px; }}
    QComboBox::down-arrow {{ image: url("{chevron}"); width: 12px; height: 12px; }}
    QSpinBox::up-button, QSpinBox::down-button {{ width: 0; border: none; }}
    QPushButton {{ background: {c.surface_alt}; border: 1px solid {c.border}; border-radius: 8px;
        padding: 6px 14px; font-weight: 600; }}
    QPushButton:hover {{ border-color: {c.accent}; }}
    QPushButton[primary="true"] {{ background: {c.accent}; color: {c.accent_text}; border: none; }}
    QPushButton[flat="true"] {{ background: transparent; border: none; color: {c.text_muted}; padding: 4px 8px; }}
    QPushButton[flat="true"]:hover {{ color: {c.text}; }}
    QScrollArea, QScrollArea > QWidget > QWidget {{ background: transparent; border: none; }}
    QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
    QScrollBar::handle:vertical {{ background: {c.border}; border-radius: 4px; min-height: 24px; }}
    QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; }}
    QTabWidget::pane {{ border: 1px solid {c.border}; border-radius: 10px; background: {c.surface}; top: -1px; }}
    QTabBar::tab {{ background: transparent; padding: 8px 16px; color: {c.text_muted}; border: none;
        border-bottom: 2px solid transparent; }}
    QTabBar::tab:selected {{ color: {c.text}; border-bottom: 2px solid {c.accent}; }}
    QCheckBox::indicator {{ width: 16px; height: 16px; }}
    QTableWidget {{ background: transparent; border: none; gridline-color: {c.border}; }}
    QHeaderView::section {{ background: transparent; color: {c.text_muted}; border: none;
        border-bottom: 1px solid {c.border}; padding: 6px; font-weight: 600; }}
    QToolTip {{ background: {c.surface_alt}; color: {c.text}; border: 1px solid {c.border}; }}
    QBalloonTip QLabel {{ color: {BALLOON_TEXT}; }}
    /* the keyboard's focus, always visible (last: over the rules above) */
    QPushButton:focus {{ border: 2px solid {c.accent}; padding: 5px 13px; }}
    QPushButton[flat="true"]:focus {{ border: 2px solid {c.accent}; border-radius: 6px; padding: 2px 6px; }}
    QPushButton[primary="true"]:focus {{ border: 2px solid {c.text}; padding: 4px 12px; }}
    QLineEdit:focus, QComboBox:focus, QSpinBox:focus, QPlainTextEdit:focus {{ border: 2px solid {c.accent};
        padding: 5px 9px; }}
    QScrollArea:focus, QListWidget:focus {{ border: 2px solid {c.accent}; border-radius: 8px; }}
    QCheckBox:focus {{ border: 1px dashed {c.accent}; }}
    QTabBar::tab:focus {{ color: {c.text}; border-bottom: 2px solid {c.text}; }}
    """


def apply(app: QApplication, dark: bool | None = None) -> Palette:
    """Apply the dark or light theme (``None``: follow the OS) to the whole application."""
    global _current
    _current = DARK if (os_prefers_dark() if dark is None else dark) else LIGHT
    c = _current
    app.setStyle("Fusion")
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor(c.window))
    pal.setColor(QPalette.ColorRole.Base, QColor(c.surface_alt))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor(c.surface))
    pal.setColor(QPalette.ColorRole.Text, QColor(c.text))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(c.text))
    pal.setColor(QPalette.ColorRole.Button, QColor(c.surface_alt))
    pal.setColor(QPalette.ColorRole.ButtonText, QColor(c.text))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(c.accent))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor(c.accent_text))
    pal.setColor(QPalette.ColorRole.Link, QColor(c.accent))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(c.text_muted))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setFamilies(["Inter", "Segoe UI", "SF Pro Text", "Cantarell", "Noto Sans", "DejaVu Sans"])
    font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(style_sheet(c))
    return c


def mix(a: str, b: str, t: float) -> str:
    """``t`` of colour ``a`` over colour ``b``, as #rrggbb."""
    ca, cb = int(a[1:], 16), int(b[1:], 16)
    out = 0
    for shift in (16, 8, 0):
        x, y = (ca >> shift) & 255, (cb >> shift) & 255
        out |= round(x * t + y * (1 - t)) << shift
    return f"#{out:06x}"


def follow_os(app: QApplication, on_change) -> None:
    """Re-apply the theme whenever the OS switches between light and dark."""
    def changed(_scheme: object) -> None:
        apply(app)
        on_change()

    QGuiApplication.styleHints().colorSchemeChanged.connect(changed)
