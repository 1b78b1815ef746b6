"""Keyboard only: Tab reaches every control in reading order with a visible focus ring; Space talks except on a
control that Space itself activates; shortcuts for Settings, Mute, the request box and search, listed in the
help (F1 or ?).  Real key events through Qt (offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import make_window
from ui.keyboard_help import SHORTCUTS, KeyboardHelp
from ui.settings_dialog import SettingsDialog


def give_focus(qtbot, win, widget) -> None:
    """The focus on ``widget``, in the active window (as a person's Tab leaves it)."""
    def has_it() -> bool:
        if not win.isActiveWindow():
            win.activateWindow()
        widget.setFocus(Qt.FocusReason.TabFocusReason)
        return widget.hasFocus()

    qtbot.waitUntil(has_it, timeout=3000)


@pytest.fixture
def win(qtbot, themed_app, memory_keyring):
    w = make_window(qtbot)
    qtbot.waitUntil(lambda: "offline" in w.messages.messages, timeout=5000)  # the window has settled
    give_focus(qtbot, w, w.root)
    yield w
    w.quit()


def focused():
    return QApplication.focusWidget()


def tab(qtbot, backwards: bool = False):
    w = focused()
    qtbot.keyClick(w, Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab,
                   Qt.KeyboardModifier.ShiftModifier if backwards else Qt.KeyboardModifier.NoModifier)
    return focused()


def test_tab_reaches_every_control_in_reading_order_and_back_to_talking(qtbot, win):
    conv = win.conversation
    qtbot.waitUntil(conv.search.isEnabled, timeout=5000)  # history is local: search works from the start
    stops = []
    for _ in range(20):
        w = tab(qtbot)
        stops.append(w)
        if w is win.root:
            break
    wanted = [win.perf_button, win.settings_button, conv.search, win.ptt, win.mute, win.text, win.send, win.root]
    assert [w for w in stops if w in wanted] == wanted, [type(w).__name__ for w in stops]
    assert stops[-1] is win.root  # Tab comes round to the window itself: ready to talk again
    # and backwards
    assert tab(qtbot, backwards=True) is win.send
    assert tab(qtbot, backwards=True) is win.text


@pytest.mark.parametrize("name", ["perf_button", "settings_button", "mute", "send", "ptt", "text"])
def test_the_focused_control_shows_a_focus_ring(qtbot, win, name):
    control = getattr(win, name)
    give_focus(qtbot, win, win.root)
    before = control.grab().toImage()
    give_focus(qtbot, win, control)
    control.repaint()
    after = control.grab().toImage()
    assert before != after  # something visibly changed: the ring


def test_space_talks_unless_a_focused_button_takes_it(qtbot, win):
    # on the window itself: Space talks
    qtbot.keyPress(win.root, Qt.Key.Key_Space)
    assert win.listening
    qtbot.keyRelease(win.root, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    # on Mute: Space presses Mute (and the hint says so), nothing is captured
    while focused() is not win.mute:
        tab(qtbot)
    assert "Space presses" in win.hint.text() and "Esc" in win.hint.text()
    qtbot.keyClick(win.mute, Qt.Key.Key_Space)
    assert win.muted and not win.listening
    qtbot.keyClick(win.mute, Qt.Key.Key_Space)
    assert not win.muted and not win.listening
    # on the microphone button: Space (the push-to-talk key) and Enter both talk
    give_focus(qtbot, win, win.ptt)
    qtbot.keyPress(win.ptt, Qt.Key.Key_Space)
    assert win.listening
    qtbot.keyRelease(win.ptt, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    qtbot.keyPress(win.ptt, Qt.Key.Key_Return)
    assert win.listening
    qtbot.keyRelease(win.ptt, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    # Esc on a button goes back to talking
    give_focus(qtbot, win, win.send)
    qtbot.keyClick(win.send, Qt.Key.Key_Escape)
    assert focused() is win.root
    qtbot.keyPress(win.root, Qt.Key.Key_Space)
    assert win.listening
    qtbot.keyRelease(win.root, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)


def test_the_hint_says_how_to_send_the_way_the_turn_was_started(qtbot, win):
    qtbot.keyPress(win.root, Qt.Key.Key_Space)
    assert win.hint.text() == "Listening… release Space to send"
    qtbot.keyRelease(win.root, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    win.tray.talk_action.setChecked(True)  # the tray's Push to talk: a toggle, no key held
    assert win.listening and win.hint.text() == "Listening… choose Push to talk in the tray again to send"
    win.tray.talk_action.setChecked(False)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    qtbot.mousePress(win.ptt, Qt.MouseButton.LeftButton)
    assert win.listening and win.hint.text() == "Listening… release the mouse button to send"
    qtbot.mouseRelease(win.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    give_focus(qtbot, win, win.ptt)
    qtbot.keyPress(win.ptt, Qt.Key.Key_Return)
    assert win.listening and win.hint.text() == "Listening… release Enter to send"
    qtbot.keyRelease(win.ptt, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    assert win.hint.text() == "Hold Space to talk"  # Space talks on the microphone button too


def test_shortcuts_for_settings_mute_typing_and_search(qtbot, win):
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.keyClick(win.root, Qt.Key.Key_M, ctrl)
    assert win.muted and win.mute.text() == "Unmute"
    qtbot.keyClick(win.root, Qt.Key.Key_M, ctrl)
    assert not win.muted
    qtbot.keyClick(win.root, Qt.Key.Key_L, ctrl)
    assert focused() is win.text
    qtbot.keyClicks(win.text, "hello there")
    assert win.text.text() == "hello there" and not win.listening  # Space typed in the request box
    qtbot.keyClick(win.text, Qt.Key.Key_Escape)
    assert focused() is win.root
    qtbot.keyClick(win.root, Qt.Key.Key_F, ctrl)
    assert focused() is win.conversation.search
    assert win.hint.text().startswith("Searching")
    qtbot.keyClick(win.conversation.search, Qt.Key.Key_Escape)
    assert focused() is win.root
    qtbot.keyClick(win.root, Qt.Key.Key_Comma, ctrl)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in win.findChildren(SettingsDialog)), timeout=2000)
    dlg = next(d for d in win.findChildren(SettingsDialog) if d.isVisible())
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=2000)


@pytest.mark.parametrize("key", [Qt.Key.Key_F1, Qt.Key.Key_Question])
def test_help_lists_every_shortcut_and_closes_with_esc(qtbot, win, key):
    qtbot.keyClick(win.root, key)
    qtbot.waitUntil(lambda: win.help is not None and win.help.isVisible(), timeout=2000)
    help_box = win.help
    assert isinstance(help_box, KeyboardHelp)
    listed = " | ".join(f"{k} = {what}" for k, what in help_box.rows)
    for _keys, what in SHORTCUTS.values():
        assert what in listed
    assert "Space" in listed and "Hold to talk" in listed
    assert not win.listening
    qtbot.keyClick(help_box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not help_box.isVisible(), timeout=2000)
