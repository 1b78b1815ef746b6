"""The live input level: a rounded bar for RMS with a falling peak marker, painted at most once a frame."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui import theme

FLOOR_DB = -60.0
PEAK_FALL_DB_PER_S = 20.0
PEAK_HOLD_S = 1.0


def db_to_fraction(db: float) -> float:
    return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rms_db = FLOOR_DB
        self.peak_db = FLOOR_DB
        self.speech = False
        self.updates = 0
        self._peak_at = time.monotonic()
        self.setMinimumHeight(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Input level")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(240, 8)

    def set_level(self, rms_db: float, peak_db: float, speech: bool = False) -> None:
        self.updates += 1
        now = time.monotonic()
        fallen = self.peak_db - PEAK_FALL_DB_PER_S * (now - self._peak_at)
        if peak_db >= fallen:
            self.peak_db, self._peak_at = peak_db, now
        self.rms_db, self.speech = rms_db, speech
        self.update()  # coalesced by Qt: one paint per frame however many levels arrive

    def paintEvent(self, _e: QPaintEvent) -> None:  # noqa: N802 - Qt API
        c = theme.current()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect())
        radius = r.height() / 2
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(c.surface_alt))
        p.drawRoundedRect(r, radius, radius)
        frac = db_to_fraction(self.rms_db)
        if frac > 0:
            grad = QLinearGradient(r.topLeft(), r.topRight())
            grad.setColorAt(0.0, QColor(c.ok))
            grad.setColorAt(0.7, QColor(c.warn))
            grad.setColorAt(1.0, QColor(c.bad))
            p.setBrush(grad)
            p.drawRoundedRect(QRectF(r.left(), r.top(), max(r.height(), r.width() * frac), r.height()), radius, radius)
        decayed = self.peak_db - PEAK_FALL_DB_PER_S * max(0.0, time.monotonic() - self._peak_at - PEAK_HOLD_S)
        peak = db_to_fraction(decayed)
        if peak > 0:
            p.setBrush(QColor(c.text))
            x = r.left() + (r.width() - 3) * peak
            p.drawRoundedRect(QRectF(x, r.top(), 3, r.height()), 1.5, 1.5)
        p.end()
