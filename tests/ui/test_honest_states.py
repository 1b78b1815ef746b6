"""States that tell the truth: no "Listening" when nobody can hear (an error, a closed session, no working
microphone), the state shown before a refused press comes back, one wording for "not connected", and a
connection that never came up is not called "lost"."""

from __future__ import annotations

import socket

from PySide6.QtCore import Qt

from desktop.config import Settings
from desktop.events import ErrorEvent
from tests.ui.conftest import make_window
from ui.bridge import EngineBridge
from ui.earcons import Earcons
from ui.main_window import NOT_CONNECTED, MainWindow


def press_space(qtbot, win) -> bool:
    """Press and release Space on the window; whether it listened while the key was down."""
    qtbot.keyPress(win.root, Qt.Key.Key_Space)
    listened = win.listening or win.indicator.label.startswith("Listening")
    qtbot.keyRelease(win.root, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)
    return listened


def test_no_listening_in_the_error_state(qtbot, window):
    win = window
    win.on_state("error", "The connection to Gemini was lost")
    assert not press_space(qtbot, win)
    assert win.indicator.label == "Error"  # never stuck on "Listening"
    assert win.messages.messages["notice:not-ready"].text.text() == NOT_CONNECTED


def test_a_refused_press_shows_the_state_it_was_in(qtbot, themed_app, memory_keyring):
    win = make_window(qtbot, start=False)  # connecting: no engine yet
    try:
        before = win.indicator.label
        qtbot.keyPress(win.root, Qt.Key.Key_Space)
        qtbot.keyRelease(win.root, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not win.listening, timeout=2000)
        assert win.indicator.label == before and not win.indicator.label.startswith("Listening")
        assert win.messages.messages["notice:not-ready"].text.text() == NOT_CONNECTED
        win.text.setText("hello")
        win.send_text()  # the same words for a typed request
        assert win.messages.messages["notice:not-ready"].text.text() == NOT_CONNECTED
    finally:
        win.quit()


def test_no_listening_without_a_working_microphone(qtbot, themed_app, memory_keyring):
    settings = Settings(offline=True, input_device="a microphone that is not there")
    bridge = EngineBridge(use_audio_devices=True)
    win = MainWindow(settings, bridge, earcons=Earcons(None))
    qtbot.addWidget(win)
    win.show()
    bridge.start(settings)
    try:
        qtbot.waitUntil(lambda: win.state == "ready" and bridge.engine is not None
                        and "error:no_microphone" in win.messages.messages, timeout=15_000)
        banner = win.messages.messages["error:no_microphone"]
        assert not banner.text.text().lower().startswith("no microphone")  # the title says it, once
        assert not press_space(qtbot, win)
        assert win.indicator.label == "Ready" and bridge.engine.turns == 0  # nothing sent, nobody blamed
        msg = win.messages.messages["error:no_microphone"]
        assert "no working microphone" in msg.text.text() and msg.button is not None
    finally:
        win.quit()


def test_a_connection_that_never_came_up_is_not_lost(qtbot, themed_app, memory_keyring):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(gemini_api_key="a-key", live_url=f"wss://127.0.0.1:{port}", setup_timeout_s=3)
    win = make_window(qtbot, settings, start=False)
    try:
        win.bridge.start(settings)
        qtbot.waitUntil(lambda: "error:network" in win.messages.messages, timeout=15_000)
        assert win.messages.messages["error:network"].title.text().startswith("Cannot connect · trying again in")
        win.on_session_started(False)  # once a session was up, the same error means it was lost
        win.on_error(ErrorEvent("network", "The connection to Gemini was lost.", "Reconnect."))
        assert win.messages.messages["error:network"].title.text() == "Network lost"  # (not fatal: no retry)
    finally:
        win.quit()
