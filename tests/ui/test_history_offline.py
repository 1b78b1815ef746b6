"""History and search are local: with Gemini unreachable (no session ever starts) the window still shows the
earlier conversations and search finds them."""

from __future__ import annotations

import socket

from PySide6.QtCore import Qt

from desktop.config import Settings
from tests.ui.conftest import make_window
from tests.ui.test_history import seed_history
from ui.conversation import Bubble


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_history_and_search_work_when_gemini_cannot_be_reached(qtbot, themed_app, memory_keyring):
    seed_history(5)
    settings = Settings(gemini_api_key="a-key", live_url=f"wss://127.0.0.1:{closed_port()}", setup_timeout_s=3)
    win = make_window(qtbot, settings, start=False)
    try:
        win.bridge.start(settings)
        conv = win.conversation
        # the earlier turns are there, and search takes input, before and without any session
        qtbot.waitUntil(lambda: conv.oldest_history_id is not None, timeout=5000)
        assert conv.search.isEnabled()
        texts = [b.text for b in conv.findChildren(Bubble)]
        assert "request number 5" in texts and any(t.startswith("answer number 5") for t in texts)
        qtbot.waitUntil(lambda: win.state in ("error", "closed"), timeout=15_000)  # Gemini is not there
        assert win.bridge.session is None
        conv.search.setFocus()
        qtbot.keyClicks(conv.search, "number 3")
        qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.results and conv.results.count() >= 1,
                        timeout=5000)
        assert "request number 3" in conv.results.item(0).text()
        qtbot.keyClick(conv.results, Qt.Key.Key_Down)
        conv.results.setCurrentRow(0)
        qtbot.keyClick(conv.results, Qt.Key.Key_Return)  # the keyboard opens the session of that turn
        qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.past, timeout=5000)
        assert any(b.matched and "request number 3" in b.text for b in conv.past_bubbles)
    finally:
        win.quit()


def test_a_first_start_has_an_empty_history_that_fills_once_a_session_writes_it(qtbot, themed_app, memory_keyring):
    win = make_window(qtbot, start=False)  # no file yet: an empty history, search still takes input
    try:
        conv = win.conversation
        qtbot.waitUntil(lambda: conv.history_done, timeout=5000)
        assert conv.search.isEnabled()
        win.bridge.start(Settings(offline=True))
        qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
        win.text.setText("a brand new request")
        qtbot.keyPress(win.text, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: win.state == "ready" and any(r == "assistant" for (_t, r) in conv.bubbles),
                        timeout=15_000)
        qtbot.waitUntil(lambda: win.state == "ready", timeout=5000)

        def stored() -> bool:
            from desktop.state.reader import HistoryReader
            from desktop.state.store import DB_NAME, data_dir_for

            reader = HistoryReader(data_dir_for(Settings()) / DB_NAME)
            try:
                return any(t.user_text == "a brand new request" for t in reader.turns.history(None, 5))
            finally:
                reader.close()

        qtbot.waitUntil(stored, timeout=10_000)  # the session's writer has put the turn in the file
        qtbot.keyClicks(conv.search, "brand new")

        def found() -> bool:
            return conv.stack.currentWidget() is conv.results and "a brand new request" in conv.results.item(0).text()

        qtbot.waitUntil(found, timeout=10_000)  # the file the session created is read from then on
    finally:
        win.quit()
