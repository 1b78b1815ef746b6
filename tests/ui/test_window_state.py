"""The window's state model, one test per transition of its table (ui.window_state), then the same
transitions through the real window: the pill, the tray and the push-to-talk button all show the model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop.events import EngineState as S
from ui.window_state import TRANSITIONS, WindowState, step

READY = WindowState(engine=S.READY, session_up=True)
HELD = WindowState(engine=S.LISTENING, key_down=True, session_up=True)

# (name, before, event and its arguments, the pill after, muted pill after, key down after)
CASES = [
    ("press when ready listens", READY, ("press",), S.LISTENING, False, True),
    ("press while connecting is refused", WindowState(), ("press",), S.CONNECTING, False, False),
    ("press in the error state is refused", READY.__class__(engine=S.ERROR), ("press",), S.ERROR, False, False),
    ("press when closed is refused", WindowState(engine=S.CLOSED), ("press",), S.CLOSED, False, False),
    ("press when muted is refused", WindowState(engine=S.READY, muted=True), ("press",), S.READY, True, False),
    ("press without a microphone is refused", WindowState(engine=S.READY, microphone=False), ("press",), S.READY,
     False, False),
    ("press while thinking listens (barge-in)", WindowState(engine=S.THINKING), ("press",), S.LISTENING, False, True),
    ("press while speaking listens (barge-in)", WindowState(engine=S.SPEAKING), ("press",), S.LISTENING, False,
     True),
    ("release shows the engine's state", HELD, ("release",), S.LISTENING, False, False),
    ("release before the engine confirmed", READY.__class__(engine=S.READY, key_down=True), ("release",), S.READY,
     False, False),
    ("the engine thinking while the key is down: still listening", HELD, ("engine", S.THINKING), S.LISTENING, False,
     True),
    ("the engine ready while the key is down: still listening", HELD, ("engine", S.READY), S.LISTENING, False, True),
    ("an error while the key is down shows at once", HELD, ("engine", S.ERROR, "lost"), S.ERROR, False, False),
    ("closed while the key is down shows at once", HELD, ("engine", S.CLOSED), S.CLOSED, False, False),
    ("the engine ready", WindowState(), ("engine", S.READY), S.READY, False, False),
    ("the engine thinking", READY, ("engine", S.THINKING), S.THINKING, False, False),
    ("the engine speaking", READY, ("engine", S.SPEAKING), S.SPEAKING, False, False),
    ("hands-free: the engine listening", READY, ("engine", S.LISTENING), S.LISTENING, False, False),
    ("mute when ready", READY, ("mute", True), S.READY, True, False),
    ("mute while the key is down ends the press", HELD, ("mute", True), S.LISTENING, True, False),
    ("unmute", WindowState(engine=S.READY, muted=True), ("mute", False), S.READY, False, False),
    ("muted is not shown over thinking", WindowState(engine=S.THINKING, muted=True), ("engine", S.THINKING),
     S.THINKING, False, False),
    ("the microphone goes", READY, ("microphone", False), S.READY, False, False),
    ("the microphone comes back", WindowState(engine=S.READY, microphone=False), ("microphone", True), S.READY,
     False, False),
    ("a session starts", WindowState(), ("session_started",), S.CONNECTING, False, False),
    ("a session ends: closed", READY, ("session_stopped",), S.CLOSED, False, False),
    ("a session ends on an error: the error stays", WindowState(engine=S.ERROR, detail="lost", session_up=True),
     ("session_stopped",), S.ERROR, False, False),
    ("a session ends while the key is down", HELD, ("session_stopped",), S.CLOSED, False, False),
]


@pytest.mark.parametrize(("before", "event", "pill", "muted", "key_down"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_transition(before, event, pill, muted, key_down):
    after = step(before, *event)
    assert (after.shown, after.shown_muted, after.key_down) == (pill, muted, key_down)


def test_every_transition_of_the_table_is_tested():
    assert {c[2][0] for c in CASES} == set(TRANSITIONS)


@pytest.mark.parametrize(("before", "why"), [
    (WindowState(), "not-ready"), (WindowState(engine=S.ERROR), "not-ready"), (WindowState(engine=S.CLOSED),
                                                                                "not-ready"),
    (WindowState(engine=S.ERROR, muted=True), "muted"), (WindowState(engine=S.READY, microphone=False),
                                                         "no-microphone"),
    (READY, None), (HELD, None),
])
def test_a_refused_press_says_why(before, why):
    assert before.refusal == why


def test_connection_errors_are_lost_only_once_the_session_came_up():
    assert WindowState().connection_title("network") == "Cannot connect"
    assert READY.connection_title("network") is None  # the kind's own: "Network lost"
    assert step(READY, "session_stopped").connection_title("network") == "Cannot connect"
    assert WindowState().connection_title("auth") is None


def test_the_window_draws_every_part_from_the_model(qtbot, window):
    """Through the real window: engine states, the key, mute and a session ending, each seen on the pill, the
    tray and the push-to-talk button alike."""
    win = window

    def shows(label: str) -> None:
        assert win.indicator.label == label and win.tray.state is win.model.shown, (label, win.model)

    shows("Ready")
    assert win.ptt.enabled_for_input
    qtbot.keyPress(win.root, Qt.Key.Key_Space)
    shows("Listening")
    assert win.ptt.active
    win.on_state("thinking", "")  # the key still down: the person still sees "Listening"
    shows("Listening")
    win.on_state("error", "The connection to Gemini was lost")
    shows("Error")
    assert not win.listening and not win.ptt.active and not win.ptt.enabled_for_input
    qtbot.keyRelease(win.root, Qt.Key.Key_Space)
    win.on_state("ready", "")
    win.set_muted(True)
    shows("Muted")
    win.set_muted(False)
    shows("Ready")
