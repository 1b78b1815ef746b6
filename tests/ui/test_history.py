"""History from the state store: a past session's turns load into the conversation, and search finds them."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui.conftest import make_window


def test_past_session_loads_and_search_finds_it(qtbot, themed_app, memory_keyring):
    first = make_window(qtbot)
    first.text.setText("hello from yesterday")
    qtbot.keyPress(first.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: any(r == "assistant" and b.body.text().strip().endswith(".")
                                for (_t, r), b in first.conversation.bubbles.items()), timeout=10_000)
    qtbot.waitUntil(lambda: first.state == "ready", timeout=5000)
    first.close()  # the session ends: the store is flushed and closed

    second = make_window(qtbot)
    try:
        conv = second.conversation
        assert conv.history_source is not None and conv.search.isEnabled()
        qtbot.waitUntil(lambda: conv.oldest_history_id is not None, timeout=5000)
        assert conv.history_done  # one short page: the beginning of the history is reached
        qtbot.keyClicks(conv.search, "yesterday")
        qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.results and conv.results.count() == 1,
                        timeout=5000)
        assert "hello from yesterday" in conv.results.item(0).text()
        conv.search.clear()
        qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.scroller, timeout=5000)
    finally:
        second.close()
