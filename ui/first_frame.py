"""The window's first frame, and knowing when a frame is on screen.

A launch (``desktop.launch``) paints ``LaunchFrame`` first: the main window's size, title, colours and
outline (the header with the state pill saying "Starting…", the conversation and runs panels, the
push-to-talk bar), drawn by one widget from Qt alone, before anything else of the app is imported.  Then
``ui.app`` builds the real window in its place, and that window starts the engine once it has painted
(``FirstFrame`` tells when a widget's frame is on screen).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from ui.palette import DARK, LIGHT, Palette, os_prefers_dark
from ui.qt_app import DEFAULT_SIZE, TITLE, application

if TYPE_CHECKING:
    from PySide6.QtGui import QResizeEvent

FONTS = ["Inter", "Segoe UI", "SF Pro Text", "Cantarell", "Noto Sans", "DejaVu Sans"]
PAINT_TIMEOUT_MS = 5000  # a display that never exposes the frame: the launch goes on without it

_shown: LaunchFrame | None = None


def paint_launch_frame(report: bool = False) -> LaunchFrame:
    """Show the launch frame and return once its first frame is on screen (``report``: print when)."""
    global _shown
    application()
    frame = LaunchFrame()
    loop = QEventLoop()
    FirstFrame(frame, loop.quit)
    timeout = QTimer()
    timeout.setSingleShot(True)
    timeout.timeout.connect(loop.quit)
    timeout.start(PAINT_TIMEOUT_MS)
    frame.show()
    loop.exec()
    timeout.stop()
    if report:
        report_shown()
    _shown = frame
    return frame


def launch_frame() -> LaunchFrame | None:
    """The launch frame on screen, if any."""
    return _shown if _shown is not None and _shown.isVisible() else None


def take_launch_frame() -> LaunchFrame | None:
    """The launch frame on screen, handed over to the window that takes its place (and closes it)."""
    global _shown
    frame, _shown = launch_frame(), None
    return frame


def report_shown() -> None:
    """The smoke test's line: how long after the process started its window's first frame was shown."""
    cpu_ms = time.process_time() * 1e3  # read first: what follows costs CPU too
    print(f"window shown {process_age_ms():.0f} ms after launch ({cpu_ms:.0f} ms CPU)", flush=True)


def process_age_ms() -> float:
    try:  # Linux, without loading psutil before the line is out (the smoke test times its arrival)
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime_s = float(f.read().split()[0])
        return (uptime_s - start_ticks / os.sysconf("SC_CLK_TCK")) * 1e3
    except (OSError, ValueError, IndexError):
        import psutil

        return (time.time() - psutil.Process().create_time()) * 1e3


class FirstFrame(QObject):
    """Calls ``then()`` once, on the event-loop pass after ``widget``'s first paint, when its frame has been
    flushed to the screen."""

    def __init__(self, widget: QWidget, then: Callable[[], None]):
        super().__init__(widget)
        self._then = then
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self._then)
        return False


class LaunchFrame(QWidget):
    """The main window's outline, shown while the real window is being built behind it.

    Drawn by child widgets and one style sheet, so painting it runs in Qt alone: Python-side painting
    (QPainter's overloads) would load every enum of the Qt namespace first, about 15 ms before the frame."""

    def __init__(self, palette: Palette | None = None):
        super().__init__()
        c = palette or (DARK if os_prefers_dark() else LIGHT)
        self.setObjectName("LaunchFrame")
        self.setWindowTitle(TITLE)
        warn = c.warn.lstrip("#")
        halo = f"rgba({int(warn[:2], 16)}, {int(warn[2:4], 16)}, {int(warn[4:], 16)}, 36)"  # 14 %, as the pill
        self.setStyleSheet(f"""
            #LaunchFrame {{ background: {c.window}; }}
            QLabel {{ color: {c.text}; font-family: {", ".join(f'"{f}"' for f in FONTS)}; font-size: 10pt;
                      font-weight: 600; }}
            #Title {{ font-size: 13pt; font-weight: 700; }}
            #Button {{ color: {c.text_muted}; }}
            #Pill {{ background: {halo}; border-radius: 15px; padding: 0 14px 0 28px; }}
            #Dot {{ background: {c.warn}; border-radius: 4px; }}
            #Logo {{ background: {c.accent}; border-radius: 6px; }}
            #Card {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: 12px; }}
            #Talk {{ background: {c.surface_alt}; border: 1px solid {c.border}; border-radius: 36px; }}
        """)
        self.logo = self._part(QWidget, "Logo")
        self.title = self._part(QLabel, "Title", TITLE)
        self.pill = self._part(QLabel, "Pill", "Starting…")
        self.dot = self._part(QWidget, "Dot")
        self.buttons = [self._part(QLabel, "Button", text) for text in ("Performance", "Settings")]
        self.cards = [self._part(QWidget, "Card") for _ in range(3)]
        self.talk = self._part(QWidget, "Talk")
        from ui.screen_fit import first_size

        self.resize(first_size(self, DEFAULT_SIZE))  # high DPI or a small screen: no larger than it

    def _part(self, kind: type[QWidget], name: str, text: str | None = None) -> QWidget:
        part = kind(self) if text is None else QLabel(text, self)
        part.setObjectName(name)
        return part

    def resizeEvent(self, _e: QResizeEvent) -> None:  # noqa: N802 - Qt API
        """The main window's geometry at this size: margins 20, header 36, panels 3:2, push-to-talk bar 118."""
        w, h = self.width(), self.height()
        self.logo.setGeometry(21, 20, 28, 28)
        self.title.setGeometry(62, 16, 300, 26)
        right = w - 28
        for button in reversed(self.buttons):
            width = button.sizeHint().width()
            right -= width
            button.setGeometry(right, 20, width, 28)
            right -= 28
        pill_w = self.pill.sizeHint().width()
        self.pill.setGeometry(right + 8 - pill_w, 19, pill_w, 30)
        self.dot.setGeometry(right + 8 - pill_w + 12, 30, 8, 8)
        top, bar = 16 + 36 + 14, 118
        body, inner = h - top - 20 - bar - 14, w - 40 - 14
        self.cards[0].setGeometry(20, top, inner * 3 // 5, body)
        self.cards[1].setGeometry(20 + inner * 3 // 5 + 14, top, inner * 2 // 5, body)
        self.cards[2].setGeometry(20, h - 20 - bar, w - 40, bar)
        self.talk.setGeometry(49, h - 20 - bar + 23, 72, 72)
