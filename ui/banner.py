"""Dismissible in-window messages: the offline-demo banner and user-facing errors, each with its action.

Errors arrive as ``ErrorEvent(kind, message, action)``; the banner shows the message, the action text and
a button for the action the window can take itself (open Settings, reconnect).  One message per kind: a
repeated error replaces the previous one instead of stacking copies.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.events import ErrorEvent
from ui import theme
from ui.plain_text import PlainLabel, shown

# kind -> (title, button label, action id)
ERROR_ACTIONS: dict[str, tuple[str, str, str]] = {
    "auth": ("Key not accepted", "Open settings", "settings"),
    "no_microphone": ("No microphone", "Audio settings", "audio-settings"),
    "network": ("Network lost", "Reconnect", "reconnect"),
    "rate_limited": ("Rate limited", "Retry", "reconnect"),
    "timeout": ("No answer", "Reconnect", "reconnect"),
    "protocol": ("Connection problem", "Reconnect", "reconnect"),
    "model": ("Model problem", "Open settings", "settings"),
    "storage": ("History unavailable", "", ""),
    "codegen": ("CodeGen problem", "Open settings", "settings"),
}
OFFLINE_TEXT = "Local stand-ins answer on this machine: no real Gemini or CodeGen is used."


class Message(QFrame):
    action = Signal(str)  # action id
    dismissed = Signal()

    def __init__(self, key: str, tone: str, title: str, text: str, hint: str = "", button: str = "",
                 action_id: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.key, self.tone, self.action_id = key, tone, action_id
        self.setObjectName("Message")
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 10, 8, 10)
        row.setSpacing(12)
        self.icon = QLabel("●")
        self.icon.setFixedWidth(12)
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout()
        col.setSpacing(2)
        self.title = QLabel(title)
        self.title.setObjectName("MessageTitle")
        self.text = PlainLabel(text)  # the service's or the system's words: shown as text, never as markup
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.title)
        col.addWidget(self.text)
        self.hint = PlainLabel(hint)
        self.hint.setWordWrap(True)
        self.hint.setProperty("muted", True)
        self.hint.setVisible(bool(hint))
        col.addWidget(self.hint)
        row.addLayout(col, 1)
        self.button: QPushButton | None = None
        if button:
            self.button = QPushButton(button)
            self.button.setProperty("primary", True)
            self.button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the focus (and Space) alone
            self.button.setAccessibleDescription(shown(f"{title}: {text}", 300))  # what the button is about
            self.button.clicked.connect(lambda: self.action.emit(self.action_id))
            row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.close_button = QPushButton("✕")
        self.close_button.setProperty("flat", True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss")
        self.close_button.setAccessibleDescription(shown(f"Dismiss the message: {title}", 120))
        self.close_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.close_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.close_button.clicked.connect(self.dismiss)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.restyle()

    def restyle(self) -> None:
        c = theme.current()
        tone = getattr(c, self.tone)
        self.setStyleSheet(
            f"#Message {{ background: {theme.mix(tone, c.surface, 0.16)}; border: 1px solid {theme.mix(tone, c.surface, 0.45)};"
            f" border-radius: 10px; }} #MessageTitle {{ font-weight: 700; }}"
            f" QLabel {{ background: transparent; }}")
        self.icon.setStyleSheet(f"color: {tone}; background: transparent;")

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
        self.deleteLater()


class MessageArea(QWidget):
    """A column of messages above the conversation."""

    action = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(8)
        self.messages: dict[str, Message] = {}

    def add(self, msg: Message) -> Message:
        """Show ``msg`` (in the place of the one with its key, if any)."""
        old = self.messages.pop(msg.key, None)
        if old is not None:
            old.hide()
            old.deleteLater()
        self.messages[msg.key] = msg
        msg.action.connect(self.action.emit)
        msg.dismissed.connect(lambda key=msg.key, m=msg: self.messages.pop(key, None) if self.messages.get(key) is m
                              else None)
        self.column.addWidget(msg)
        return msg

    def show_offline(self) -> Message:
        return self.add(Message("offline", "info", "Offline demo", OFFLINE_TEXT,
                                "Add your Gemini and CodeGen keys to go live.",
                                "Add keys", "settings"))

    def show_error(self, ev: ErrorEvent, title: str | None = None) -> Message:
        """``title``: instead of the kind's own (e.g. a connection that never came up was not "lost")."""
        kind_title, button, action_id = ERROR_ACTIONS.get(ev.kind, ("Something went wrong", "", ""))
        title = title or kind_title
        return self.add(Message(f"error:{ev.kind}", "bad" if ev.fatal else "warn", title, ev.message, ev.action,
                                button, action_id))

    def show_advice(self, key: str, title: str, text: str, hint: str, button: str, action_id: str) -> Message:
        """A warning with one thing to do about it."""
        return self.add(Message(key, "warn", title, text, hint, button, action_id))

    def show_notice(self, key: str, text: str, tone: str = "info", title: str = "Note") -> Message:
        return self.add(Message(f"notice:{key}", tone, title, text))

    def clear(self, key: str) -> None:
        msg = self.messages.pop(key, None)
        if msg is not None:
            msg.hide()
            msg.deleteLater()

    def restyle(self) -> None:
        for m in self.messages.values():
            m.restyle()

