"""Every user-facing error (no microphone, wrong key, network lost, rate limited) is a clear, dismissible
message in the window with its action, never a traceback dialog."""

from __future__ import annotations

import asyncio
import threading

import pytest
from PySide6.QtCore import Qt

from desktop.config import Settings
from desktop.events import EngineState, ErrorEvent
from tests.standins import ca_file, live_emulator
from tests.ui.conftest import make_window
from ui.settings_dialog import SettingsDialog

ERRORS = [
    (ErrorEvent("no_microphone", "No microphone: no audio input device found.",
                "Plug one in or choose another input device in Settings, or type your request."),
     "Audio settings", "audio"),
    (ErrorEvent("auth", "Gemini rejected the API key.", "Check the key in Settings."), "Open settings", "accounts"),
    (ErrorEvent("network", "The connection to Gemini was lost.", "Check your connection, then reconnect.", True),
     "Reconnect", None),
    (ErrorEvent("rate_limited", "Gemini is rate limiting this key.", "Wait a minute, then try again."),
     "Retry", None),
]


@pytest.mark.parametrize(("event", "button", "tab"), ERRORS, ids=[e.kind for e, _b, _t in ERRORS])
def test_error_is_a_dismissible_message_with_its_action(qtbot, window, event, button, tab):
    win = window
    assert win.bridge.post(event)
    key = f"error:{event.kind}"
    qtbot.waitUntil(lambda: key in win.messages.messages, timeout=3000)
    msg = win.messages.messages[key]
    assert msg.text.text() == event.message and msg.hint.text() == event.action
    assert "Traceback" not in msg.text.text()
    assert msg.button is not None and msg.button.text() == button
    msg.button.click()
    if tab is not None:
        dlg = win.findChild(SettingsDialog)
        assert dlg is not None and dlg.tabs.currentIndex() == dlg.tab_index[tab]
        dlg.reject()
    else:  # reconnect: a fresh session comes up
        qtbot.waitUntil(lambda: win.state == "ready" and win.bridge.engine is not None, timeout=10_000)
    # the same error again replaces the message instead of stacking a copy; the close button dismisses it
    win.bridge.post(event)
    win.bridge.post(event)
    qtbot.waitUntil(lambda: key in win.messages.messages, timeout=3000)
    qtbot.wait(50)
    shown = [m for m in win.messages.findChildren(type(msg)) if m.key == key and not m.isHidden()]
    assert len(shown) == 1
    shown[0].close_button.click()
    assert key not in win.messages.messages and shown[0].isHidden()


@pytest.fixture
def emulator_with_key():
    """A Live emulator that accepts only one key, on its own loop thread (loopback only)."""
    loop = asyncio.new_event_loop()
    emu = live_emulator(api_key="the-right-key")
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(emu.start())
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(10)
    yield emu
    asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)
    loop.close()


def test_wrong_key_against_a_real_socket_is_shown_with_settings_action(qtbot, themed_app, memory_keyring,
                                                                        emulator_with_key, tmp_path):
    settings = Settings(live_url=emulator_with_key.url, gemini_api_key="a-wrong-key", setup_timeout_s=3,
                        ca_file=str(ca_file(tmp_path)))
    win = make_window(qtbot, settings, start=False)
    try:
        win.bridge.start(settings)
        qtbot.waitUntil(lambda: "error:auth" in win.messages.messages, timeout=15_000)
        msg = win.messages.messages["error:auth"]
        assert "key" in msg.text.text().lower() and msg.button is not None and msg.button.text() == "Open settings"
        assert "a-wrong-key" not in msg.text.text() + msg.hint.text()
        assert win.state == "error" and win.indicator.label == "Error"
        assert "offline" not in win.messages.messages
    finally:
        win.quit()


def test_notices_needing_the_user_are_banners_others_pass_in_the_status_line(qtbot, window):
    from desktop.events import Notice

    win = window
    win.bridge.post(Notice("CodeGen is not configured: add a token and org id in Settings", kind="codegen"))
    win.bridge.post(Notice("Reconnected to Gemini (goAway)", kind="info"))
    qtbot.waitUntil(lambda: "notice:codegen" in win.messages.messages and win.status.text() != "", timeout=3000)
    assert win.messages.messages["notice:codegen"].title.text() == "CodeGen"
    assert "Reconnected" in win.status.text() and "notice:info" not in win.messages.messages


def test_replies_drifting_slower_offer_a_fresh_session_in_one_click(qtbot, window):
    from desktop.events import LatencyDrift

    win = window
    win.bridge.post(LatencyDrift(baseline_ms=420.0, recent_ms=910.0, turns=14))
    qtbot.waitUntil(lambda: "drift" in win.messages.messages, timeout=3000)
    banner = win.messages.messages["drift"]
    assert "0.9 s lately against 0.4 s" in banner.text.text() and banner.button is not None
    assert win.perf.drift.isVisibleTo(win.perf) and "fresh session" in win.perf.drift.text().lower()
    qtbot.mouseClick(banner.button, Qt.MouseButton.LeftButton)
    assert "drift" not in win.messages.messages and not win.perf.drift.isVisibleTo(win.perf)
    # a new Gemini session, on the same window, history kept
    qtbot.waitUntil(lambda: win.bridge.metrics.counters["fresh_sessions"] == 1, timeout=10_000)
    qtbot.waitUntil(lambda: win.bridge.engine is not None and win.bridge.engine.transport.connected, timeout=10_000)
    assert win.state is EngineState.READY
