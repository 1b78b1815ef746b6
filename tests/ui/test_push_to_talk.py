"""Hold the push-to-talk key in the real window: a fixture WAV streams to the Live emulator, the transcript,
the tool call and (with the CodeGen tools) the run card appear; key press -> painted "listening" is measured."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.ui.conftest import make_window, save_shot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _bubble_text(win, role: str) -> str:
    return " ".join(b.body.text() for (_turn, r), b in win.conversation.bubbles.items() if r == role)


def test_hold_key_streams_wav_then_tool_call_and_run_card_to_done(qtbot, window, shots):
    win, bridge = window, window.bridge
    target = win.conversation  # focus anywhere but a text field: the key is push-to-talk
    qtbot.keyPress(target, Qt.Key.Key_Space)
    assert win.listening and win.indicator.state == "listening"
    qtbot.waitUntil(lambda: bridge.engine is not None and bridge.engine.state == "listening", timeout=5000)
    first = bridge.feed_wav(FIXTURES / "create_pr.wav", hold_key=False, end_s=2.2)
    assert first is not None
    qtbot.waitUntil(first.done, timeout=10_000)  # the UI thread keeps running while the engine takes frames
    qtbot.waitUntil(lambda: win.level.updates > 0, timeout=3000)
    save_shot(win, shots / "listening.png")
    rest = bridge.feed_wav(FIXTURES / "create_pr.wav", hold_key=False, start_s=2.2)
    assert rest is not None
    qtbot.waitUntil(rest.done, timeout=10_000)
    assert first.result() + rest.result() > 600  # every 10 ms frame went in while the key was held
    qtbot.keyRelease(target, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)  # a release is held back 30 ms (auto-repeat)
    bridge.feed_silence(500)  # the microphone keeps running: the gate's tail closes the turn
    qtbot.waitUntil(lambda: "Create a pull request" in _bubble_text(win, "user"), timeout=10_000)
    assert win.earcons is not None and win.earcons.played == ["start", "stop"]

    # Gemini asks CodeGen (through the tool) and, with confirmation on, asks the user to confirm
    qtbot.waitUntil(lambda: any(c.result.isVisibleTo(c) for c in win.conversation.tools.values()), timeout=10_000)
    card = next(iter(win.conversation.tools.values()))
    assert "create agent run" in card.name.text() and "flaky login test" in card.args.text()
    assert card.status.text() == "waiting for your yes"  # the read-back: nothing started, not "done · 0 ms"
    assert card.result.text() == "Read back to you: nothing starts until you say yes"
    qtbot.waitUntil(lambda: win.state == "ready", timeout=10_000)
    win.text.setText("yes")
    qtbot.keyPress(win.text, Qt.Key.Key_Return)

    # the run card appears, shows its steps while running, and advances to done
    qtbot.waitUntil(lambda: len(win.runs.cards) == 1, timeout=15_000)
    run = next(iter(win.runs.cards.values()))
    assert win.runs.focused == run.run_id
    qtbot.waitUntil(lambda: run.category == "running" and len(run.step_lines) >= 1, timeout=15_000)
    assert run.chip.text() == "Running" and not run.steps.isHidden()
    save_shot(win, shots / "run-in-progress.png")
    qtbot.waitUntil(lambda: run.category == "done", timeout=30_000)
    assert run.chip.text() == "Done"
    assert run.links.text()  # pull request and/or web links
    # ...and Gemini says so in the conversation, its words in a bubble linked to the run's card
    qtbot.waitUntil(lambda: any(run.run_id in b.run_ids and b.text.startswith(f"Run {run.run_id} is done")
                                for b in win.conversation.run_news), timeout=20_000)


def test_key_press_to_painted_listening_is_recorded(qtbot, window):
    win, metrics = window, window.bridge.metrics
    for _ in range(5):
        qtbot.keyPress(win.conversation, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: metrics.stages.get("ui.key_to_paint") is not None
                        and metrics.stages["ui.key_to_paint"].count >= 1, timeout=3000)
        qtbot.keyRelease(win.conversation, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not win.listening, timeout=2000)  # a release is held back 30 ms (auto-repeat)
        win.bridge.feed_silence(400)
        qtbot.waitUntil(lambda: win.state in ("thinking", "ready", "speaking"), timeout=3000)
    qtbot.waitUntil(lambda: metrics.stages["ui.key_to_paint"].count >= 5, timeout=3000)
    summary = metrics.snapshot().stages["ui.key_to_paint"]
    assert summary.p99_ms < 100.0, summary  # generous bound; the 16 ms goal is checked by the benchmark


def test_space_types_in_the_text_box_and_enter_sends(qtbot, window):
    win = window
    win.text.setFocus()
    qtbot.keyClicks(win.text, "hello there")
    assert win.text.text() == "hello there" and not win.listening
    qtbot.keyPress(win.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "hello there" in _bubble_text(win, "user"), timeout=5000)
    qtbot.waitUntil(lambda: "Hi." in _bubble_text(win, "assistant"), timeout=10_000)
    assert win.text.text() == ""


def test_toggle_mode_and_mouse_button(qtbot, themed_app, memory_keyring):
    from desktop.config import Settings

    win = make_window(qtbot, Settings(ptt_mode="toggle", ptt_key="F8"))
    try:
        qtbot.keyPress(win.conversation, Qt.Key.Key_F8)
        qtbot.keyRelease(win.conversation, Qt.Key.Key_F8)
        qtbot.wait(80)  # past the auto-repeat window: a person never lets go and presses again within 30 ms
        assert win.listening  # toggle: still listening after the key comes up
        qtbot.keyPress(win.conversation, Qt.Key.Key_F8)
        assert not win.listening
        win.bridge.feed_silence(400)
        qtbot.waitUntil(lambda: win.state != "listening", timeout=5000)
        qtbot.mousePress(win.ptt, Qt.MouseButton.LeftButton)
        assert win.listening
        qtbot.mouseRelease(win.ptt, Qt.MouseButton.LeftButton)
        assert not win.listening
        win.bridge.feed_silence(400)
        qtbot.waitUntil(lambda: win.state != "listening", timeout=5000)
    finally:
        win.quit()


def test_muted_never_shows_listening_and_unmutes_from_the_window(qtbot, window):
    win = window
    qtbot.mouseClick(win.mute, Qt.MouseButton.LeftButton)
    assert win.muted and win.tray.mute_action.isChecked() and win.mute.text() == "Unmute"
    assert win.indicator.label == "Muted" and win.hint.text().startswith("Microphone muted")
    qtbot.keyPress(win.conversation, Qt.Key.Key_Space)
    assert not win.listening and win.indicator.label == "Muted"  # nothing is captured: never "Listening"
    assert "notice:muted" in win.messages.messages
    qtbot.keyRelease(win.conversation, Qt.Key.Key_Space)
    qtbot.wait(60)  # a person's next press comes later than the auto-repeat window
    qtbot.mouseClick(win.mute, Qt.MouseButton.LeftButton)  # unmuted from the main window, not only the tray
    assert not win.muted and not win.tray.mute_action.isChecked()
    assert win.indicator.label == "Ready" and win.hint.text() == "Hold Space to talk"

    qtbot.keyPress(win.conversation, Qt.Key.Key_Space)
    assert win.listening
    win.tray.mute_action.trigger()  # muting mid-turn (from the tray) ends the turn at once
    assert win.muted and win.mute.isChecked() and not win.listening
    win.bridge.feed_silence(500)
    qtbot.waitUntil(lambda: win.state in ("ready", "thinking", "speaking"), timeout=5000)
    assert win.indicator.label != "Listening"
