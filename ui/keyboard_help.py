"""The window's keyboard shortcuts in one table, and the help overlay that lists them (F1 or ?).

``SHORTCUTS`` is the one place the keys are named: the main window binds each id to its action and the
overlay lists them, so the list on screen is the list that works.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from ui.plain_text import PlainLabel
from ui.screen_fit import scrolling

# id -> (key sequences, what it does); the first sequence is the one shown first
SHORTCUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "settings": (("Ctrl+,",), "Open Settings"),
    "performance": (("Ctrl+P",), "Open Performance"),
    "mute": (("Ctrl+M",), "Mute or unmute the microphone"),
    "type": (("Ctrl+L",), "Type a request (Enter sends, Esc goes back to talking)"),
    "search": (("Ctrl+F",), "Search past sessions (Esc goes back to talking)"),
    "help": (("F1", "?"), "Show these keys"),
}
# keys that are not shortcuts but are worth knowing (shown under the push-to-talk key)
OTHER_KEYS = (
    ("Tab / Shift+Tab", "Move between controls: Performance, Settings, the messages' buttons, search, the "
                        "conversation, the runs, the microphone button, Mute, the request box, Send"),
    ("Enter / Space", "Activate the focused button (Space talks everywhere else)"),
    ("Enter", "Hold it on the microphone button to talk"),
    ("Esc", "Close a dialog; leave the request box or search"),
)


def key_text(sequence: str) -> str:
    """A key sequence as this platform writes it (Ctrl+, on Linux, ⌘, on macOS)."""
    return QKeySequence(sequence).toString(QKeySequence.SequenceFormat.NativeText) or sequence


class KeyboardHelp(QDialog):
    """The keys of the window, grouped as a person looks for them; Esc or Close hides it."""

    def __init__(self, ptt_key: str, ptt_mode: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard")
        self.setAccessibleName("Keyboard shortcuts")
        self.setAccessibleDescription("The keys of the Gemini CodeGen window")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 18, 20, 16)
        outer.setSpacing(12)
        title = QLabel("Keyboard")
        title.setObjectName("AppTitle")
        outer.addWidget(title)
        page = QWidget()  # the list scrolls where the screen is short (1366x768 at 200 %)
        grid = QGridLayout(page)
        grid.setContentsMargins(8, 4, 10, 4)  # clear of the focus ring (Tab reaches the list: arrows scroll it)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(8)
        talk = ("Hold to talk, release to send" if ptt_mode == "hold" else
                "Press to talk, again to send" if ptt_mode == "toggle" else "Hands-free: just speak (not used)")
        rows: list[tuple[str, str]] = [(ptt_key, talk)]
        rows += [(" or ".join(key_text(k) for k in keys), what) for keys, what in SHORTCUTS.values()]
        rows += list(OTHER_KEYS)
        self.rows = rows
        for i, (keys, what) in enumerate(rows):
            key = PlainLabel(keys, limit=40)  # the push-to-talk key is the user's own text
            key.setObjectName("KeyName")
            key.setStyleSheet("font-weight: 700;")
            desc = PlainLabel(what)
            desc.setWordWrap(True)
            grid.addWidget(key, i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(desc, i, 1)
        grid.setColumnStretch(1, 1)
        outer.addWidget(scrolling(page), 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.resize(560, self.sizeHint().height())
