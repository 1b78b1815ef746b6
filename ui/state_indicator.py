"""The state pill: a coloured dot and label (ready, listening, thinking, ...) that pulses while active.

It also closes the loop on the key-to-paint measurement: ``mark_pressed(t)`` notes when a push-to-talk key
event arrived; the first paint that shows "listening" afterwards reports the delay through ``painted``.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.events import WAITING_FOR_YOU, EngineState
from ui import theme
from ui.plain_text import tooltip


class StateIndicator(QWidget):
    painted = Signal(str, float)  # state, seconds from the key event to this paint

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = EngineState.CONNECTING
        self.muted = False
        self.starting = False  # before the engine exists (``show_starting``)
        self.detail = ""
        self._phase = 0.0
        self._pressed_at: float | None = None
        self._pulse = QTimer(self)
        self._pulse.setInterval(33)
        self._pulse.timeout.connect(self._tick)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._font = QFont(self.font())
        self._font.setPointSizeF(10)
        self._font.setWeight(QFont.Weight.DemiBold)
        self.set_state(EngineState.CONNECTING)

    def _look(self) -> tuple[str, str, bool]:
        if self.starting:
            return theme.STARTING
        if self.waiting_for_you:
            return theme.YOUR_TURN
        return theme.look(self.state, self.muted)

    @property
    def waiting_for_you(self) -> bool:
        """Ready, and Gemini asked something: it waits for the user's answer (waitingForInput)."""
        return self.state is EngineState.READY and self.detail == WAITING_FOR_YOU and not self.muted

    @property
    def label(self) -> str:
        return self._look()[0]

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        w = QFontMetrics(self._font).horizontalAdvance(self.label) + 44
        return QSize(w, 30)

    def mark_pressed(self, at: float) -> None:
        self._pressed_at = at

    def show_starting(self, detail: str) -> None:
        """"Starting…" until the engine's first state: it is loading behind the window's first frame."""
        self.starting = True
        self.detail = detail
        self.setToolTip(detail)  # the app's own words (what is loading)
        self.setAccessibleName(f"State: {self.label}")
        self._pulse.start()
        self.updateGeometry()
        self.update()

    def set_state(self, state: EngineState, detail: str = "", muted: bool = False) -> None:
        self.state, self.detail, self.muted, self.starting = state, detail, muted, False
        animated = self._look()[2]
        if animated and not self._pulse.isActive():
            self._pulse.start()
        elif not animated:
            self._pulse.stop()
            self._phase = 0.0
        self.setToolTip(tooltip(detail or self.label))  # the detail can carry a service's words
        self.setAccessibleName(f"State: {self.label}")
        self.updateGeometry()
        if state is EngineState.LISTENING and self._pressed_at is not None:
            self.repaint()  # the user's own key press: paint (and flush) now, not on the next loop pass
        else:
            self.update()

    def _tick(self) -> None:
        self._phase = (self._phase + 0.033 / 1.2) % 1.0
        self.update()

    def paintEvent(self, _e: QPaintEvent) -> None:  # noqa: N802 - Qt API
        _label, role, animated = self._look()
        c = theme.current()
        dot = QColor(getattr(c, role))
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        bg = QColor(dot)
        bg.setAlphaF(0.14)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(bg)
        p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        cx, cy = r.left() + 16, r.center().y()
        if animated:
            halo = QColor(dot)
            halo.setAlphaF(0.35 * (1 - self._phase))
            p.setBrush(halo)
            rad = 4 + 6 * self._phase
            p.drawEllipse(QRectF(cx - rad, cy - rad, 2 * rad, 2 * rad))
        p.setBrush(dot)
        p.drawEllipse(QRectF(cx - 4, cy - 4, 8, 8))
        p.setPen(QColor(c.text))
        p.setFont(self._font)
        p.drawText(r.adjusted(28, 0, -10, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.label)
        p.end()
        if self.state is EngineState.LISTENING and self._pressed_at is not None:
            at, self._pressed_at = self._pressed_at, None
            self.painted.emit(self.state, time.perf_counter() - at)


def breathing(phase: float) -> float:
    """0..1..0 over one period (used by the push-to-talk ring)."""
    return 0.5 - 0.5 * math.cos(2 * math.pi * phase)
