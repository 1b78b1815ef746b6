"""CodeGen runs: one card per run with its status chip, elapsed time, pull-request and web links; the
focused run also shows its latest steps.  Clicking a card focuses it (the tracker then follows its logs).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from desktop.codegen.api import RunCategory
from desktop.events import RunFinished, RunStep, RunUpdate
from ui import links, theme
from ui.plain_text import PlainLabel, escape, shown
from ui.screen_fit import EMPTY_HEIGHT, HEADER_HEIGHT, PANEL_SPACING

MAX_STEPS = 6
CHIP = {RunCategory.RUNNING: ("Running", "accent"), RunCategory.DONE: ("Done", "ok"),
        RunCategory.FAILED: ("Failed", "bad"), RunCategory.UNKNOWN: ("Queued", "text_muted"),
        RunCategory.MISSING: ("Not found", "warn")}


def parse_created(created_at: str) -> float | None:
    if not created_at:
        return None
    try:
        t = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def is_local(url: str) -> bool:
    """A link to this machine (the offline demo's stand-in pages)."""
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "::1", "localhost")


def format_elapsed(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


class RunCard(QFrame):
    clicked = Signal(int)

    def __init__(self, run: RunUpdate, parent: QWidget | None = None, *, local_links: bool = False):
        super().__init__(parent)
        self.run_id = run.run_id
        self.local_links = local_links  # the offline demo: links to the stand-ins on this machine open too
        self.targets: dict[str, QUrl] = {}  # href -> the checked URL it opens (``links.target``)
        self.setObjectName("RunCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; Enter or Space shows its steps
        self.focused = False
        self.started = parse_created(run.created_at) or time.time()
        self.ended: float | None = None
        self.category = RunCategory.UNKNOWN
        col = QVBoxLayout(self)
        col.setContentsMargins(14, 12, 14, 12)
        col.setSpacing(6)
        head = QHBoxLayout()
        self.title = QLabel(f"Run #{run.run_id}")
        self.title.setObjectName("RunTitle")
        self.chip = QLabel()
        self.chip.setObjectName("Chip")
        self.elapsed = QLabel()
        self.elapsed.setProperty("muted", True)
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.elapsed)
        head.addWidget(self.chip)
        col.addLayout(head)
        self.prompt = PlainLabel(limit=180)
        self.prompt.setWordWrap(True)
        col.addWidget(self.prompt)
        self.summary = PlainLabel()
        self.summary.setWordWrap(True)
        self.summary.setProperty("muted", True)
        col.addWidget(self.summary)
        self.links = QLabel()
        self.links.setWordWrap(True)  # long pull-request titles wrap inside the card
        self.links.setTextFormat(Qt.TextFormat.RichText)  # our anchors; the service's text in them is escaped
        self.links.setOpenExternalLinks(False)  # never the system opener with a service URL: open_link checks it
        self.links.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                           | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.links.linkActivated.connect(self.open_link)
        col.addWidget(self.links)
        self.steps = QLabel()
        self.steps.setObjectName("Steps")
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.setWordWrap(True)
        self.steps.setVisible(False)
        col.addWidget(self.steps)
        self.step_lines: dict[int, str] = {}
        self.last: RunUpdate | None = None
        self.update_run(run)

    def update_run(self, run: RunUpdate) -> None:
        last = self.last
        if last is not None and not run.same_run(last):  # another run under a reused id: a fresh card
            self.ended = None
            self.started = parse_created(run.created_at) or time.time()
            self.step_lines.clear()
            self.steps.clear()
            self.steps.setVisible(False)
        run = self.last = run.after(last)
        self.category = RunCategory.parse(run.category)
        if run.prompt:
            self.prompt.setText(run.prompt)  # cut at 180 characters on screen
        self.summary.setText(run.summary)
        self.summary.setVisible(bool(run.summary))
        self.show_links(run)
        if self.category.final and self.ended is None:
            self.ended = run.updated_at or time.time()
        self.tick()
        self.restyle()
        # what a screen reader says on the card (accessible text is plain: never markup)
        self.setAccessibleName(f"Run #{self.run_id}, {CHIP[self.category][0]}")
        self.setAccessibleDescription(shown(" ".join(x for x in (self.last.prompt, self.last.summary) if x), 300)
                                      + " Enter shows its latest steps.")

    def show_links(self, run: RunUpdate) -> None:
        """The pull requests and the run's page: a link only to where ``links.target`` allows, labelled with
        its host; anything else as text."""
        targets: dict[str, QUrl] = {}
        parts: list[str] = []
        items = [(pr.url, "⤴ " + (pr.title or "Pull request")) for pr in run.pull_requests]
        if run.web_url:
            demo = self.local_links and is_local(run.web_url)
            items.append((run.web_url, "Open the demo page" if demo else "Open in CodeGen"))
        for url, label in items:
            markup, target = links.anchor(url, label, local=self.local_links)
            if target is not None:
                targets[url] = target
            parts.append(markup)
        self.targets = targets
        self.links.setText("&nbsp;&nbsp;·&nbsp;&nbsp;".join(parts))
        self.links.setVisible(bool(parts))

    def open_link(self, href: str) -> bool:
        """A click on one of the card's links: only a URL this card checked and offered is opened."""
        target = self.targets.get(href)
        return target is not None and links.open_target(target)

    def set_local_links(self, local: bool) -> None:
        if local != self.local_links:
            self.local_links = local
            if self.last is not None:
                self.show_links(self.last)

    def add_step(self, step: RunStep) -> None:
        self.step_lines[step.index] = step.text.strip().splitlines()[0] if step.text.strip() else step.message_type
        latest = sorted(self.step_lines)[-MAX_STEPS:]
        self.step_lines = {i: self.step_lines[i] for i in latest}
        self.steps.setText("<br>".join(f"›&nbsp;{escape(self.step_lines[i], 160)}" for i in latest))
        self.steps.setVisible(self.focused)

    def set_focused(self, focused: bool) -> None:
        self.focused = focused
        self.steps.setVisible(focused and bool(self.step_lines))
        self.restyle()

    def tick(self) -> None:
        end = self.ended or time.time()
        self.elapsed.setText(format_elapsed(end - self.started))
        self.elapsed.setVisible(self.category is not RunCategory.MISSING)  # how long it ran is not known

    def restyle(self) -> None:
        c = theme.current()
        label, role = CHIP[self.category]
        tone = getattr(c, role)
        self.chip.setText(label)
        border = c.accent if self.focused else c.border
        self.setStyleSheet(
            f"#RunCard {{ background: {c.surface_alt}; border: 1px solid {border}; border-radius: 10px; }}"
            f" #RunCard:focus {{ border: 2px solid {c.text}; }}"
            f" QLabel {{ background: transparent; }} #RunTitle {{ font-weight: 700; }}"
            f" #Chip {{ color: {tone}; background: {theme.mix(tone, c.surface_alt, 0.16)}; border-radius: 9px;"
            f" padding: 2px 10px;"
            f" font-size: 8.5pt; font-weight: 700; }}"
            f" #Steps {{ color: {c.text_muted}; font-family: 'DejaVu Sans Mono', monospace; font-size: 8.5pt; }}")

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if e.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.run_id)
        super().mousePressEvent(e)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and not e.isAutoRepeat():
            self.clicked.emit(self.run_id)
            return
        super().keyPressEvent(e)

    def keyReleaseEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            return  # the press was this card's
        super().keyReleaseEvent(e)


class RunsPanel(QFrame):
    focus_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("Panel")
        self.cards: dict[int, RunCard] = {}
        self.focused: int | None = None
        self.local_links = False  # the offline demo: the stand-ins' pages on this machine may be opened
        outer = QVBoxLayout(self)
        PANEL_SPACING.apply(outer, False)
        title = QLabel("CODEGEN RUNS")
        title.setObjectName("PanelTitle")
        title.setFixedHeight(HEADER_HEIGHT[False])  # the same as the conversation's header with its search field
        self.title = title
        outer.addWidget(title)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(0, 0, 4, 0)
        self.column.setSpacing(10)
        self.empty = QLabel("No runs yet.\nAsk Gemini to start one and it appears here with live progress.")
        self.empty.setProperty("muted", True)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setMinimumHeight(EMPTY_HEIGHT[False])
        self.column.addWidget(self.empty, 10)
        self.column.addStretch(1)
        scroll.setWidget(inner)
        outer.addWidget(scroll, 1)
        self.scroller = scroll
        self._clock = QTimer(self)  # the elapsed times of runs still going; stopped when none is
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)

    def on_update(self, run: RunUpdate) -> RunCard:
        card = self.cards.get(run.run_id)
        if card is None:
            card = self.cards[run.run_id] = RunCard(run, local_links=self.local_links)
            card.clicked.connect(self.focus)
            self.empty.setVisible(False)
            newer = sum(1 for rid in self.cards if rid > run.run_id)
            self.column.insertWidget(newer, card)  # newest on top, whatever order they arrive in
            if self.focused is None:
                self.focus(run.run_id, announce=False)
        else:
            card.update_run(run)
        self._run_clock()
        return card

    def set_local_links(self, local: bool) -> None:
        """Whether links to this machine open (only in the offline demo, whose stand-ins serve them)."""
        self.local_links = local
        for card in self.cards.values():
            card.set_local_links(local)

    def on_step(self, step: RunStep) -> None:
        card = self.cards.get(step.run_id)
        if card is not None:
            card.add_step(step)

    def on_finished(self, ev: RunFinished) -> None:
        card = self.cards.get(ev.run_id)
        if card is not None:
            last = card.last
            assert last is not None
            card.update_run(replace(last, status=ev.category, category=ev.category, summary=ev.summary,
                                    web_url=ev.web_url, updated_at=time.time()))
        self._run_clock()

    @property
    def active(self) -> list[int]:
        """Runs shown as still going (queued or running)."""
        return [rid for rid, card in self.cards.items() if not card.category.final]

    def focus(self, run_id: int, announce: bool = True) -> None:
        self.focused = run_id
        for rid, card in self.cards.items():
            card.set_focused(rid == run_id)
        if announce:
            self.focus_requested.emit(run_id)

    def reveal(self, run_id: int) -> None:
        """Scroll the run's card into view."""
        card = self.cards.get(run_id)
        if card is not None:
            self.scroller.ensureWidgetVisible(card, 0, 12)

    def _tick(self) -> None:
        for card in self.cards.values():
            if card.ended is None:
                card.tick()

    def _run_clock(self) -> None:
        """The clock ticks while a run is going, and not at all otherwise (idle costs nothing)."""
        going = any(card.ended is None for card in self.cards.values())
        if going != self._clock.isActive():
            if going:
                self._clock.start()
            else:
                self._clock.stop()

    def restyle(self) -> None:
        for card in self.cards.values():
            card.restyle()
