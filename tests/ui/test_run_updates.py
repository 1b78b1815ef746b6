"""Run news in the window: Gemini's turn linked to the run card, spoken or shown only; the desktop notification
only when the window is out of view; the setting in Settings."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.events import RunFinished, RunReport, RunUpdate, TranscriptDelta
from tests.ui.conftest import make_window
from ui.settings_dialog import SettingsDialog


def test_run_news_is_geminis_turn_linked_to_the_run_card(qtbot, window):
    win, bridge = window, window.bridge
    for rid in (201, 202):
        bridge.post(RunUpdate(rid, "RUNNING", "running", prompt=f"task {rid}"))
    qtbot.waitUntil(lambda: {201, 202} <= set(win.runs.cards), timeout=3000)
    win.runs.focus(202)

    # spoken: the report names the turn, Gemini's words stream into that turn's bubble
    bridge.post(RunReport((201,), "Run 201 is done.", spoken=True, turn_id=90))
    bridge.post(TranscriptDelta(90, "assistant", "Run 201 is done"))
    bridge.post(TranscriptDelta(90, "assistant", ", with a pull request."))
    qtbot.waitUntil(lambda: len(win.conversation.run_news) == 1, timeout=3000)
    spoken = win.conversation.run_news[0]
    assert spoken is win.conversation.bubbles[(90, "assistant")] and spoken.run_ids == (201,)
    qtbot.waitUntil(lambda: spoken.body.text() == "Run 201 is done, with a pull request.", timeout=3000)
    assert spoken.who.text().endswith("run update") and "Run #201" in spoken.links.text()
    assert "not spoken" not in spoken.links.text()

    # shown only: the news itself, and why it was not said
    bridge.post(RunReport((202,), "Run 202 failed.", spoken=False, why_not_spoken="off"))
    qtbot.waitUntil(lambda: len(win.conversation.run_news) == 2, timeout=3000)
    shown = win.conversation.run_news[1]
    assert shown.body.text() == "Run 202 failed." and "speaking run updates is off" in shown.links.text()

    # the link shows the card
    shown_card = win.runs.cards[201]
    spoken.links.linkActivated.emit("run:201")
    assert win.runs.focused == 201 and shown_card.focused


def test_a_run_ending_notifies_only_when_the_window_is_out_of_view(qtbot, window):
    win, bridge = window, window.bridge
    notes: list[tuple[str, str]] = []
    win.notified.connect(lambda t, m: notes.append((t, m)))
    bridge.post(RunUpdate(301, "RUNNING", "running", prompt="task"))
    qtbot.waitUntil(lambda: 301 in win.runs.cards, timeout=3000)
    win.showMinimized()
    qtbot.waitUntil(win.isMinimized, timeout=3000)
    assert not win.in_view
    bridge.post(RunFinished(301, "failed", "The tests kept failing."))
    qtbot.waitUntil(lambda: bool(notes), timeout=3000)
    assert notes == [("Run #301 failed", "The tests kept failing.")]


def test_speak_run_updates_is_a_setting_applied_without_a_restart(qtbot, themed_app, memory_keyring):
    win = make_window(qtbot)
    try:
        reporter = win.bridge.session.reporter
        assert reporter is not None and reporter.updates.policy.speak
        dlg = win.open_settings("behaviour")
        assert isinstance(dlg, SettingsDialog) and dlg.speak_updates.isChecked()
        engine = win.bridge.engine
        dlg.speak_updates.setChecked(False)
        qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not reporter.updates.policy.speak, timeout=3000)
        assert win.settings.speak_run_updates is False and win.bridge.engine is engine  # the same session
    finally:
        win.quit()
