"""The system tray icon: shows the state by colour and offers push-to-talk, mute and quit."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop.events import EngineState
from ui import theme
from ui.plain_text import notification, shown


def state_icon(state: EngineState, size: int = 64, muted: bool = False) -> QIcon:
    role = theme.look(state, muted)[1]
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#5a56e0"))
    p.drawRoundedRect(QRectF(2, 2, size - 4, size - 4), size / 4.5, size / 4.5)
    p.setBrush(QColor("#ffffff"))
    s = size / 64
    p.drawRoundedRect(QRectF(26 * s, 12 * s, 12 * s, 24 * s), 6 * s, 6 * s)
    p.drawRect(QRectF(30.5 * s, 40 * s, 3 * s, 10 * s))
    p.setBrush(QColor(getattr(theme.current(), role)))
    p.setPen(QColor("#ffffff"))
    p.drawEllipse(QPointF(48 * s, 48 * s), 10 * s, 10 * s)
    p.end()
    return QIcon(pm)


class Tray(QObject):
    talk = Signal(bool)  # toggled: True = start listening
    mute_changed = Signal(bool)
    show_window = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(state_icon(EngineState.CONNECTING), parent)
        self.menu = QMenu()
        self.talk_action = QAction("Push to talk", self.menu, checkable=True)
        self.mute_action = QAction("Mute microphone", self.menu, checkable=True)
        show = QAction("Show window", self.menu)
        quit_ = QAction("Quit", self.menu)
        self.talk_action.toggled.connect(self.talk.emit)
        self.mute_action.toggled.connect(self.mute_changed.emit)
        show.triggered.connect(self.show_window.emit)
        quit_.triggered.connect(self.quit_requested.emit)
        for a in (self.talk_action, self.mute_action):
            self.menu.addAction(a)
        self.menu.addSeparator()
        self.menu.addAction(show)
        self.menu.addAction(quit_)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.state = EngineState.CONNECTING
        if self.available:
            self.icon.show()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_window.emit()

    def set_state(self, state: EngineState, muted: bool = False) -> None:
        self.state = state
        self.icon.setIcon(state_icon(state, muted=muted))
        label = theme.look(state, muted)[0]
        self.icon.setToolTip(f"Gemini CodeGen — {label}")
        if state is not EngineState.LISTENING and self.talk_action.isChecked():
            self.talk_action.blockSignals(True)
            self.talk_action.setChecked(False)
            self.talk_action.blockSignals(False)

    def notify(self, title: str, text: str) -> bool:
        if not self.available or not QSystemTrayIcon.supportsMessages():
            return False
        # notification servers may read markup in the body: the run's words are escaped there
        self.icon.showMessage(shown(title, 120), notification(text), state_icon(self.state), 8000)
        return True
