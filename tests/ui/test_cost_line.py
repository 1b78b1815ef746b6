"""The header's cost line: a typed turn against the offline stand-in shows its tokens and estimated price,
as plain text with an accessible name; a new session starts its own count from zero and keeps today's."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.pricing import DEFAULT_PRICES, dollars, tokens
from tests.ui.conftest import save_shot


def _typed_turn(qtbot, win, text: str) -> None:
    before = win.bridge.engine.usage.total_tokens
    win.text.setText(text)
    win.send_text()
    qtbot.waitUntil(lambda: win.bridge.engine.usage.total_tokens > before and win.state == "ready", timeout=15_000)


def test_a_turns_tokens_and_estimated_price_show_in_the_header_and_today_survives_a_new_session(qtbot, window,
                                                                                                 shots):
    win = window
    qtbot.waitUntil(win.cost.isVisible, timeout=5000)  # today's total (none yet) once the session is up
    assert win.cost.line.startswith("Estimated cost: this session 0 tokens ≈ $0.0000 · today 0 tokens")
    _typed_turn(qtbot, win, "what is the status of my runs")
    usage = win.bridge.engine.usage
    price = DEFAULT_PRICES.estimate(usage)
    expected = (f"Estimated cost: this session {tokens(usage.total_tokens)} tokens ≈ {dollars(price)} · "
                f"today {tokens(usage.total_tokens)} tokens ≈ {dollars(price)}")
    qtbot.waitUntil(lambda: win.cost.line == expected, timeout=5000)
    qtbot.waitUntil(lambda: win.cost.text() == expected, timeout=2000)  # laid out: room for all of it
    assert win.cost.textFormat() == Qt.TextFormat.PlainText
    assert win.cost.accessibleName() == expected
    assert "[prices]" in win.cost.toolTip() and DEFAULT_PRICES.date in win.cost.accessibleDescription()
    save_shot(win, shots / "cost-line.png")

    first = usage.total_tokens
    old_engine = win.bridge.engine
    win.bridge.restart()  # a new session (as after a settings change): today's tokens come from the database
    qtbot.waitUntil(lambda: win.bridge.engine is not None and win.bridge.engine is not old_engine
                    and win.state == "ready", timeout=15_000)
    qtbot.waitUntil(lambda: win.cost.line.startswith("Estimated cost: this session 0 tokens")
                    and f"today {tokens(first)} tokens" in win.cost.line, timeout=5000)
    _typed_turn(qtbot, win, "list my runs")
    second = win.bridge.engine.usage.total_tokens
    qtbot.waitUntil(lambda: f"this session {tokens(second)} tokens" in win.cost.line
                    and f"today {tokens(first + second)} tokens" in win.cost.line, timeout=5000)


def test_a_narrow_window_elides_the_cost_line_instead_of_growing(qtbot, window, shots):
    win = window
    qtbot.waitUntil(win.cost.isVisible, timeout=5000)
    _typed_turn(qtbot, window, "what is the status of my runs")
    qtbot.waitUntil(lambda: "this session 0 tokens" not in win.cost.line, timeout=5000)
    win.resize(win.minimumSize())
    qtbot.waitUntil(lambda: win.width() <= win.minimumWidth() + 1, timeout=2000)
    assert win.cost.width() <= win.width() and win.cost.accessibleName() == win.cost.line
    painted = win.cost.text()
    assert painted in (win.cost.line, *win.cost.shorter) or painted.endswith("…")
    assert win.cost.fontMetrics().horizontalAdvance(painted) <= win.cost.width()
    assert painted.startswith("Estimated") and "$" in painted  # the price stays in view
    save_shot(win, shots / "cost-line-narrow.png")
