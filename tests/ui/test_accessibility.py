"""Screen readers: every control has an accessible name and a description (its keys included), and state
changes are announced (listening, thinking, muted, a run finished, an error)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QWidget

from desktop.events import RunFinished


def controls(win) -> list[QWidget]:
    conv = win.conversation
    return [win.perf_button, win.settings_button, win.mute, win.send, win.ptt, win.text, conv.search,
            conv.scroller, conv.results, win.runs.scroller, win.indicator, win.level, win.confirm_card,
            *win.focus_stops()]


def said_for(w: QWidget) -> tuple[str, str]:
    """The name and description a screen reader gets for ``w`` (a button without a set name says its text)."""
    iface = QAccessible.queryAccessibleInterface(w)
    assert iface is not None, w
    return iface.text(QAccessible.Text.Name).strip(), iface.text(QAccessible.Text.Description).strip()


def test_every_control_has_a_name_and_a_description(qtbot, window):
    win = window
    for w in controls(win):
        name, description = said_for(w)
        assert name and description, (w, name, description)
    assert win.indicator.accessibleName() == "State: Ready"
    assert "Ctrl+M" in win.mute.accessibleDescription() and "Ctrl+L" in win.text.accessibleDescription()
    win.set_muted(True)
    assert win.mute.accessibleName() == "Unmute microphone"
    win.set_muted(False)
    assert win.mute.accessibleName() == "Mute microphone"


def test_state_changes_are_announced(qtbot, window):
    win = window
    said = win.announcer.said
    said.clear()
    qtbot.keyPress(win.root, Qt.Key.Key_Space)
    assert said[-1] == ("Listening", False)
    qtbot.keyRelease(win.root, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    win.text.setText("list my runs")
    qtbot.keyPress(win.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("Thinking", False) in said, timeout=10_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    win.set_muted(True)
    assert said[-1] == ("Microphone muted", False)
    win.set_muted(False)
    assert said[-1] == ("Ready", False)
    win.bridge.run_finished.emit(RunFinished(4242, "done", "Opened a pull request <b>fixing</b> the test"))
    assert said[-1] == ("Run #4242 finished: Opened a pull request <b>fixing</b> the test", False)
    win.on_state("error", "The service closed the connection")
    assert said[-1] == ("Error: The service closed the connection", True)  # said at once
    count = len(said)
    win.on_state("error", "The service closed the connection")
    assert len(said) == count  # said once, not again for the same state


def test_a_question_from_gemini_shows_and_says_that_it_is_your_turn(qtbot, window):
    """After a question the Live stand-in says it waits for the user (waitingForInput, as 3.8 does): the
    state pill reads "Your turn" instead of "Ready" and a screen reader hears it; the next turn clears it."""
    from desktop.events import WAITING_FOR_YOU

    win = window
    said = win.announcer.said
    win.text.setText("purple elephant")  # not understood: the stand-in asks the user to say it again
    qtbot.keyPress(win.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.indicator.label == "Your turn", timeout=15_000)
    assert win.state == "ready" and said[-1] == (WAITING_FOR_YOU, False)
    turns = len(win.conversation.bubbles)
    win.text.setText("list my runs")  # a request that is answered, not asked back
    qtbot.keyPress(win.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(win.conversation.bubbles) > turns and win.indicator.label == "Ready", timeout=15_000)
