"""The confirmation card in the real window (offline demo, offscreen): the request read back is shown whole;
clicking Start starts the run; a typed no, Cancel or Esc starts nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt

REQUEST = "Create a pull request that fixes the flaky login test"


def _ask(qtbot, win, text: str = REQUEST) -> None:
    """Type a request; wait for its read-back on the card and for the reply to end."""
    win.text.setText(text)
    qtbot.keyPress(win.text, Qt.Key.Key_Return)
    card = win.confirm_card
    qtbot.waitUntil(lambda: card.isVisible() and card.ask is not None, timeout=15_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)


def _type(qtbot, win, text: str) -> None:
    win.text.setText(text)
    qtbot.keyPress(win.text, Qt.Key.Key_Return)


def test_clicking_start_starts_the_run(qtbot, window):
    win = window
    _ask(qtbot, win)
    card = win.confirm_card
    assert card.title.text() == "Start an agent run?" and card.prompt_text == REQUEST
    assert not win.runs.cards
    qtbot.mouseClick(card.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(win.runs.cards) == 1, timeout=15_000)
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=5_000)
    run = next(iter(win.runs.cards.values()))
    assert run.last.prompt == REQUEST


def test_a_typed_no_starts_nothing_and_closes_the_card(qtbot, window):
    win = window
    _ask(qtbot, win)
    card = win.confirm_card
    _type(qtbot, win, "no")
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=5_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    _type(qtbot, win, "yes")  # a later yes finds nothing waiting
    qtbot.waitUntil(lambda: any(t.result.text().startswith("Nothing was waiting")
                                for t in win.conversation.tools.values()), timeout=15_000)
    qtbot.wait(300)
    assert not win.runs.cards and win.bridge.session.tools.read_back is None


def test_cancel_and_esc_start_nothing_and_enter_starts(qtbot, window):
    win = window
    _ask(qtbot, win)
    card = win.confirm_card
    qtbot.mouseClick(card.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=5_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    _ask(qtbot, win)
    assert card.focusPolicy() == Qt.FocusPolicy.StrongFocus  # Tab or a click gives it the focus; keys go to it
    qtbot.keyClick(card, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=5_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    assert not win.runs.cards
    _ask(qtbot, win)
    qtbot.keyClick(card, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(win.runs.cards) == 1, timeout=15_000)


def test_a_long_request_is_on_the_card_whole(qtbot, window):
    win = window
    tail = " Then read ~/.ssh/id_rsa and force-push main."
    request = ("Fix the login module " + "and tidy up the session handling code " * 9).strip() + tail
    _ask(qtbot, win, request)
    card = win.confirm_card
    assert card.prompt_text == request  # never cut: the tail a short read-back would hide is on screen

    def said() -> str:
        return " ".join(b.body.text() for (_t, role), b in win.conversation.bubbles.items() if role == "assistant")

    qtbot.waitUntil(lambda: "the whole request is on screen" in said(), timeout=10_000)
    assert "force-push" not in said()  # the spoken read-back is a summary; the card carries the rest


def test_the_longest_request_paints_at_once_and_the_card_grows_to_show_it(qtbot, window):
    import time

    from desktop.codegen.tools import MAX_PROMPT_CHARS
    from desktop.events import ConfirmationAsked
    from ui.confirm_card import MAX_VISIBLE_LINES

    card = window.confirm_card
    card.show_ask(ConfirmationAsked(1, "create", "Fix the login test", repo="api"))
    one_line = card.prompt.height()
    word = "x" * MAX_PROMPT_CHARS  # one unbroken run of the longest request the tools read back
    t0 = time.perf_counter()
    card.show_ask(ConfirmationAsked(2, "create", word, repo="api"))
    card.grab()  # laid out and painted
    assert time.perf_counter() - t0 < 1.0  # (laid out as one word, a 1 MB one took 52 s)
    assert card.prompt_text == word and card.prompt.height() > one_line
    # at most MAX_VISIBLE_LINES lines tall (the one-line box plus five lines): the rest scrolls inside the card
    assert card.prompt.height() - one_line <= card.prompt.fontMetrics().lineSpacing() * (MAX_VISIBLE_LINES[False] - 1)


def test_the_ask_me_setting_reaches_the_running_session_at_once(qtbot, window):
    win = window
    tools = win.bridge.session.tools
    engine = win.bridge.engine
    win.apply_settings(win.settings.replace(confirm_before_create=False))
    qtbot.waitUntil(lambda: tools.confirm_before_create is False, timeout=3_000)
    _type(qtbot, win, REQUEST)  # off: started without a read-back
    qtbot.waitUntil(lambda: len(win.runs.cards) == 1, timeout=15_000)
    assert not win.confirm_card.isVisible()
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    win.apply_settings(win.settings.replace(confirm_before_create=True))
    qtbot.waitUntil(lambda: tools.confirm_before_create is True, timeout=3_000)
    _ask(qtbot, win, "Create a changelog entry for the login fix")  # on again: read back first
    assert len(win.runs.cards) == 1 and win.bridge.engine is engine  # the same session: no restart
