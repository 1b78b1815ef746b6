"""The confirmation card: the request read back and waiting for the user's yes, whole, with Start and Cancel.

What a yes would start is shown here in full: the prompt (scrollable, never cut, plain text: it came from the
model) and the repository or run.  Start and Cancel are the same path as a spoken yes or no (the window sends
them as the user's typed answer); Enter and Esc do the same while the card has the focus.  The buttons never
take the focus, so the push-to-talk key keeps talking wherever the focus is.  The card closes when the request
is started, withdrawn (a no, Cancel), replaced by another read-back, or the setting is switched off.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent, QTextOption
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from desktop.events import ConfirmationAsked, ConfirmationClosed
from ui import theme
from ui.plain_text import PlainLabel, clean
from ui.screen_fit import Spacing

START_TEXT, CANCEL_TEXT = "Yes", "No"  # what Start and Cancel say as the user's answer
MAX_VISIBLE_LINES = {False: 6, True: 2}  # a longer request scrolls inside the card (normal, compact window)
CARD_SPACING = Spacing((14, 10, 14, 10, 6), (10, 4, 10, 4, 3))


def title_for(ev: ConfirmationAsked) -> str:
    if ev.kind == "resume":
        return f"Send this to run #{ev.run_id}?"
    return f"Start an agent run in {ev.repo}?" if ev.repo else "Start an agent run?"


class ConfirmCard(QFrame):
    answered = Signal(bool)  # True: Start, False: Cancel

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("ConfirmCard")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Tab or a click reaches it: then Enter / Esc answer
        self.setAccessibleName("Request waiting for your yes")
        self.ask: ConfirmationAsked | None = None
        self.compact = False
        col = QVBoxLayout(self)
        CARD_SPACING.apply(col, False)
        head = QHBoxLayout()
        self._head = head
        self.title = PlainLabel("")
        self.title.setObjectName("ConfirmTitle")
        self.title.setWordWrap(True)
        head.addWidget(self.title, 1)
        self.note = PlainLabel("Nothing starts until you say yes or click Start")
        self.note.setProperty("muted", True)
        head.addWidget(self.note)
        col.addLayout(head)
        # the whole request: read-only plain text that scrolls, never elided; it never takes the focus (the
        # push-to-talk key would type into it), the mouse can still select and scroll it
        self.prompt = QPlainTextEdit()
        self.prompt.setReadOnly(True)
        self.prompt.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.prompt.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        # a long run without spaces wraps anywhere (laid out as one word it took seconds and hid its end)
        self.prompt.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.prompt.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.prompt.setAccessibleName("The whole request")
        col.addWidget(self.prompt)
        row = QHBoxLayout()
        self._row = row
        row.addStretch(1)
        self.cancel = QPushButton("Cancel")
        self.start = QPushButton("Start")
        self.start.setProperty("primary", True)
        for b, name in ((self.cancel, "Cancel: do not start it"), (self.start, "Start it")):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.setAccessibleName(name)
            row.addWidget(b)
        col.addLayout(row)
        self.start.clicked.connect(lambda: self.answer(True))
        self.cancel.clicked.connect(lambda: self.answer(False))
        self.setVisible(False)
        self.restyle()

    @property
    def prompt_text(self) -> str:
        return self.prompt.toPlainText()

    def show_ask(self, ev: ConfirmationAsked) -> None:
        """A request was read back: show all of it, buttons ready."""
        self.ask = ev
        self.title.setText(title_for(ev))
        self.prompt.setPlainText(clean(ev.prompt))  # whole: only made paintable (no controls, no bidi overrides)
        self._fit_prompt()
        self._enable(True)
        self.setVisible(True)

    def _fit_prompt(self) -> None:
        """As tall as the request's wrapped lines, up to ``MAX_VISIBLE_LINES`` (then it scrolls)."""
        most = MAX_VISIBLE_LINES[self.compact]
        metrics = self.prompt.fontMetrics()
        width = max(200, (self.prompt.viewport().width() if self.isVisible() else self.width()) - 12)
        lines = sum(max(1, -(-metrics.horizontalAdvance(paragraph[:4_000]) // width))
                    for paragraph in self.prompt_text.split("\n")[:most + 1])
        chrome = int(2 * self.prompt.document().documentMargin()) + 2 * self.prompt.frameWidth() + 6
        self.prompt.setFixedHeight(metrics.lineSpacing() * max(1, min(most, lines)) + chrome)

    def set_compact(self, compact: bool) -> None:
        """The short window's layout: tighter, the buttons beside the title (the note goes), and the request
        scrolls after two lines."""
        if compact == self.compact:
            return
        self.compact = compact
        layout = self.layout()
        if layout is not None:
            CARD_SPACING.apply(layout, compact)
        self.note.setVisible(not compact)
        for b in (self.cancel, self.start):  # moved from one row to the other
            (self._head if compact else self._row).addWidget(b)
        if self.ask is not None:
            self._fit_prompt()

    def resizeEvent(self, e: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(e)
        if self.ask is not None:
            self._fit_prompt()

    def close_ask(self, ev: ConfirmationClosed) -> None:
        if self.ask is not None and ev.ask_id == self.ask.ask_id:
            self.ask = None
            self._enable(False)
            self.setVisible(False)

    def turn_finished(self) -> None:
        """A turn ended with the request still waiting (the answer was not taken as one): ready again."""
        if self.ask is not None:
            self._enable(True)

    def answer(self, yes: bool) -> None:
        """Start / Cancel (or Enter / Esc): answered once; the card waits for the outcome."""
        if self.ask is None or not self.start.isEnabled():
            return
        self._enable(False)
        self.answered.emit(yes)

    def _enable(self, on: bool) -> None:
        self.start.setEnabled(on)
        self.cancel.setEnabled(on)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.ask is not None:
            self.answer(True)
            e.accept()
        elif e.key() == Qt.Key.Key_Escape and self.ask is not None:
            self.answer(False)
            e.accept()
        else:
            super().keyPressEvent(e)

    def restyle(self) -> None:
        c = theme.current()
        self.setStyleSheet(f"#ConfirmCard {{ background: {c.surface_alt}; border: 1px solid {c.border};"
                           f" border-left: 3px solid {c.warn}; border-radius: 10px; }}"
                           f" #ConfirmCard:focus {{ border: 1px solid {c.accent}; border-left: 3px solid {c.warn}; }}"
                           f" #ConfirmTitle {{ font-weight: 700; }} QLabel {{ background: transparent; }}")
