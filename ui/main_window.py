"""The main window: state, push-to-talk, level, conversation, runs, messages; settings and performance.

The window only paints and forwards: every engine command goes through the ``EngineBridge``; every engine
event arrives as one of its signals.  The push-to-talk key is handled by an application event filter so
it works wherever the focus is in the window, and through ``KeyRepeatFilter`` so a held key is one turn
however the platform reports auto-repeat.  Focus rule: the window opens with the focus on itself (ready to
talk); the key types only in the search box and in a request box that already has text; sending a typed
request (or Esc) hands the focus back to the window.  The hint under the title always says what the key
does right now.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QIcon, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabBar,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.assets import asset
from desktop.codegen.api import RunCategory
from desktop.config import LAUNCH, SESSION, Settings, changed_settings
from desktop.events import (
    ConfirmationAsked,
    EngineState,
    ErrorEvent,
    LatencyDrift,
    Notice,
    ProfileChanged,
    PullRequest,
    RunFinished,
    RunUpdate,
    TurnFinished,
)
from desktop.metrics import advice
from desktop.state.runs import RunRecord
from ui import theme
from ui.announce import Announcer
from ui.banner import MessageArea
from ui.bridge import EngineBridge, effective_settings
from ui.confirm_card import CANCEL_TEXT, START_TEXT, ConfirmCard
from ui.conversation import ConversationView
from ui.cost_line import CostLine
from ui.history import LocalHistory, StoreHistory
from ui.hotkey import GlobalHotkey
from ui.key_repeat import KeyRepeatFilter
from ui.keyboard_help import SHORTCUTS, KeyboardHelp
from ui.level_meter import LevelMeter
from ui.perf_panel import PerfPanel, stage_words
from ui.plain_text import PlainLabel, shown, tooltip
from ui.ptt_button import PushToTalkButton
from ui.qt_app import DEFAULT_SIZE
from ui.runs_panel import RunCard, RunsPanel
from ui.screen_fit import (
    COMPACT_HEIGHT,
    ShrinkingColumn,
    Spacing,
    compact_panel,
    fit_dialog,
    fit_main_window,
    scrolling,
)
from ui.settings_dialog import SettingsDialog
from ui.state_indicator import StateIndicator
from ui.tray import Tray
from ui.update_notice import UpdateCheck
from ui.window_state import WindowState, step

if TYPE_CHECKING:
    from ui.earcons import Earcons  # numpy: loaded behind the first frame (ui.app)

log = logging.getLogger(__name__)
NOTICE_SECONDS = 8
# notices that need the user (kind -> banner title); the others are passing information for the status line
BANNER_NOTICES = {"no_microphone": "Microphone", "storage": "History", "codegen": "CodeGen", "settings": "Settings"}
TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox, QComboBox)
# controls that Space itself activates: with the focus on one, Space is theirs (it talks everywhere else)
SPACE_CONTROLS = (QAbstractButton, QTabBar, RunCard)
RESTORED_RUNS = 20  # runs of earlier sessions shown at start
MINIMUM_SIZE = (700, 620)  # everything fits without clipping down to here (checked by tests/e2e)
NARROW = 960  # below this width the runs panel goes under the conversation
OUTER_SPACING = Spacing((20, 16, 20, 20, 14), (10, 6, 10, 6, 4))
BAR_SPACING = Spacing((16, 10, 18, 10, 16), (10, 3, 12, 3, 10))
PTT_DIAMETER = {False: 72, True: 36}  # normal, compact
NOT_CONNECTED = "Not connected yet: talk or type once the state says Ready."
# a session that ended on one of these is started again by itself, after each wait in turn (the last repeats)
RECONNECT_KINDS = ("network", "timeout", "protocol")
RECONNECT_DELAYS_S = (2, 5, 10, 20, 30, 60)
STABLE_AFTER_S = 30  # a session up this long starts the waits from the shortest again
PROFILE_WORDS = {"performance": "Full quality", "balanced": "Balanced quality", "saver": "Battery saver"}


def key_matches(e: QKeyEvent, key_name: str) -> bool:
    return QKeySequence(e.key()).toString().lower() == key_name.strip().lower()


def key_matches_name(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


class MainWindow(QMainWindow):
    settings_applied = Signal(object)  # Settings
    notified = Signal(str, str)  # title, text (a desktop notification was shown)

    def __init__(self, settings: Settings, bridge: EngineBridge | None = None, *, earcons: Earcons | None = None,
                 tray: Tray | None = None):
        super().__init__()
        app = QApplication.instance()
        assert isinstance(app, QApplication), "the window needs a QApplication"
        self._app = app
        self.settings = settings
        self.bridge = bridge or EngineBridge(self)
        self.earcons = earcons
        self.model = WindowState()  # what the window shows: changed only through ``_step`` (ui.window_state)
        self.offline = False
        self.global_hotkey: GlobalHotkey | None = None
        self.keys = KeyRepeatFilter(self)
        self.force_quit = False  # close even while runs are active (quit confirmed, tray Quit, tests)
        self.quit_box: QMessageBox | None = None
        self._closed = False
        self.compact = False  # the short window's layout (ui.screen_fit.COMPACT_HEIGHT)
        self.setWindowTitle("Gemini CodeGen")
        self.setWindowIcon(QIcon(str(asset("icons", "gemini-codegen.svg"))))
        fit_main_window(self, DEFAULT_SIZE, MINIMUM_SIZE)  # as far as the screen allows (high DPI, small screens)
        self._build()
        self._describe()
        self.announcer = Announcer(self)  # state changes said to a screen reader
        self._announced = ""
        self.reconnects = 0  # sessions started again by the window itself after a network problem
        self._retry_attempt = 0
        self._retry_at = 0.0
        self._retry_event: ErrorEvent | None = None
        self._retry_title = ""
        self._send_with = ""  # how the turn being listened to is sent, when not with the push-to-talk key
        self._retry_timer = QTimer(self)
        self._retry_timer.setInterval(250)
        self._retry_timer.timeout.connect(self._retry_tick)
        self._stable_timer = QTimer(self)
        self._stable_timer.setSingleShot(True)
        self._stable_timer.setInterval(STABLE_AFTER_S * 1000)
        self._stable_timer.timeout.connect(self._session_held)
        self._ready_once = False
        self._had_error = False
        self.updates = UpdateCheck(self.messages, self)
        self._updates_asked = False  # once per run of the app, when its first live session is up
        self.tray = tray or Tray(self)
        self._wire()
        self._app.installEventFilter(self)
        self.apply_settings(settings, restart=False)
        self.history = LocalHistory(settings, self)  # local: works before a session starts, and when none can
        self.conversation.enable_history(self.history)
        self.root.setFocus()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        root = QWidget()
        root.setObjectName("Root")
        root.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the window itself holds the focus: ready to talk
        self.root = root
        self.setCentralWidget(root)
        outer = QVBoxLayout(root)
        self._outer = outer
        OUTER_SPACING.apply(outer, False)

        header = QHBoxLayout()
        header.setSpacing(12)
        logo = QLabel()
        logo.setPixmap(QIcon(str(asset("icons", "gemini-codegen.svg"))).pixmap(30, 30))
        header.addWidget(logo)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        title = QLabel("Gemini CodeGen")
        title.setObjectName("AppTitle")
        self.subtitle = QLabel("")
        self.subtitle.setProperty("muted", True)
        self.subtitle.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)  # never cut
        self.cost = CostLine()  # this session's and today's tokens, estimated price (hidden until known)
        titles.addWidget(title)
        titles.addWidget(self.subtitle)
        titles.addWidget(self.cost)
        header.addLayout(titles)
        header.addStretch(1)
        self.status = PlainLabel("")
        self.status.setProperty("muted", True)
        self.status.setMaximumWidth(420)
        self.status.setStyleSheet("font-size: 9pt;")
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.timeout.connect(lambda: self.status.setText(""))
        header.addWidget(self.status)
        self.profile = QLabel("")
        self.profile.setProperty("muted", True)
        header.addWidget(self.profile)
        self.indicator = StateIndicator()
        header.addWidget(self.indicator)
        self.perf_button = QPushButton("Performance")
        self.perf_button.setProperty("flat", True)
        self.settings_button = QPushButton("Settings")
        self.settings_button.setProperty("flat", True)
        for b in (self.perf_button, self.settings_button):
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click leaves the focus (and Space) alone
            header.addWidget(b)
        outer.addLayout(header)

        # between the header and the talk bar: the banners, the panels and the request read back; where they do
        # not fit (1366x768 at 200 % with a banner and a read-back) they scroll, and the talk bar stays on screen
        body = QWidget()
        column = ShrinkingColumn(body)
        column.setContentsMargins(0, 0, 0, 0)
        self._body_column = column
        self.body = scrolling(body)
        self.body.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # not a Tab stop: Tab goes to the controls in it
        outer.addWidget(self.body, 1)
        self.messages = MessageArea()
        column.addWidget(self.messages)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.split = split
        split.setHandleWidth(14)
        split.setChildrenCollapsible(False)
        self.conversation = ConversationView()
        self.runs = RunsPanel()
        split.addWidget(self.conversation)
        split.addWidget(self.runs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 420])
        column.addWidget(split, 1)
        self.confirm_card = ConfirmCard()  # the request read back, whole, with Start / Cancel (hidden until one)
        column.addWidget(self.confirm_card)
        column.setSpacing(OUTER_SPACING.normal[4])

        bar = QFrame()
        bar.setObjectName("Card")
        row = QHBoxLayout(bar)
        self._bar_row = row
        BAR_SPACING.apply(row, False)
        self.ptt = PushToTalkButton(diameter=PTT_DIAMETER[False])
        row.addWidget(self.ptt)
        self.mute = QPushButton("Mute")
        self.mute.setCheckable(True)
        self.mute.setCursor(Qt.CursorShape.PointingHandCursor)
        self.mute.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.mute.setToolTip("Mute the microphone: nothing is captured until you unmute")
        self.mute.setAccessibleName("Mute microphone")
        row.addWidget(self.mute)
        col = QVBoxLayout()
        self._bar_col = col
        col.setSpacing(8)
        self.hint = QLabel("")
        self.hint.setObjectName("Hint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("font-size: 11pt; font-weight: 600;")
        self.level = LevelMeter()
        col.addStretch(1)
        col.addWidget(self.hint)
        col.addWidget(self.level)
        col.addStretch(1)
        row.addLayout(col, 2)
        self.text = QLineEdit()
        self.text.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Tab and a click; a new window opens on itself
        self.text.setPlaceholderText("…or type a request and press Enter")
        # Qt's default cuts a paste at 32,767 characters without a word; the box keeps all of it and a request
        # over the engine's limit is refused on Send, saying the limit (nothing typed is lost)
        self.text.setMaxLength(2**31 - 1)
        self.text.setMinimumHeight(38)
        self.send = QPushButton("Send")
        self.send.setProperty("primary", True)
        self.send.setMinimumHeight(38)
        self.send.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        row.addWidget(self.text, 3)
        row.addWidget(self.send)
        outer.addWidget(bar)
        self.perf = PerfPanel(self)
        self.help: KeyboardHelp | None = None

    def _describe(self) -> None:
        """Accessible names and descriptions: what a screen reader says for each control (keys included)."""
        conv = self.conversation
        for w, name, description in (
            (self.root, "Gemini CodeGen", "Hold Space to talk; F1 lists the keys"),
            (self.perf_button, "Performance", "Latency of every stage, measured in the app. Ctrl+P"),
            (self.settings_button, "Settings", "Keys, endpoints, audio, push-to-talk and behaviour. Ctrl+comma"),
            (self.mute, "Mute microphone", "Closes the microphone: nothing is captured until you unmute. Ctrl+M"),
            (self.send, "Send request", "Sends the typed request. Enter in the request box"),
            (self.ptt, "Push to talk", "Hold it, or hold Enter on it, while you speak; release to send"),
            (self.text, "Request", "Type a request and press Enter to send it. Ctrl+L"),
            (conv.search, "Search past sessions", "Full-text search over your history. Ctrl+F"),
            (conv.scroller, "Conversation", "Your turns and Gemini's replies, newest at the bottom"),
            (conv.results, "Search results", "Enter opens the session of a turn"),
            (self.runs.scroller, "CodeGen runs", "Each run with its state; Enter on a run shows its steps"),
            (self.indicator, "", "What the assistant is doing now"),
            (self.level, "Input level", "How loud the microphone is"),
            (self.hint, "Hint", "What the push-to-talk key does right now"),
            (self.confirm_card, "", "The request read back, whole. Enter or Start starts it, Esc or Cancel does not"),
        ):
            if name:  # the pill names itself with its state ("State: Ready"), the card with what it asks
                w.setAccessibleName(name)
            w.setAccessibleDescription(description)

    def focus_stops(self) -> list[QWidget]:
        """Where Tab goes, in the order the eye reads the window: the window itself (ready to talk), the header,
        the banners' buttons, search and the conversation, the run cards, the request read back, then the talk
        bar.  Built at each Tab, so banners and run cards that came later are in their place; hidden or
        disabled controls are skipped."""
        conv = self.conversation
        stops: list[QWidget] = [self.root, self.perf_button, self.settings_button]
        for msg in self.messages.messages.values():
            stops += [b for b in (msg.button, msg.close_button) if b is not None]
        stops += [conv.search, conv.scroller, conv.results, conv.back, self.runs.scroller]
        column = self.runs.column
        items = (column.itemAt(i) for i in range(column.count()))
        stops += [w for w in (item.widget() for item in items if item is not None) if isinstance(w, RunCard)]
        stops += [self.confirm_card, self.ptt, self.mute, self.text, self.send]
        return [w for w in stops if w.isVisible() and w.isEnabled()
                and (w is self.root or w.focusPolicy() & Qt.FocusPolicy.TabFocus)]

    def focusNextPrevChild(self, forward: bool) -> bool:  # noqa: N802 - Qt API
        stops = self.focus_stops()
        current = QApplication.focusWidget()
        while current is not None and current not in stops and current is not self:
            current = current.parentWidget()  # e.g. inside a scroll area
        if current not in stops:
            return super().focusNextPrevChild(forward)
        target = stops[(stops.index(current) + (1 if forward else -1)) % len(stops)]
        target.setFocus(Qt.FocusReason.TabFocusReason if forward else Qt.FocusReason.BacktabFocusReason)
        return True

    def _wire(self) -> None:
        b = self.bridge
        b.state_changed.connect(self.on_state)
        b.transcript.connect(self.conversation.add_delta)
        b.tool_started.connect(self.conversation.add_tool_started)
        b.tool_finished.connect(self.conversation.add_tool_finished)
        b.turn_finished.connect(self.on_turn_finished)
        b.confirmation_asked.connect(self.show_read_back)
        b.confirmation_closed.connect(self.confirm_card.close_ask)
        b.cost_update.connect(lambda ev: self.cost.show_update(ev, self.settings.prices))
        b.turn_finished.connect(lambda _ev: self.confirm_card.turn_finished())
        self.confirm_card.answered.connect(self.answer_read_back)
        b.level.connect(lambda ev: self.level.set_level(ev.rms_dbfs, ev.peak_dbfs, ev.speech))
        b.error.connect(self.on_error)
        b.notice.connect(self.on_notice)
        b.run_update.connect(self.runs.on_update)
        b.run_step.connect(self.runs.on_step)
        b.run_finished.connect(self.on_run_finished)
        b.run_report.connect(self.conversation.add_run_report)
        self.conversation.run_clicked.connect(self.show_run)
        b.metrics_snapshot.connect(self.on_metrics)
        b.profile_changed.connect(self.on_profile)
        b.latency_drift.connect(self.on_latency_drift)
        b.session_started.connect(self.on_session_started)
        b.session_stopped.connect(lambda: self._step("session_stopped"))
        b.session_stopped.connect(self.conversation.end_session)  # a new session counts its turns from 1 again
        self.indicator.painted.connect(lambda _s, secs: self.bridge.record_metric("ui.key_to_paint", secs))
        self.ptt.pressed.connect(lambda at: self.press(at, f"release {self.ptt.held_with}"))
        self.ptt.released.connect(self.release)
        self.keys.pressed.connect(self._key_pressed)
        self.keys.released.connect(self._key_released)
        self.text.textChanged.connect(lambda _t: self._update_hint())
        self._app.focusChanged.connect(self._focus_changed)
        self.text.returnPressed.connect(self.send_text)
        self.send.clicked.connect(self.send_text)
        self.settings_button.clicked.connect(lambda: self.open_settings())
        self.perf_button.clicked.connect(self.perf.show)
        self.messages.action.connect(self.on_action)
        self.runs.focus_requested.connect(self.bridge.focus_run)
        self.tray.talk.connect(lambda on: self.press(time.perf_counter(), "choose Push to talk in the tray again")
                               if on else self.release())
        self.tray.mute_changed.connect(self.set_muted)
        self.mute.toggled.connect(self.set_muted)
        self.tray.show_window.connect(self._raise)
        self.tray.quit_requested.connect(self.quit)
        theme.follow_os(self._app, self.restyle)
        actions = {"settings": lambda: self.open_settings(), "performance": self.perf.show,
                   "mute": lambda: self.set_muted(not self.muted), "type": self.focus_text,
                   "search": self.focus_search, "help": self.show_keyboard_help}
        self.shortcuts: dict[str, list[QShortcut]] = {}
        for name, (keys, _what) in SHORTCUTS.items():
            self.shortcuts[name] = []
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.activated.connect(actions[name])
                self.shortcuts[name].append(shortcut)

    # ------------------------------------------------------------------ keyboard
    def focus_text(self) -> None:
        self.text.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_search(self) -> None:
        search = self.conversation.search
        search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        search.selectAll()

    def show_keyboard_help(self) -> KeyboardHelp:
        if self.help is not None and self.help.isVisible():
            self.help.raise_()
            return self.help
        self.help = KeyboardHelp(self.settings.ptt_key, self.settings.ptt_mode, self)
        self.help.open()
        return self.help

    # ------------------------------------------------------------------ settings
    def apply_settings(self, settings: Settings, restart: bool = True) -> None:
        old = self.settings
        self.settings = settings
        key = settings.ptt_key
        self.ptt.setToolTip(self._hint(False))
        self._update_hint()
        self.conversation.set_empty_hint(key)
        self._set_global_hotkey(settings.global_hotkey, key)
        if restart:  # each setting says when its change takes effect (desktop.config: LIVE, SESSION, LAUNCH)
            changed = changed_settings(old, settings)
            if SESSION in changed.values():
                self._cancel_reconnect()
                self.bridge.restart(effective_settings(settings))  # a new session takes every setting
            else:  # live switches in the running session
                if changed.keys() & {"speak_run_updates", "run_update_max_age_s"}:
                    self.bridge.apply_run_updates(settings)  # from its next update
                if "quality_profile" in changed:
                    self.bridge.apply_quality(settings)  # between turns, the session goes on
            if "confirm_before_create" in changed:
                self.bridge.apply_consent(settings)  # the running session, at once
            if "check_updates" in changed and not settings.check_updates:
                self.updates.hide()
            if LAUNCH in changed.values():
                self.on_notice(Notice("Saved: " + ", ".join(n.replace("_", " ") for n, w in changed.items()
                                                            if w == LAUNCH) + " takes effect at the next start",
                                      kind="settings-launch"))
        self.settings_applied.emit(settings)

    def _hint(self, listening: bool) -> str:
        key, mode = self.settings.ptt_key, self.settings.ptt_mode
        if mode == "hands-free":
            return "Hands-free: just speak"
        if listening:  # what ends this turn: it depends on how it was started
            return f"Listening… {self._send_with or (('release ' if mode == 'hold' else 'press ') + key)} to send"
        return f"Hold {key} to talk" if mode == "hold" else f"Press {key} to talk, again to send"

    def _typing(self) -> bool:
        """The push-to-talk key would type in the focused text field instead of talking."""
        w = QApplication.focusWidget()
        return w is not None and w.window() is self and isinstance(w, TEXT_INPUTS) and not self._key_talks_in(w)

    def _key_talks_in(self, w: QWidget) -> bool:
        return w is self.text and not self.text.text()

    @staticmethod
    def _space_activates(w: QObject | None) -> bool:
        """``w`` is a control that Space itself activates (a button, a tab, a run card)."""
        return isinstance(w, SPACE_CONTROLS)

    def _focused_control(self) -> str:
        """The name of the focused control that takes Space, or "" (Space then talks)."""
        w = QApplication.focusWidget()
        if w is None or w.window() is not self or not self._space_activates(w):
            return ""
        if isinstance(w, RunCard):
            return f"Run #{w.run_id}"
        return w.accessibleName() or (w.text() if isinstance(w, QAbstractButton) else "") or "the focused control"

    def _focus_changed(self, _old: QWidget | None, _new: QWidget | None) -> None:
        self._update_hint()

    def _update_hint(self) -> None:
        control = "" if self.listening or self.settings.ptt_mode == "hands-free" else self._focused_control()
        if not self.listening and self._typing() and self.settings.ptt_mode != "hands-free":
            text = ("Searching: Esc goes back to talking" if QApplication.focusWidget() is self.conversation.search
                    else "Typing: Enter sends, Esc goes back to talking")
        elif control and key_matches_name("Space", self.settings.ptt_key):
            text = f"Space presses {control.replace(chr(10), ' ')[:40]}: Esc goes back to talking"
        elif self.muted:
            text = "Microphone muted: Unmute to talk"
        else:
            text = self._hint(self.listening)
        if self.hint.text() != text:
            self.hint.setText(text)

    def _set_global_hotkey(self, enabled: bool, key: str) -> None:
        if self.global_hotkey is not None:
            self.global_hotkey.stop()
            self.global_hotkey = None
        if not enabled:
            return
        hk = GlobalHotkey(key, self)
        reason = hk.start()
        if reason:
            self.messages.show_notice("hotkey", reason, "warn", "Global hotkey")
            return
        hk.pressed.connect(lambda t: None if self.isActiveWindow() else self.keys.press(t))
        hk.released.connect(lambda: None if self.isActiveWindow() else self.keys.release())
        self.global_hotkey = hk

    def open_settings(self, tab: str = "accounts") -> SettingsDialog:
        dlg = SettingsDialog(self.settings, self, tab=tab)
        dlg.accepted.connect(lambda: self.apply_settings(dlg.result_settings) if dlg.result_settings else None)
        dlg.open()
        return dlg

    # ------------------------------------------------------------------ push-to-talk
    def eventFilter(self, obj: QObject, e: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = e.type()
        if kind == QEvent.Type.Show and isinstance(obj, QDialog) and obj.isWindow():
            fit_dialog(obj)  # every dialog opens inside the screen's available area, at any scale
            return False
        if kind == QEvent.Type.WindowDeactivate and obj is self and self.keys.down:
            self.keys.cancel()  # the key's release goes to the window that took the focus
            self.release()
            return False
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        at = time.perf_counter()
        if not isinstance(obj, QWidget) or obj.window() is not self:
            return False
        ke: QKeyEvent = e  # type: ignore[assignment]
        escape = kind == QEvent.Type.KeyPress and ke.key() == Qt.Key.Key_Escape
        if escape and (obj in (self.text, self.conversation.search, self.ptt) or isinstance(obj, SPACE_CONTROLS)):
            self.root.setFocus(Qt.FocusReason.OtherFocusReason)  # back to talking
            return True
        if isinstance(obj, TEXT_INPUTS):
            if not self._key_talks_in(obj) and not (self.keys.down and kind == QEvent.Type.KeyRelease):
                return False
        if (ke.key() == Qt.Key.Key_Space and self._space_activates(obj)
                and not (self.keys.down and kind == QEvent.Type.KeyRelease)):
            return False  # the focused button takes its Space (a turn that was open still ends on the release)
        if not key_matches(ke, self.settings.ptt_key):
            return False
        if self.settings.ptt_mode == "hands-free":
            return False
        if kind == QEvent.Type.KeyPress:
            self.keys.press(at, ke.timestamp(), ke.isAutoRepeat())
        else:
            self.keys.release(ke.timestamp(), ke.isAutoRepeat())
        return True

    def _key_pressed(self, at: float) -> None:
        if self.settings.ptt_mode == "toggle" and self.listening:
            self.release()
        else:
            self.press(at)

    def _key_released(self) -> None:
        if self.settings.ptt_mode == "hold":
            self.release()

    def press(self, at: float, send_with: str = "") -> None:
        """Start a turn; ``send_with``: what the user does to send it, when not the push-to-talk key (the
        microphone button's "release the mouse button", the tray's "choose Push to talk in the tray again")."""
        if self.listening:
            return
        self._send_with = send_with
        self.model = step(self.model, "microphone", not self._no_microphone())
        why = self.model.refusal  # nobody would hear it: say why, never "Listening"
        if why == "muted":
            self.messages.show_notice("muted", "The microphone is muted: click Unmute to talk, or type your "
                                      "request.", "warn", "Muted")
            return
        if why == "not-ready":
            self.messages.show_notice("not-ready", NOT_CONNECTED, "warn", "Not connected")
            return
        if why == "no-microphone":
            self.messages.show_advice("error:no_microphone", "No microphone", "There is no working microphone: "
                                      "nothing you say can be heard.", "Type your request, or choose a microphone.",
                                      "Audio settings", "audio-settings")
            return
        self.indicator.mark_pressed(at)
        self._step("press")  # local feedback now; the engine confirms through state_changed
        self._update_hint()
        if self.earcons:
            self.earcons.play("start")
        if not self.bridge.press(at):
            self.messages.show_notice("not-ready", NOT_CONNECTED, "warn", "Not connected")
            self.release()  # back to the state it was in, not a "Listening" nobody hears

    def release(self) -> None:
        if not self.listening:
            return
        self._step("release")
        self._update_hint()
        if self.earcons:
            self.earcons.play("stop")
        self.bridge.release()

    @property
    def listening(self) -> bool:
        """The talk key (or button) is down and the window took it: the person sees "Listening"."""
        return self.model.key_down

    @property
    def state(self) -> EngineState:
        """The state the window shows."""
        return self.model.shown

    @property
    def muted(self) -> bool:
        return self.bridge.muted

    def _no_microphone(self) -> bool:
        """The session runs with the microphone's devices but none is open (none found, or it was lost)."""
        b = self.bridge
        if not b.use_audio_devices or b.engine is None or self.muted:
            return False
        return b.mic is None or not b.mic.is_open

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the microphone (the window's button and the tray's item stay in step)."""
        if muted and self.listening:
            self.keys.cancel()
            self.release()  # the turn ends with what was captured before muting
        self.bridge.set_muted(muted)
        for control in (self.mute, self.tray.mute_action):
            if control.isChecked() != muted:
                control.blockSignals(True)
                control.setChecked(muted)
                control.blockSignals(False)
        self.mute.setText("Unmute" if muted else "Mute")
        self.mute.setAccessibleName("Unmute microphone" if muted else "Mute microphone")
        self.mute.setProperty("primary", muted)
        self.mute.style().unpolish(self.mute)
        self.mute.style().polish(self.mute)
        self.ptt.muted = muted
        self.ptt.update()
        self.messages.clear("notice:muted")
        self._step("mute", muted)
        self._update_hint()

    def send_text(self) -> None:
        text = self.text.text().strip()
        if not text:
            return
        from desktop.engine import typed_too_long  # (loaded by the bridge already; not on the launch path)

        if (too_long := typed_too_long(text)) is not None:
            self.messages.show_notice("too-long", too_long + " Shorten it, then send again.", "warn",
                                      "Request too long")
            return
        self.messages.clear("notice:too-long")
        if self.bridge.send_text(text) is None:
            self.messages.show_notice("not-ready", NOT_CONNECTED, "warn", "Not connected")
            return
        self.text.clear()
        self.root.setFocus()  # back to talking: the key is push-to-talk again, and the hint says so

    def show_read_back(self, ev: ConfirmationAsked) -> None:
        """A request read back: the card with all of it, scrolled into view with its Start / Cancel buttons."""
        self.confirm_card.show_ask(ev)
        QTimer.singleShot(0, lambda: self.body.ensureWidgetVisible(self.confirm_card, 0, 0))

    def answer_read_back(self, yes: bool) -> None:
        """The confirmation card's Start / Cancel: the user's own answer, sent like a typed one."""
        if self.bridge.send_text(START_TEXT if yes else CANCEL_TEXT) is None:
            self.messages.show_notice("not-ready", "Not connected yet: wait for Ready, then answer again.", "warn",
                                      "Not ready")
            self.confirm_card.turn_finished()

    # ------------------------------------------------------------------ engine events
    def _step(self, event: str, *args: object) -> None:
        """One transition of the window's state model, then every widget that shows it drawn from it."""
        self.model = step(self.model, event, *args)
        m = self.model
        state, muted = m.shown, m.shown_muted
        self.indicator.set_state(state, m.detail, muted=muted)
        self._announce_state(state, m.detail, muted)
        self.tray.set_state(state, muted=muted)
        self.ptt.set_active(state is EngineState.LISTENING)
        self.ptt.enabled_for_input = m.accepts_input
        self.ptt.update()

    # what is said when the state changes (a reply is heard, not announced over; a first Ready is not news)
    SAID = {EngineState.LISTENING: "Listening", EngineState.THINKING: "Thinking",
            EngineState.CLOSED: "Disconnected"}

    def _announce_state(self, state: EngineState, detail: str, muted: bool) -> None:
        waiting = self.indicator.waiting_for_you  # Gemini asked something and waits for the answer
        before, self._announced = self._announced, "muted" if muted else "waiting" if waiting else state.value
        if self._announced == before:
            return
        if muted:
            self.announcer.say("Microphone muted")
        elif waiting:
            self.announcer.say(detail)
        elif state is EngineState.ERROR:
            self._had_error = True
            self.announcer.say("Error" + (f": {detail}" if detail else ""), assertive=True)
        elif state is EngineState.READY:
            if before in ("error", "closed", "muted", "connecting") and (self._ready_once or self._had_error):
                self.announcer.say("Ready")  # back after a problem, a reconnect or unmuting (not the first start)
            self._ready_once = True
        elif state in self.SAID:
            self.announcer.say(self.SAID[state])

    def on_state(self, name: str, detail: str) -> None:
        self._step("engine", EngineState(name), detail)

    def on_profile(self, ev: ProfileChanged) -> None:
        self.profile.setText(PROFILE_WORDS.get(ev.profile, ev.profile.title()))
        self.profile.setVisible(self.width() >= NARROW)
        self.profile.setToolTip(tooltip(f"Quality profile: {ev.profile} ({ev.reason})"))

    def on_session_started(self, offline: bool) -> None:
        self.offline = offline
        self._step("session_started")
        if self._retry_event is not None or self.reconnects:  # back after trying again by itself
            self._cancel_reconnect()
            for kind in RECONNECT_KINDS:
                self.messages.clear(f"error:{kind}")
        self._stable_timer.start()
        self.subtitle.setText(("Offline demo · " if offline else "") + self.settings.model)
        self.runs.set_local_links(offline)  # the stand-ins' pages on this machine open only in the demo
        if offline:
            self.messages.show_offline()
        else:
            self.messages.clear("offline")
        if not self._updates_asked:  # behind the window, once it works: never in the offline demo
            self._updates_asked = not offline  # (keys added later: the live session that follows asks)
            self.check_for_updates(offline)
        if self.bridge.store is not None and self.conversation.history_source is None:
            self.conversation.enable_history(StoreHistory(self.bridge))
        # the runs of earlier sessions, finished or not (those not finished are being followed again)
        self.bridge.query(lambda store: store.runs.recent(RESTORED_RUNS), self._show_stored_runs)

    def _show_stored_runs(self, runs: list[RunRecord]) -> None:
        for r in runs:
            if r.run_id not in self.runs.cards:
                prs = tuple(PullRequest(pr.title, pr.url, pr.branch) for pr in r.pull_requests)
                self.runs.on_update(RunUpdate(r.run_id, r.status, r.category, r.prompt, r.summary, r.web_url, prs,
                                              r.created_at, r.updated_at))

    def check_for_updates(self, offline: bool) -> bool:
        """Ask the release feed in the background (if allowed and due: ``desktop.updates``); a newer release
        shows a notice."""
        return self.updates.start(self.settings, demo=offline)

    def on_turn_finished(self, ev: TurnFinished) -> None:
        if not self.listening:
            self.ptt.set_active(False)

    def on_error(self, ev: ErrorEvent) -> None:
        # a connection that never came up was not lost: say which it was
        self.messages.show_error(ev, self.model.connection_title(ev.kind))
        if ev.kind in RECONNECT_KINDS and (ev.fatal or not self.model.session_up):  # the session is over, or never began
            self._schedule_reconnect(ev)

    def on_notice(self, ev: Notice) -> None:
        """Problems the user should act on get a banner; passing information goes to the status line."""
        if ev.kind == "offline":
            return  # the offline banner says it
        if ev.kind == "microphone_back":
            self.messages.clear("error:no_microphone")  # and the status line says which one listens now
        if ev.kind in BANNER_NOTICES:
            self.messages.show_notice(ev.kind, ev.message, "warn", BANNER_NOTICES[ev.kind])
            return
        metrics = self.status.fontMetrics()
        self.status.setText(metrics.elidedText(shown(ev.message), Qt.TextElideMode.ElideRight,
                                               self.status.maximumWidth()))
        self.status.setToolTip(tooltip(ev.message))
        self._status_timer.start(NOTICE_SECONDS * 1000)

    def show_run(self, run_id: int) -> None:
        """A run update's link: the run's card, focused and scrolled into view."""
        if run_id in self.runs.cards:
            self.runs.focus(run_id)
            self.runs.reveal(run_id)

    @property
    def in_view(self) -> bool:
        """The user can see the window (not hidden in the tray, minimised or behind another window)."""
        return self.isVisible() and not self.isMinimized() and self.isActiveWindow()

    def on_run_finished(self, ev: RunFinished) -> None:
        """The card shows it and the conversation gets Gemini's update (RunReport); a desktop notification
        only when the window is out of view."""
        self.runs.on_finished(ev)
        outcome = "finished" if ev.category == RunCategory.DONE else ev.category
        self.announcer.say(f"Run #{ev.run_id} {outcome}" + (f": {ev.summary}" if ev.summary else ""))
        if not self.in_view:
            title = f"Run #{ev.run_id} {outcome}"
            text = ev.summary or ev.web_url or "See the runs panel."
            if not self.tray.notify(title, text):
                QApplication.alert(self)
            self.notified.emit(title, text)

    def on_metrics(self, snap) -> None:
        over = self.perf.update_snapshot(snap)
        self.perf_button.setText("Performance ⚠" if over else "Performance")
        self.perf_button.setToolTip("Slower than its goal: " + "; ".join(stage_words(n) for n in over) + ". "
                                    + advice(over) if over else "Latency of every stage, measured in the app")

    def on_latency_drift(self, ev: LatencyDrift) -> None:
        self.messages.show_advice("drift", "Replies are slowing down", ev.message, ev.action, "Fresh session",
                                  "fresh-session")
        self.perf.show_drift(ev)

    def on_action(self, action: str) -> None:
        if action == "fresh-session":
            self.messages.clear("drift")
            self.perf.show_drift(None)
            if self.bridge.fresh_session() is None:
                self.messages.show_notice("not-ready", "Not connected yet: try again once Ready.", "warn", "Not ready")
        elif action == "settings":
            self.open_settings("accounts")
        elif action == "open-update":
            self.updates.open_page()
        elif action == "audio-settings":
            self.open_settings("audio")
        elif action == "reconnect":
            self._cancel_reconnect()
            for kind in RECONNECT_KINDS:
                self.messages.clear(f"error:{kind}")
            self.bridge.restart(effective_settings(self.settings))

    # ------------------------------------------------------------------ reconnecting by itself
    def _schedule_reconnect(self, ev: ErrorEvent) -> None:
        """A session that ended on the network (or a timeout, or a protocol error) is tried again by itself,
        waiting longer each time (RECONNECT_DELAYS_S); the banner's title counts down to the next try."""
        delay = RECONNECT_DELAYS_S[min(self._retry_attempt, len(RECONNECT_DELAYS_S) - 1)]
        self._retry_attempt += 1
        self._retry_event = ev
        msg = self.messages.messages.get(f"error:{ev.kind}")
        self._retry_title = msg.title.text() if msg is not None else "Not connected"
        self._retry_at = time.monotonic() + delay
        self._retry_timer.start()
        self._show_retry()

    def _retry_tick(self) -> None:
        if time.monotonic() < self._retry_at:
            self._show_retry()
            return
        self._retry_timer.stop()
        self.reconnects += 1
        ev = self._retry_event
        msg = self.messages.messages.get(f"error:{ev.kind}") if ev is not None else None
        if msg is not None:
            msg.title.setText(f"{self._retry_title} · reconnecting…")
        self._stable_timer.stop()
        self.bridge.restart(effective_settings(self.settings))

    def _show_retry(self) -> None:
        ev = self._retry_event
        msg = self.messages.messages.get(f"error:{ev.kind}") if ev is not None else None
        if ev is None or msg is None:
            return
        left = max(1, math.ceil(self._retry_at - time.monotonic()))
        text = f"{self._retry_title} · trying again in {left} s (try {self._retry_attempt})"
        if msg.title.text() != text:
            msg.title.setText(text)

    def _cancel_reconnect(self) -> None:
        self._retry_timer.stop()
        self._retry_event = None

    def _session_held(self) -> None:
        """The session stayed up: the next problem starts the waits from the shortest again."""
        self._retry_attempt = 0

    def restyle(self) -> None:
        self.messages.restyle()
        self.confirm_card.restyle()
        self.conversation.restyle()
        self.runs.restyle()
        for w in (self.indicator, self.ptt, self.level):
            w.update()

    def resizeEvent(self, e) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(e)
        small = self.minimumSize()
        if self.width() < small.width() or self.height() < small.height():
            # some window managers let a window be resized below its minimum: grow back, never clip
            QTimer.singleShot(0, lambda: self.resize(self.size().expandedTo(small)))
        narrow = self.width() < NARROW
        self._set_compact(self.height() < COMPACT_HEIGHT)
        # narrow: the runs go under the conversation, unless the window is also short (200 % on a laptop), where
        # side by side is what fits
        short = self.height() < MINIMUM_SIZE[1]
        want = Qt.Orientation.Vertical if narrow and not short else Qt.Orientation.Horizontal
        if self.split.orientation() != want:
            self.split.setOrientation(want)
            total = self.split.height() if want is Qt.Orientation.Vertical else self.split.width()
            self.split.setSizes([total * 3 // 5, total - total * 3 // 5])  # the conversation gets 3/5
        self.profile.setVisible(not narrow and bool(self.profile.text()))  # room for the title when narrow

    def _set_compact(self, compact: bool) -> None:
        """The compact layout for a short window (1366x768 at 200 %): the talk bar stays on screen."""
        if compact == self.compact:
            return
        self.compact = compact
        OUTER_SPACING.apply(self._outer, compact)
        self._body_column.setSpacing(self._outer.spacing())
        BAR_SPACING.apply(self._bar_row, compact)
        self._bar_col.setSpacing(2 if compact else 8)
        self.ptt.set_diameter(PTT_DIAMETER[compact])
        compact_panel(self.conversation, self.conversation.search, self.conversation.empty, compact)
        compact_panel(self.runs, self.runs.title, self.runs.empty, compact)
        self.confirm_card.set_compact(compact)

    def showEvent(self, e) -> None:  # noqa: N802 - Qt API
        super().showEvent(e)
        handle = self.windowHandle()
        if handle is not None and not getattr(self, "_follows_screen", False):
            self._follows_screen = True
            handle.screenChanged.connect(lambda _s: fit_main_window(self, DEFAULT_SIZE, MINIMUM_SIZE))

    def _raise(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, e: QCloseEvent) -> None:  # noqa: N802 - Qt API
        active = self.runs.active
        if active and not self.force_quit:
            e.ignore()
            if self.tray.available:  # keep following the runs from the tray
                self.hide()
                self.tray.notify("Still following your runs",
                                 f"Run #{active[0]} is in progress; the app keeps running in the tray.")
            else:
                self._ask_to_quit(active)
            return
        if not self._closed:
            self._closed = True
            self._app.removeEventFilter(self)
            self._app.focusChanged.disconnect(self._focus_changed)
            if self.global_hotkey is not None:
                self.global_hotkey.stop()
            self._cancel_reconnect()
            self._stable_timer.stop()
            self.bridge.stop()
            self.history.close()
            self.tray.icon.hide()
        super().closeEvent(e)

    def _ask_to_quit(self, active: list[int]) -> QMessageBox:
        runs = ", ".join(f"#{rid}" for rid in active)
        box = QMessageBox(QMessageBox.Icon.Question, "Quit while a run is going?",
                          f"CodeGen run {runs} is still in progress. Quit anyway? The run goes on at CodeGen "
                          "and the app follows it again when you open it.",
                          QMessageBox.StandardButton.Cancel, self)
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _r: self.quit() if box.clickedButton() is quit_button else None)
        self.quit_box = box
        box.open()
        return box

    def quit(self) -> None:
        """Close for good (the tray's Quit, or the user confirmed)."""
        self.force_quit = True
        self.close()
