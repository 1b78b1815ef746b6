"""The big round push-to-talk button: hold it (or the key) to talk; it glows and breathes while listening."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAccessible,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QAccessibleWidget, QSizePolicy, QWidget

from ui import theme
from ui.state_indicator import breathing


class _AccessibleButton(QAccessibleWidget):
    """What a screen reader is told the push-to-talk button is: a button (it paints itself, so Qt would
    call it a filler)."""

    def __init__(self, widget: QWidget):
        super().__init__(widget, QAccessible.Role.Button)


def _accessible(_key: str, obj: QObject) -> QAccessibleWidget | None:
    if isinstance(obj, PushToTalkButton):
        iface = getattr(obj, "accessible", None)  # asked for while the button is still being made, too
        if iface is None:  # kept by the button while it lives (Qt's cache uses it until then)
            iface = obj.accessible = _AccessibleButton(obj)
        return iface
    return None


class PushToTalkButton(QWidget):
    pressed = Signal(float)  # perf_counter of the press
    released = Signal()
    held_with = "the mouse button"  # what the last press holds: its release sends ("Enter" from the keyboard)

    def __init__(self, parent: QWidget | None = None, diameter: int = 96):
        super().__init__(parent)
        self.diameter = diameter
        self.active = False
        self.enabled_for_input = True
        self.muted = False  # drawn with a slash: pressing it does not listen
        self._phase = 0.0
        self._anim = QTimer(self)
        self._anim.setInterval(33)
        self._anim.timeout.connect(self._tick)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it (a click never moves the focus here)
        self.setAccessibleName("Push to talk")
        self.accessible: QAccessibleWidget | None = getattr(self, "accessible", None)
        self.setToolTip("Hold to talk")

    def set_diameter(self, diameter: int) -> None:
        self.diameter = diameter
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self.diameter + 24, self.diameter + 24)

    def set_active(self, active: bool) -> None:
        if active == self.active:
            return
        self.active = active
        if active:
            self._anim.start()
        else:
            self._anim.stop()
            self._phase = 0.0
        self.update()

    def _tick(self) -> None:
        self._phase = (self._phase + 0.033 / 1.4) % 1.0
        self.update()

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if e.button() == Qt.MouseButton.LeftButton and self.enabled_for_input:
            self.held_with = "the mouse button"
            self.pressed.emit(time.perf_counter())

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if e.button() == Qt.MouseButton.LeftButton and self.enabled_for_input:
            self.released.emit()

    # with the focus here, Enter is held like the mouse button (the push-to-talk key talks anywhere)
    TALK_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if e.key() not in self.TALK_KEYS:
            super().keyPressEvent(e)
            return
        if not e.isAutoRepeat() and self.enabled_for_input:
            self.held_with = "Enter"
            self.pressed.emit(time.perf_counter())

    def keyReleaseEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if e.key() not in self.TALK_KEYS:
            super().keyReleaseEvent(e)
            return
        if not e.isAutoRepeat() and self.enabled_for_input:
            self.released.emit()

    def focusInEvent(self, e) -> None:  # noqa: N802 - Qt API
        super().focusInEvent(e)
        self.update()  # the focus ring

    def focusOutEvent(self, e) -> None:  # noqa: N802 - Qt API
        super().focusOutEvent(e)
        self.update()

    def paintEvent(self, _e: QPaintEvent) -> None:  # noqa: N802 - Qt API
        c = theme.current()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        center = QPointF(self.width() / 2, self.height() / 2)
        rad = self.diameter / 2
        base = QColor(c.bad if self.active else c.accent)
        if self.active:
            glow = QColor(base)
            glow.setAlphaF(0.18 + 0.17 * breathing(self._phase))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(glow)
            g = rad + 6 + 5 * breathing(self._phase)
            p.drawEllipse(center, g, g)
        elif not self.enabled_for_input or self.muted:
            base = QColor(c.border)
        p.setPen(QPen(QColor(c.window), 3))
        p.setBrush(base)
        p.drawEllipse(center, rad, rad)
        ink = QColor(c.text_muted if self.muted else c.accent_text if not self.active else "#ffffff")
        self._paint_mic(p, center, rad, ink)
        if self.hasFocus():  # the keyboard's focus ring, outside the button's edge
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(c.text), 2.5, Qt.PenStyle.DashLine))
            p.drawEllipse(center, rad + 6, rad + 6)
        if self.muted:
            p.setPen(QPen(QColor(c.warn), 3.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            p.drawLine(QPointF(center.x() - rad * 0.45, center.y() - rad * 0.45),
                       QPointF(center.x() + rad * 0.45, center.y() + rad * 0.45))
        p.end()

    @staticmethod
    def _paint_mic(p: QPainter, center: QPointF, rad: float, ink: QColor) -> None:
        s = rad / 48
        p.setBrush(ink)
        p.setPen(Qt.PenStyle.NoPen)
        body = QRectF(center.x() - 8 * s, center.y() - 20 * s, 16 * s, 26 * s)
        p.drawRoundedRect(body, 8 * s, 8 * s)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(ink, 3.2 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        arc = QPainterPath()
        arc.arcMoveTo(QRectF(center.x() - 14 * s, center.y() - 12 * s, 28 * s, 26 * s), 180)
        arc.arcTo(QRectF(center.x() - 14 * s, center.y() - 12 * s, 28 * s, 26 * s), 180, 180)
        p.drawPath(arc)
        p.drawLine(QPointF(center.x(), center.y() + 14 * s), QPointF(center.x(), center.y() + 21 * s))
        p.drawLine(QPointF(center.x() - 7 * s, center.y() + 21 * s), QPointF(center.x() + 7 * s, center.y() + 21 * s))


QAccessible.installFactory(_accessible)  # before any button exists: a screen reader asks at once
