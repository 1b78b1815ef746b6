"""A keyboard-only session on the real X display (auto-repeat on, keys through XTEST): talk, type, mute and
unmute with Tab and Space, search and open a past turn, open Settings and the keyboard help, all without the
mouse."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from tests.e2e.window import user_texts
from ui.keyboard_help import KeyboardHelp
from ui.settings_dialog import SettingsDialog


def focused():
    return QApplication.focusWidget()


def tab_to(app, qtbot, target, most: int = 20) -> None:
    """Tab, one stop at a time (each waits for the focus to move), until ``target`` has the focus."""
    for _ in range(most):
        if focused() is target:
            return
        before = focused()
        app.x.xdotool("key", "Tab")
        qtbot.waitUntil(lambda before=before: focused() is not before, timeout=3000)
    assert focused() is target


def test_a_whole_session_without_the_mouse(person, qtbot):
    app = person()
    win, x = app.win, app.x
    assert focused() is win.root

    # talk: Space held on the window itself
    app.hold_and_say("list_runs.wav")
    qtbot.waitUntil(lambda: "List my running agent tasks" in user_texts(win), timeout=15_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)

    # type: Ctrl+L, a request with spaces in it, Enter; the focus comes back to talking
    x.xdotool("key", "ctrl+l")
    qtbot.waitUntil(win.text.hasFocus, timeout=3000)
    app.type("hello from the keyboard")
    qtbot.waitUntil(lambda: win.text.text() == "hello from the keyboard", timeout=5000)
    assert not win.listening
    x.xdotool("key", "Return")
    qtbot.waitUntil(lambda: "hello from the keyboard" in user_texts(win) and focused() is win.root, timeout=5000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)

    # Tab to Mute; Space presses it (and does not talk); Space again unmutes; Esc goes back to talking
    tab_to(app, qtbot, win.mute)
    x.xdotool("key", "space")
    qtbot.waitUntil(lambda: win.muted, timeout=3000)
    assert not win.listening
    x.xdotool("key", "space")
    qtbot.waitUntil(lambda: not win.muted, timeout=3000)
    x.xdotool("key", "Escape")
    qtbot.waitUntil(lambda: focused() is win.root, timeout=3000)

    # Ctrl+M mutes and unmutes from anywhere
    x.xdotool("key", "ctrl+m")
    qtbot.waitUntil(lambda: win.muted, timeout=3000)
    x.xdotool("key", "ctrl+m")
    qtbot.waitUntil(lambda: not win.muted, timeout=3000)

    # search: Ctrl+F, words, Tab to the results, Enter opens the session of that turn
    conv = win.conversation
    x.xdotool("key", "ctrl+f")
    qtbot.waitUntil(conv.search.hasFocus, timeout=3000)
    app.type("keyboard")
    qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.results and conv.results.count() >= 1, timeout=10_000)
    tab_to(app, qtbot, conv.results, most=5)
    x.xdotool("key", "Down")
    x.xdotool("key", "Return")
    qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.past, timeout=5000)
    assert any(b.matched and "keyboard" in b.text for b in conv.past_bubbles)
    x.xdotool("key", "Escape")
    qtbot.waitUntil(lambda: focused() is win.root, timeout=3000)

    # Settings: Ctrl+comma opens it with the focus in it; Esc closes it
    x.xdotool("key", "ctrl+comma")
    qtbot.waitUntil(lambda: any(d.isVisible() for d in win.findChildren(SettingsDialog)), timeout=5000)
    (dlg,) = [d for d in win.findChildren(SettingsDialog) if d.isVisible()]
    qtbot.waitUntil(lambda: focused() is not None and focused().window() is dlg, timeout=5000)
    x.xdotool("key", "Escape")
    qtbot.waitUntil(lambda: not dlg.isVisible() and win.isActiveWindow(), timeout=5000)

    # the keyboard help: F1, and ? (Shift+/)
    for key in ("F1", "question"):
        x.xdotool("key", key)
        qtbot.waitUntil(lambda: isinstance(win.help, KeyboardHelp) and win.help.isVisible(), timeout=5000)
        helper = win.help
        qtbot.waitUntil(lambda h=helper: focused() is not None and focused().window() is h, timeout=5000)
        if key == "F1":
            app.shot("keyboard-help.png", helper)
        x.xdotool("key", "Escape")
        qtbot.waitUntil(lambda h=helper: not h.isVisible() and win.isActiveWindow(), timeout=5000)
    assert not win.listening and win.text.text() == ""
