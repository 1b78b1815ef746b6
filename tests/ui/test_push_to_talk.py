"""Hold the push-to-talk key in the real window: a fixture WAV streams to the Live emulator, the transcript,
the tool call and (with the CodeGen tools) the run card appear; key press -> painted "listening" is measured."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtCore import Qt

from tests.ui.conftest import make_window

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HAS_CODEGEN = importlib.util.find_spec("desktop.codegen.tools") is not None


def _bubble_text(win, role: str) -> str:
    return " ".join(b.text for (_turn, r), b in win.conversation.bubbles.items() if r == role)


def test_hold_key_streams_wav_and_shows_transcript_and_tool(qtbot, window):
    win, bridge = window, window.bridge
    target = win.conversation  # focus anywhere but a text field: the key is push-to-talk
    qtbot.keyPress(target, Qt.Key.Key_Space)
    assert win.listening and win.indicator.state == "listening"
    qtbot.waitUntil(lambda: bridge.engine is not None and bridge.engine.state == "listening", timeout=5000)
    fed = bridge.feed_wav(FIXTURES / "create_pr.wav", hold_key=False)
    assert fed is not None and fed.result(timeout=10) > 500  # all 10 ms frames went in while the key was held
    # auto-repeat while held changes nothing; the release ends the turn
    qtbot.keyRelease(target, Qt.Key.Key_Space)
    assert not win.listening
    bridge.feed_silence(500)  # the microphone keeps running: the gate's tail closes the turn
    qtbot.waitUntil(lambda: "Create a pull request" in _bubble_text(win, "user"), timeout=10_000)
    qtbot.waitUntil(lambda: _bubble_text(win, "assistant").strip() != "", timeout=10_000)
    assert win.earcons is not None and win.earcons.played == ["start", "stop"]
    if HAS_CODEGEN:
        qtbot.waitUntil(lambda: any(c.state == "done" for c in win.conversation.tools.values()), timeout=10_000)
        card = next(iter(win.conversation.tools.values()))
        assert "create agent run" in card.name.text()
        # Gemini asked to confirm: say yes by typing, then the run card appears and advances to done
        qtbot.waitUntil(lambda: win.state == "ready", timeout=10_000)
        win.text.setText("yes")
        qtbot.keyPress(win.text, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: len(win.runs.cards) == 1, timeout=15_000)
        run = next(iter(win.runs.cards.values()))
        qtbot.waitUntil(lambda: run.category == "done", timeout=30_000)
        assert run.chip.text() == "Done"
    else:
        # without the CodeGen tools the emulator says it has no such tool, and the window shows that answer
        qtbot.waitUntil(lambda: "create_agent_run" in _bubble_text(win, "assistant"), timeout=10_000)


def test_key_press_to_painted_listening_is_recorded(qtbot, window):
    win, metrics = window, window.bridge.metrics
    for _ in range(5):
        qtbot.keyPress(win.conversation, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: metrics.stages.get("ui.key_to_paint") is not None
                        and metrics.stages["ui.key_to_paint"].count >= 1, timeout=3000)
        qtbot.keyRelease(win.conversation, Qt.Key.Key_Space)
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
        win.close()
