"""CodeGen runs across Settings > Save, closing the window and a restart, in the real window."""

from __future__ import annotations

from desktop import session as desktop_session
from desktop.config import Settings
from desktop.state.store import open_store
from tests.e2e.window import assistant_texts, ready
from ui.settings_dialog import SettingsDialog


def _send_typed(app, qtbot, text: str) -> None:
    win = app.win
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    app.click(win.text)
    qtbot.waitUntil(win.text.hasFocus, timeout=3000)
    app.type(text)
    qtbot.waitUntil(lambda: win.text.text() == text, timeout=5000)
    app.x.xdotool("key", "Return")
    qtbot.waitUntil(lambda: win.text.text() == "", timeout=5000)


def _start_run_by_typing(app, qtbot, request: str) -> int:
    win = app.win
    before = set(win.runs.cards)
    asked = sum(c.status.text() == "waiting for your yes" for c in win.conversation.tools.values())
    _send_typed(app, qtbot, request)
    qtbot.waitUntil(lambda: sum(c.status.text() == "waiting for your yes"
                                for c in win.conversation.tools.values()) > asked, timeout=15_000)
    _send_typed(app, qtbot, "yes")
    qtbot.waitUntil(lambda: bool(set(win.runs.cards) - before), timeout=15_000)
    (run_id,) = set(win.runs.cards) - before
    return run_id


def test_save_settings_mid_run_keeps_every_run_and_a_restart_follows_what_it_did_not_see_finish(
        person, qtbot, monkeypatch):
    monkeypatch.setattr(desktop_session, "OFFLINE_STEP_S", 4.0)  # runs take about 20 s: still going across all this
    app = person()
    win = app.win
    first = _start_run_by_typing(app, qtbot, "Create a pull request that fixes the flaky login test")

    app.click(win.settings_button)  # Settings > change the voice (restarts the session) > Save
    qtbot.waitUntil(lambda: any(d.isVisible() for d in win.findChildren(SettingsDialog)), timeout=5000)
    (dlg,) = [d for d in win.findChildren(SettingsDialog) if d.isVisible()]
    old_engine = win.bridge.engine
    dlg.voice.setCurrentText("Puck")
    app.click(dlg.save)
    qtbot.waitUntil(lambda: win.bridge.engine is not old_engine and ready(win), timeout=20_000)
    app.focus()

    _send_typed(app, qtbot, "what is the status of my last task")
    qtbot.waitUntil(lambda: any(f"Run {first}" in t for t in assistant_texts(win)), timeout=15_000)
    assert not any("no CodeGen runs" in t for t in assistant_texts(win))

    second = _start_run_by_typing(app, qtbot, "Create a changelog entry for the login fix")
    assert second == first + 1  # never an id given out before
    assert win.runs.cards[first].last.prompt.startswith("Create a pull request")
    assert win.runs.cards[second].last.prompt.startswith("Create a changelog")
    assert win.runs.cards[second].category != "done"  # nothing of the first run carried over

    win.close()  # the title bar's close while runs are going: the app stays in the tray
    qtbot.waitUntil(win.isHidden, timeout=3000)
    assert win.tray.available and win.bridge.running
    win.tray.quit_requested.emit()  # the tray's Quit
    qtbot.waitUntil(lambda: not win.bridge.running, timeout=10_000)

    store = open_store(Settings())
    try:
        stored = {r.run_id: r for r in store.runs.recent()}
    finally:
        store.close()
    assert set(stored) == {first, second} and stored[first].prompt.startswith("Create a pull request")
    assert stored[second].category not in ("done", "failed")  # not seen finishing

    again = person()  # the app is opened again: it shows both runs and follows the unfinished ones
    cards = again.win.runs.cards
    qtbot.waitUntil(lambda: {first, second} <= set(cards), timeout=10_000)
    qtbot.waitUntil(lambda: all(cards[r].category == "done" for r in (first, second)), timeout=40_000)
