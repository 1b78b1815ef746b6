"""A session lost to the network is tried again by itself, waiting longer each time, and the banner says when
the next try is; once a try succeeds the banner goes.  Against a loopback port nobody listens on."""

from __future__ import annotations

import socket

import pytest

from desktop.config import Settings
from tests.ui.conftest import make_window
from ui import main_window


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reconnects_by_itself_with_longer_waits_and_says_when(qtbot, themed_app, memory_keyring, closed_port,
                                                              monkeypatch):
    monkeypatch.setattr(main_window, "RECONNECT_DELAYS_S", (1, 3, 9))
    settings = Settings(gemini_api_key="a-key", live_url=f"wss://127.0.0.1:{closed_port}", setup_timeout_s=3)
    win = make_window(qtbot, settings, start=False)
    try:
        win.bridge.start(settings)
        qtbot.waitUntil(lambda: "error:network" in win.messages.messages, timeout=15_000)
        banner = win.messages.messages["error:network"]
        assert banner.title.text() == "Cannot connect · trying again in 1 s (try 1)"
        qtbot.waitUntil(lambda: win.reconnects == 1, timeout=5000)  # it tried by itself
        qtbot.waitUntil(lambda: "(try 2)" in win.messages.messages["error:network"].title.text(), timeout=15_000)
        assert "trying again in 3 s" in win.messages.messages["error:network"].title.text()  # a longer wait
        # the network comes back (here: the demo's stand-ins): the next try succeeds and the banner goes
        win.settings = win.settings.replace(offline=True)
        qtbot.waitUntil(lambda: win.reconnects == 2, timeout=10_000)
        qtbot.waitUntil(lambda: win.state == "ready" and "error:network" not in win.messages.messages, timeout=15_000)
        assert win.announcer.said[-1] == ("Ready", False)
    finally:
        win.quit()


def test_the_reconnect_button_tries_at_once_and_stops_the_countdown(qtbot, themed_app, memory_keyring,
                                                                    closed_port, monkeypatch):
    monkeypatch.setattr(main_window, "RECONNECT_DELAYS_S", (30,))
    settings = Settings(gemini_api_key="a-key", live_url=f"wss://127.0.0.1:{closed_port}", setup_timeout_s=3)
    win = make_window(qtbot, settings, start=False)
    try:
        win.bridge.start(settings)
        qtbot.waitUntil(lambda: "error:network" in win.messages.messages, timeout=15_000)
        assert win._retry_timer.isActive()
        win.settings = win.settings.replace(offline=True)
        win.messages.messages["error:network"].button.click()
        assert not win._retry_timer.isActive() and win.reconnects == 0
        qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    finally:
        win.quit()
