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
    first.quit()  # the session ends: the store is flushed and closed

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
        qtbot.mouseClick(conv.results.viewport(), Qt.MouseButton.LeftButton,
                         pos=conv.results.visualItemRect(conv.results.item(0)).center())
        qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.past, timeout=5000)  # the session opens
        (matched,) = [b for b in conv.past_bubbles if b.matched and b.role == "user"]
        assert "hello from <span" in matched.body.text() and ">yesterday</span>" in matched.body.text()
        qtbot.mouseClick(conv.back, Qt.MouseButton.LeftButton)
        assert conv.stack.currentWidget() is conv.results
        conv.search.clear()
        qtbot.waitUntil(lambda: conv.stack.currentWidget() is conv.scroller, timeout=5000)
    finally:
        second.quit()


def seed_history(turns: int) -> None:
    """``turns`` finished turns of an earlier session in the store of this test's data dir."""
    from desktop.config import Settings
    from desktop.events import EventBus, TurnFinished
    from desktop.state.recorder import Recorder
    from desktop.state.store import open_store

    store = open_store(Settings())
    bus = EventBus()
    rec = Recorder(store).attach(bus)
    for i in range(1, turns + 1):
        bus.emit(TurnFinished(i, f"request number {i}", f"answer number {i}, " + "with some words " * 6, {},
                              started_at=1_700_000_000.0 + i))
    rec.close()
    store.close()


def test_the_window_opens_at_the_latest_turn_and_offers_a_jump_back_to_it(qtbot, themed_app, memory_keyring):
    seed_history(24)
    win = make_window(qtbot)
    try:
        conv = win.conversation
        bar = conv.scroller.verticalScrollBar()
        qtbot.waitUntil(lambda: conv.oldest_history_id is not None and bar.maximum() > 0, timeout=5000)
        qtbot.waitUntil(lambda: conv._anchor is None, timeout=3000)
        assert bar.value() == bar.maximum()  # the newest turn is in view, not a blank area
        assert conv.jump.isHidden()
        bar.setValue(bar.maximum() // 3)  # the user scrolls up
        qtbot.waitUntil(conv.jump.isVisible, timeout=2000)
        win.text.setText("hello")  # a new turn arrives while scrolled up: the view stays where the user is
        qtbot.keyPress(win.text, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: any(r == "user" for (_t, r) in conv.bubbles), timeout=5000)
        assert bar.value() < bar.maximum() - 24
        qtbot.mouseClick(conv.jump, Qt.MouseButton.LeftButton)
        assert bar.value() == bar.maximum() and conv.jump.isHidden()
    finally:
        win.quit()
