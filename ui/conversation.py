"""The conversation: user and assistant turns as they stream, tool calls inline, run news as Gemini's turns
linked to their run cards (spoken or shown only), older history on scroll-up, and full-text search over past
sessions.

History and search go through a ``HistorySource`` (the state store behind the bridge); the view asks for
one page at a time when the user scrolls to the top, and never blocks on it: answers arrive as calls to
``add_history_page`` / ``show_search_results``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.events import RunReport, ToolCallFinished, ToolCallStarted, TranscriptDelta
from ui import theme
from ui.plain_text import PlainLabel, escape, highlighted, shown
from ui.screen_fit import EMPTY_HEIGHT, HEADER_HEIGHT, PANEL_SPACING

PAGE_SIZE = 30
FIRST_TURN_AT = 3  # layout index of the oldest turn shown: after the stretch, the history note and the hint
ANCHOR_MS = 400  # how long a loaded history page holds the view in place while the layout settles
TEXT_REFRESH_MS = 50  # streamed text is re-laid out at most 20 times a second, however fast deltas arrive
MAX_BUBBLE_CHARS = 20_000  # a runaway stream keeps its tail; the full text is in the store
RESULT_CHARS = 600  # of each side of a turn in a search result (the session opens with the whole turn)


class HistoryTurn(Protocol):
    id: int
    session_id: str
    started_at: float
    user_text: str
    assistant_text: str


class HistorySource(Protocol):
    """What the view needs from the store; both calls answer later through the callbacks."""

    def load_page(self, before_id: int | None, limit: int, done: Callable[[Sequence[HistoryTurn]], None]) -> None: ...

    def search(self, text: str, limit: int, done: Callable[[Sequence[HistoryTurn]], None]) -> None: ...

    def session(self, session_id: str, done: Callable[[Sequence[HistoryTurn]], None]) -> None: ...


NOT_SPOKEN = {"off": "shown, not spoken: speaking run updates is off in Settings",
              "expired": "shown, not spoken: too old by the time it could be said"}


class Bubble(QFrame):
    run_clicked = Signal(int)

    def __init__(self, role: str, text: str = "", stamp: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.role = role
        self.stamp = stamp
        self.run_ids: tuple[int, ...] = ()  # run news: the runs it is about (linked to their cards)
        self.setObjectName("Bubble")
        self.setProperty("role", role)
        col = QVBoxLayout(self)
        self.col = col
        col.setContentsMargins(14, 10, 14, 10)
        col.setSpacing(4)
        self.who = QLabel(("You" if role == "user" else "Gemini") + (f"  ·  {stamp}" if stamp else ""))
        self.who.setObjectName("BubbleWho")
        self.body = PlainLabel(text, tail=True)  # a long reply shows its end (the whole of it is in the store)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        col.addWidget(self.who)
        col.addWidget(self.body)
        self.text = text
        self.matched = False  # the search match in a past session (outlined)
        self.restyle()

    def link_runs(self, run_ids: tuple[int, ...], note: str = "") -> None:
        """Mark this as Gemini's run news: a link to each run's card (and why it was not spoken, if it was not)."""
        self.run_ids = run_ids
        self.who.setText(f"Gemini  ·  {self.stamp}  ·  run update" if self.stamp else "Gemini  ·  run update")
        links = QLabel("  ·  ".join(f'<a href="run:{rid}">Run #{rid}</a>' for rid in run_ids)
                       + (f"<br><span style='font-size: 8.5pt'>{escape(note)}</span>" if note else ""))
        links.setObjectName("RunLinks")
        links.setTextFormat(Qt.TextFormat.RichText)
        links.setWordWrap(True)
        links.setToolTip("Show the run's card")
        links.linkActivated.connect(lambda href: self.run_clicked.emit(int(href.split(":", 1)[1])))
        self.col.addWidget(links)
        self.links = links

    def show_highlighted(self, text: str, query: str) -> None:
        """Show ``text`` with the words of ``query`` marked."""
        self.text = text
        words = query.split()
        if not words:
            self.body.setText(text)
            return
        c = theme.current()
        self.body.show_marked(highlighted(text, words, f"background:{theme.mix(c.warn, c.surface, 0.45)}"), text)

    def append(self, text: str) -> None:
        """Add streamed text; it is shown at the next ``refresh`` (the view batches those per frame)."""
        self.text = (self.text + text)[-MAX_BUBBLE_CHARS:]

    def refresh(self) -> None:
        if self.body.full_text != self.text:
            self.body.setText(self.text)

    def restyle(self) -> None:
        c = theme.current()
        bg = c.user_bubble if self.role == "user" else c.assistant_bubble
        border = c.warn if getattr(self, "matched", False) else bg if self.role == "user" else c.border
        self.setStyleSheet(f"#Bubble {{ background: {bg}; border: 1px solid {border}; border-radius: 14px; }}"
                           f" QLabel {{ background: transparent; }} #BubbleWho {{ color: {c.text_muted};"
                           f" font-size: 8.5pt; font-weight: 600; }}")


def describe_args(args: Mapping[str, Any], limit: int = 140) -> str:
    if not args:
        return ""
    text = ", ".join(f"{k}: {v}" if isinstance(v, str) else f"{k}: {json.dumps(v)}" for k, v in args.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_result(ev: ToolCallFinished) -> str:
    """What the tool found, as data (Gemini's spoken answer is in the reply bubble: not repeated here)."""
    if ev.error:
        return f"Failed: {ev.error}"
    r = ev.result
    if r.get("needs_confirmation"):
        return "Read back to you: nothing starts until you say yes"
    if r.get("nothing_pending"):
        return "Nothing was waiting for a yes: no run started"
    if "runs" in r:
        runs = r["runs"]
        listed = ", ".join(f"#{x.get('run_id')} {x.get('category', '')}".strip() for x in runs[:6])
        return f"{len(runs)} run{'s' if len(runs) != 1 else ''}" + (f": {listed}" if listed else "")
    if r.get("run_id") is not None:
        text = f"Run #{r['run_id']}" + (f" · {r['category']}" if r.get("category") else "")
        if r.get("steps"):
            text += f" · {len(r['steps'])} step{'s' if len(r['steps']) != 1 else ''}"
        return text
    return "Done" if not r else describe_args({k: v for k, v in r.items() if k != "speech"})


class ToolCard(QFrame):
    def __init__(self, ev: ToolCallStarted, parent: QWidget | None = None):
        super().__init__(parent)
        self.call_id = ev.call_id
        self.setObjectName("ToolCard")
        col = QVBoxLayout(self)
        col.setContentsMargins(12, 8, 12, 8)
        col.setSpacing(3)
        head = QHBoxLayout()
        self.name = PlainLabel(f"⚙  {ev.name.replace('_', ' ')}", limit=80)
        self.name.setObjectName("ToolName")
        self.status = QLabel("working…")
        self.status.setObjectName("ToolStatus")
        head.addWidget(self.name)
        head.addStretch(1)
        head.addWidget(self.status)
        col.addLayout(head)
        self.args = PlainLabel(describe_args(ev.args))
        self.args.setWordWrap(True)
        self.args.setProperty("muted", True)
        self.args.setVisible(bool(ev.args))
        col.addWidget(self.args)
        self.result = PlainLabel("")
        self.result.setWordWrap(True)
        self.result.setVisible(False)
        col.addWidget(self.result)
        self.state = "running"
        self.restyle()

    def finish(self, ev: ToolCallFinished) -> None:
        if ev.error:
            self.state, status = "failed", f"failed · {ev.duration_ms:.0f} ms"
        elif ev.result.get("needs_confirmation"):
            self.state, status = "running", "waiting for your yes"  # nothing has started yet
        elif ev.result.get("nothing_pending"):
            self.state, status = "done", "nothing started"
        else:
            self.state, status = "done", f"done · {ev.duration_ms:.0f} ms"
        self.status.setText(status)
        self.result.setText(describe_result(ev))
        self.result.setVisible(True)
        self.restyle()

    def restyle(self) -> None:
        c = theme.current()
        tone = {"running": c.accent, "done": c.ok, "failed": c.bad}[self.state]
        self.setStyleSheet(f"#ToolCard {{ background: {c.surface_alt}; border: 1px solid {c.border};"
                           f" border-left: 3px solid {tone}; border-radius: 8px; }} QLabel {{ background: transparent; }}"
                           f" #ToolName {{ font-weight: 700; }} #ToolStatus {{ color: {tone}; font-size: 8.5pt;"
                           f" font-weight: 600; }}")


class ConversationView(QFrame):
    history_wanted = Signal(object)  # before_id (int | None)
    search_wanted = Signal(str)
    run_clicked = Signal(int)  # a run update's link to a run card

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("Panel")
        # live bubbles by session, then by (turn, role): every session counts its turns from 1 (a restart after
        # Settings, Reconnect), so a new session's turn 1 never streams into an old session's bubble
        self.sessions: dict[int, dict[tuple[int, str], Bubble]] = {0: {}}
        self.session_no = 0
        self.run_news: list[Bubble] = []  # Gemini's run updates, spoken or shown only, in order
        self.tools: dict[str, ToolCard] = {}
        self.history_source: HistorySource | None = None
        self.oldest_history_id: int | None = None
        self.history_done = False
        self._loading = False
        self._stick_to_bottom = True
        self._anchor: int | None = None  # after a history page: keep this distance from the bottom

        outer = QVBoxLayout(self)
        PANEL_SPACING.apply(outer, False)
        head = QHBoxLayout()
        title = QLabel("CONVERSATION")
        title.setObjectName("PanelTitle")
        head.addWidget(title)
        head.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search past sessions")
        self.search.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Tab, a click or Ctrl+F (never the opening focus)
        self.search.setAccessibleName("Search past sessions")
        self.search.setClearButtonEnabled(True)
        self.search.setFixedWidth(220)
        self.search.setFixedHeight(HEADER_HEIGHT[False])
        self.search.setEnabled(False)
        self.search.setToolTip("Search needs the history store")
        head.addWidget(self.search)
        outer.addLayout(head)

        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(0, 0, 6, 0)
        self.column.setSpacing(10)
        # spare height goes above the turns: the latest turn sits at the bottom edge, never above a blank
        self.column.addStretch(1)
        self.history_label = QLabel("")
        self.history_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.history_label.setProperty("muted", True)
        self.history_label.setVisible(False)
        self.column.addWidget(self.history_label)
        self.empty = QLabel("Hold <b>Space</b> or the microphone button and ask for a change,<br>"
                            "e.g. <i>“Create a pull request that fixes the flaky login test.”</i>")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("muted", True)
        self.empty.setWordWrap(True)
        self.empty.setMinimumHeight(EMPTY_HEIGHT[False])
        self.column.addWidget(self.empty, 10)  # while there is no turn, the hint takes the panel's middle
        self.scroller.setWidget(inner)
        self.stack.addWidget(self.scroller)
        self.results = QListWidget()
        self.results.setObjectName("SearchResults")
        self.results.setWordWrap(True)
        self.results.setSpacing(4)
        self.results.setCursor(Qt.CursorShape.PointingHandCursor)
        self.results.setToolTip("Open the session of this turn")
        self.results.itemActivated.connect(self._open_result)
        self.results.itemClicked.connect(self._open_result)
        self.stack.addWidget(self.results)
        self.past = QWidget()
        past = QVBoxLayout(self.past)
        past.setContentsMargins(0, 0, 0, 0)
        past.setSpacing(8)
        top = QHBoxLayout()
        self.back = QPushButton("← Back to results")
        self.back.setProperty("flat", True)
        self.back.setCursor(Qt.CursorShape.PointingHandCursor)
        self.back.clicked.connect(lambda: self.stack.setCurrentWidget(self.results))
        self.back.setAccessibleDescription("Back to the search results")
        self.past_title = QLabel("")
        self.past_title.setProperty("muted", True)
        top.addWidget(self.back)
        top.addStretch(1)
        top.addWidget(self.past_title)
        past.addLayout(top)
        self.past_scroll = QScrollArea()
        self.past_scroll.setWidgetResizable(True)
        self.past_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        past.addWidget(self.past_scroll, 1)
        self.past_bubbles: list[Bubble] = []
        self.stack.addWidget(self.past)

        self.jump = QPushButton("↓  Latest", self.scroller)
        self.jump.setObjectName("JumpToLatest")
        self.jump.setProperty("primary", True)
        self.jump.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.jump.setToolTip("Jump to the latest turn")
        self.jump.clicked.connect(self.scroll_to_latest)
        self.jump.hide()
        bar = self.scroller.verticalScrollBar()
        bar.valueChanged.connect(self._scrolled)
        bar.rangeChanged.connect(self._range_changed)
        self._dirty: set[Bubble] = set()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(TEXT_REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._search_timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

    # ------------------------------------------------------------------ live turns
    def set_empty_hint(self, key_name: str) -> None:
        self.empty.setText(f"Hold <b>{escape(key_name, 40)}</b> or the microphone button and ask for a change,<br>"
                           "e.g. <i>“Create a pull request that fixes the flaky login test.”</i>")

    def _insert(self, w: QWidget, role: str = "assistant", index: int | None = None) -> None:
        self.empty.setVisible(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if role == "user":
            row.addStretch(1)
        row.addWidget(w, 6)
        if role != "user":
            row.addStretch(1)
        holder = QWidget()
        holder.setLayout(row)
        self.column.insertWidget(self.column.count() if index is None else index, holder)

    @property
    def bubbles(self) -> dict[tuple[int, str], Bubble]:
        """The current session's bubbles by (turn, role)."""
        return self.sessions[self.session_no]

    def end_session(self) -> None:
        """The session ended (its last event has arrived): the next one's turns get bubbles of their own."""
        self.session_no += 1
        self.sessions[self.session_no] = {}

    def add_delta(self, ev: TranscriptDelta) -> None:
        key = (ev.turn_id, ev.role)
        bubble = self.bubbles.get(key)
        if bubble is None:
            bubble = self.bubbles[key] = Bubble(ev.role, "", dt.datetime.now().strftime("%H:%M"))
            self._insert(bubble, ev.role)
            bubble.append(ev.text)
            bubble.refresh()  # the first words of a turn show at once
            return
        bubble.append(ev.text)
        self._dirty.add(bubble)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def add_run_report(self, ev: RunReport) -> Bubble:
        """Run news as Gemini's turn: the bubble of the turn that speaks it, or one with the news shown only."""
        stamp = dt.datetime.now().strftime("%H:%M")
        key = (ev.turn_id if ev.turn_id is not None else -1, "assistant")
        bubble = self.bubbles.get(key) if ev.spoken and ev.turn_id is not None else None
        if bubble is None:
            bubble = Bubble("assistant", "" if ev.spoken else ev.text, stamp)
            if ev.spoken and ev.turn_id is not None:  # Gemini's words stream into it
                self.bubbles[key] = bubble
            self._insert(bubble, "assistant")
        bubble.link_runs(ev.run_ids, NOT_SPOKEN.get(ev.why_not_spoken, "") if not ev.spoken else "")
        bubble.run_clicked.connect(self.run_clicked)
        self.run_news.append(bubble)
        return bubble

    def refresh(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for bubble in dirty:
            bubble.refresh()

    def add_tool_started(self, ev: ToolCallStarted) -> None:
        card = self.tools[ev.call_id] = ToolCard(ev)
        self._insert(card, "tool")

    def add_tool_finished(self, ev: ToolCallFinished) -> None:
        card = self.tools.get(ev.call_id)
        if card is None:
            card = self.tools[ev.call_id] = ToolCard(ToolCallStarted(ev.turn_id, ev.call_id, ev.name, ev.args))
            self._insert(card, "tool")
        card.finish(ev)

    def restyle(self) -> None:
        for bubbles in self.sessions.values():
            for b in bubbles.values():
                b.restyle()
        for t in self.tools.values():
            t.restyle()

    # ------------------------------------------------------------------ history (lazy, newest first)
    def enable_history(self, source: HistorySource) -> None:
        self.history_source = source
        self.search.setEnabled(True)
        self.search.setToolTip("Full-text search over your past sessions")
        self.request_history()

    def request_history(self) -> None:
        if self.history_source is None or self.history_done or self._loading:
            return
        self._loading = True
        self.history_label.setText("Loading earlier conversations…")
        self.history_label.setVisible(True)
        self.history_source.load_page(self.oldest_history_id, PAGE_SIZE, self.add_history_page)

    def add_history_page(self, turns: Sequence[HistoryTurn]) -> None:
        self._loading = False
        if len(turns) < PAGE_SIZE:
            self.history_done = True
        bar = self.scroller.verticalScrollBar()
        from_bottom = bar.maximum() - bar.value()
        for t in turns:  # newest first: each goes above the ones already shown
            stamp = dt.datetime.fromtimestamp(t.started_at).strftime("%d %b %H:%M") if t.started_at else ""
            if t.assistant_text:
                self._insert(Bubble("assistant", t.assistant_text, stamp), "assistant", FIRST_TURN_AT)
            if t.user_text:
                self._insert(Bubble("user", t.user_text, stamp), "user", FIRST_TURN_AT)
            self.oldest_history_id = t.id if self.oldest_history_id is None else min(self.oldest_history_id, t.id)
        self.history_label.setText("Beginning of your history" if self.history_done else "")
        self.history_label.setVisible(self.history_done and self.oldest_history_id is not None)
        # the page went in above: as the layout grows, keep what the user saw (the latest turn at first)
        self._anchor = from_bottom
        bar.setValue(bar.maximum() - from_bottom)
        QTimer.singleShot(ANCHOR_MS, self._release_anchor)

    def _release_anchor(self) -> None:
        self._anchor = None
        self._update_jump()

    def scroll_to_latest(self) -> None:
        self._stick_to_bottom = True
        bar = self.scroller.verticalScrollBar()
        bar.setValue(bar.maximum())
        self._update_jump()

    def _scrolled(self, value: int) -> None:
        bar = self.scroller.verticalScrollBar()
        if self._anchor is None:
            self._stick_to_bottom = value >= bar.maximum() - 24
        if value == bar.minimum() and bar.maximum() > 0 and self._anchor is None:
            self.request_history()
        self._update_jump()

    def _range_changed(self, _lo: int, hi: int) -> None:
        bar = self.scroller.verticalScrollBar()
        if self._anchor is not None:
            bar.setValue(hi - self._anchor)
        elif self._stick_to_bottom:
            bar.setValue(hi)
        self._update_jump()

    def _update_jump(self) -> None:
        bar = self.scroller.verticalScrollBar()
        away = bar.maximum() > 0 and bar.value() < bar.maximum() - 24 and self._anchor is None
        if away != self.jump.isVisible():
            self.jump.setVisible(away)
        if away:
            self._place_jump()

    def _place_jump(self) -> None:
        self.jump.adjustSize()
        vp = self.scroller.viewport().geometry()
        self.jump.move(vp.right() - self.jump.width() - 12, vp.bottom() - self.jump.height() - 10)
        self.jump.raise_()

    def resizeEvent(self, e) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(e)
        if self.jump.isVisible():
            self._place_jump()

    # ------------------------------------------------------------------ search
    def _run_search(self) -> None:
        text = self.search.text().strip()
        if not text or self.history_source is None:
            self.stack.setCurrentWidget(self.scroller)
            return
        self.history_source.search(text, 50, self.show_search_results)

    def show_search_results(self, turns: Sequence[HistoryTurn]) -> None:
        if not self.search.text().strip():
            return
        self.results.clear()
        if not turns:
            self.results.addItem(QListWidgetItem("No past turn matches."))
        for t in turns:
            stamp = dt.datetime.fromtimestamp(t.started_at).strftime("%d %b %Y %H:%M") if t.started_at else ""
            item = QListWidgetItem(f"{stamp}\nYou: {shown(t.user_text, RESULT_CHARS)}\n"
                                   f"Gemini: {shown(t.assistant_text, RESULT_CHARS)}".strip())
            item.setData(Qt.ItemDataRole.UserRole, (t.session_id, t.id))
            self.results.addItem(item)
        self.stack.setCurrentWidget(self.results)

    def _open_result(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        if not key or self.history_source is None:
            return
        session_id, turn_id = key
        query = self.search.text().strip()
        self.history_source.session(session_id, lambda turns: self.show_session(turns, turn_id, query))

    def show_session(self, turns: Sequence[HistoryTurn], match_id: int, query: str) -> None:
        """A past session, the matching turn highlighted and scrolled into view."""
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 6, 0)
        col.setSpacing(10)
        self.past_bubbles = []
        target: QWidget | None = None
        for t in turns:
            stamp = dt.datetime.fromtimestamp(t.started_at).strftime("%d %b %H:%M") if t.started_at else ""
            for role, text in (("user", t.user_text), ("assistant", t.assistant_text)):
                if not text:
                    continue
                b = Bubble(role, "", stamp)
                b.show_highlighted(text, query if t.id == match_id else "")
                b.matched = t.id == match_id
                b.restyle()
                self.past_bubbles.append(b)
                col.addWidget(b)
                if t.id == match_id and target is None:
                    target = b
        col.addStretch(1)
        self.past_scroll.setWidget(inner)
        first = next((t for t in turns if t.started_at), None)
        self.past_title.setText(dt.datetime.fromtimestamp(first.started_at).strftime("Session of %d %b %Y")
                                if first else "Session")
        self.stack.setCurrentWidget(self.past)
        if target is not None:
            QTimer.singleShot(0, lambda: self.past_scroll.ensureWidgetVisible(target, 0, 40))
