"""The window's own microphone path through PortAudio: a PulseAudio null sink is the microphone, speech is
played into it while the push-to-talk key is held, and the transcript and the level meter show it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from desktop.config import Settings
from tests.audio.conftest import pulse  # noqa: F401 - the private PulseAudio server fixture
from tests.ui.conftest import audio_ready, open_audio_window

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_hold_key_and_speak_into_the_virtual_microphone(qtbot, themed_app, memory_keyring, pulse):  # noqa: F811
    win = open_audio_window(qtbot)
    bridge = win.bridge
    try:
        qtbot.waitUntil(lambda: audio_ready(win), timeout=15_000)
        assert bridge.mic is not None, win.messages.messages.keys()
        qtbot.keyPress(win.conversation, Qt.Key.Key_Space)
        player = pulse.play(FIXTURES / "list_runs.wav")
        qtbot.waitUntil(lambda: player.poll() is not None, timeout=15_000)
        qtbot.wait(300)  # the last words reach the capture buffer
        qtbot.keyRelease(win.conversation, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not win.listening, timeout=2000)  # a release is held back 30 ms (auto-repeat)
        assert win.level.updates > 0 and win.level.peak_db > -50  # the meter saw the speech
        heard = lambda: [(r, b.body.text()) for (_t, r), b in win.conversation.bubbles.items()]  # noqa: E731
        try:
            qtbot.waitUntil(lambda: any(r == "user" and "List my running agent tasks" in text for r, text in heard()),
                            timeout=15_000)
        except qtbot.TimeoutError:  # say what the conversation showed instead (the stand-in's own words)
            raise AssertionError(f"the request was not heard; the conversation: {heard()}") from None
        qtbot.waitUntil(lambda: bool(win.conversation.tools), timeout=10_000)
        assert "list runs" in next(iter(win.conversation.tools.values())).name.text()
    finally:
        win.quit()


def test_hands_free_hears_the_virtual_microphone_while_the_chain_rests(qtbot, themed_app, memory_keyring,
                                                                        pulse):  # noqa: F811
    """Hands-free between turns: the VAD alone listens on the microphone's frames; speech opens a
    turn, its start (heard before the VAD was sure) reaches Gemini, and the chain rests again afterwards.
    (No speaker: this server's only sink is the microphone, which would hear the replies.)"""
    settings = Settings(offline=True, ptt_mode="hands-free", output_device="no such speaker")
    win = open_audio_window(qtbot, settings)
    bridge = win.bridge
    try:
        qtbot.waitUntil(lambda: audio_ready(win), timeout=15_000)
        assert bridge.mic is not None and bridge.player is None, win.messages.messages.keys()
        qtbot.waitUntil(lambda: bridge.mic is not None and bridge.mic.frames > 20,
                        timeout=10_000)
        engine = bridge.engine
        assert engine is not None and engine.pipeline is not None
        player = pulse.play(FIXTURES / "status.wav")
        qtbot.waitUntil(lambda: any(r == "user" and "What is the status of my last task" in b.body.text()
                                    for (_t, r), b in win.conversation.bubbles.items()), timeout=20_000)
        qtbot.waitUntil(lambda: player.poll() is not None, timeout=15_000)
        # the reply is over, after one turn (hands-free keeps the chain listening)
        qtbot.waitUntil(lambda: engine.state == "ready" and not engine.reply_pending, timeout=30_000)
        assert engine.turns == 1
    finally:
        win.quit()
