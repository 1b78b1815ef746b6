"""Spoken announcements for screen readers: what changed, said once, without moving the focus.

``Announcer.say(text)`` posts a ``QAccessibleAnnouncementEvent`` (Qt 6.8+; AT-SPI's announcement on Linux,
NSAccessibility on macOS, UIA notifications on Windows).  Nothing is done unless an assistive technology
is listening (``QAccessible.isActive()``), so the window pays nothing without one; ``said`` keeps the most
recent announcements for tests and the log.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import QWidget

from ui.plain_text import shown

KEPT = 50
MAX_CHARS = 300  # an announcement is a sentence, not a page


class Announcer:
    def __init__(self, widget: QWidget):
        self.widget = widget
        self.said: deque[tuple[str, bool]] = deque(maxlen=KEPT)  # (text, assertive)

    def say(self, text: str, *, assertive: bool = False) -> None:
        text = shown(text, MAX_CHARS)
        self.said.append((text, assertive))
        if not QAccessible.isActive():
            return
        ev = QAccessibleAnnouncementEvent(self.widget, text)
        ev.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if assertive
                         else QAccessible.AnnouncementPoliteness.Polite)
        QAccessible.updateAccessibility(ev)
