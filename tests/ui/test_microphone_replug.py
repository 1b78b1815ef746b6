"""A microphone unplugged and plugged back, or plugged in only after the app started, is heard without a
restart; meanwhile the window says so in plain words (no PortAudio error codes) and never pretends to listen.

On a private PulseAudio server: unloading the null sink whose monitor is the microphone (and the fallback
sink, so that no source is left) is the unplug; loading it again and making it the default is the replug.
A server that is not there yet when PortAudio is initialised is the microphone plugged in later: PortAudio
only sees it once it is initialised again."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt

from desktop import audio_front
from tests.audio.conftest import PulseServer, running_pulse
from tests.ui.conftest import open_audio_window
from tests.ui.test_honest_states import press_space

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RAW_WORDS = ("PaErrorCode", "ALSA error", "Errno", "RawInputStream", "hw:")


def unplug(server: PulseServer) -> None:
    for line in server.pactl("list", "short", "modules").splitlines():
        if "module-null-sink" in line or "module-always-sink" in line:
            server.pactl("unload-module", line.split()[0])


def plug_in(server: PulseServer) -> None:
    server.pactl("load-module", "module-null-sink", "sink_name=vmic", "rate=16000", "channels=1")
    server.pactl("set-default-source", "vmic.monitor")


def banner_words(win) -> str:
    msg = win.messages.messages["error:no_microphone"]
    return f"{msg.title.text()} | {msg.text.full_text} | {msg.hint.full_text}"


def heard_speech(qtbot, win, server: PulseServer) -> None:
    """Hold the key while the fixture plays into the microphone: the level meter shows speech."""
    qtbot.keyPress(win.root, Qt.Key.Key_Space)
    assert win.listening
    player = server.play(FIXTURES / "list_runs.wav")
    try:
        qtbot.waitUntil(lambda: win.level.peak_db > -50, timeout=15_000)
    finally:
        qtbot.keyRelease(win.root, Qt.Key.Key_Space)
        player.wait(15)


def test_unplugged_then_plugged_back_is_heard_again(qtbot, themed_app, memory_keyring, monkeypatch):
    monkeypatch.setattr(audio_front, "MIC_RETRY_S", 0.3)
    with running_pulse() as server:
        win = open_audio_window(qtbot)
        bridge = win.bridge
        try:
            qtbot.waitUntil(lambda: win.state == "ready" and bridge.mic is not None and bridge.mic.frames > 0,
                            timeout=15_000)
            mic = bridge.mic
            assert mic.label == "System default (Monitor of Null Output)"  # the sound server's name for it
            dlg = win.open_settings("audio")  # the same name in Settings; saved as "the default", not a name
            assert dlg.input_device.currentText() == mic.label and dlg._device(dlg.input_device) is None
            assert all("hw:" not in dlg.input_device.itemText(i) for i in range(dlg.input_device.count()))
            dlg.reject()
            unplug(server)
            qtbot.waitUntil(lambda: "error:no_microphone" in win.messages.messages, timeout=15_000)
            words = banner_words(win)
            assert not any(raw in words for raw in RAW_WORDS), words
            assert "No microphone | No microphone" not in words and "resumes by itself" in words
            assert not press_space(qtbot, win)  # nobody listens: never "Listening"
            plug_in(server)
            qtbot.waitUntil(lambda: mic.is_open and "error:no_microphone" not in win.messages.messages,
                            timeout=15_000)
            assert bridge.mic is mic  # the same session
            assert "Microphone ready: System default (Monitor of Null Output)" in win.status.full_text
            qtbot.waitUntil(lambda: mic.frames > 0, timeout=15_000)
            heard_speech(qtbot, win, server)
        finally:
            win.quit()


def test_a_microphone_that_comes_after_the_start_is_found(qtbot, themed_app, memory_keyring, monkeypatch,
                                                          tmp_path):
    """PortAudio is initialised while no sound server answers (it lists no device at all); the server then
    starts: the window initialises PortAudio again and opens the microphone, with no restart."""
    monkeypatch.setattr(audio_front, "MIC_RETRY_S", 0.3)
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'nobody-here'}")
    win = open_audio_window(qtbot)  # (initialises PortAudio with nothing to list)
    bridge = win.bridge
    try:
        qtbot.waitUntil(lambda: win.state == "ready" and "error:no_microphone" in win.messages.messages,
                        timeout=15_000)
        words = banner_words(win)
        assert not any(raw in words for raw in RAW_WORDS) and "starts by itself" in words, words
        assert bridge.player is None and not press_space(qtbot, win)
        with running_pulse() as server:
            assert os.environ["PULSE_SERVER"] == server.env["PULSE_SERVER"]
            qtbot.waitUntil(lambda: bridge.mic is not None and bridge.mic.is_open
                            and "error:no_microphone" not in win.messages.messages, timeout=15_000)
            assert "Microphone ready" in win.status.full_text
            qtbot.waitUntil(lambda: bridge.mic.frames > 0, timeout=15_000)
            heard_speech(qtbot, win, server)
            win.quit()
    finally:
        win.quit()
