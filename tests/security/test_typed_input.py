"""A typed request too long for one message is refused in the window itself, saying the limit, and nothing
typed is lost (Qt's own line edit cut a paste at 32,767 characters without a word)."""

from __future__ import annotations

from desktop.engine import MAX_TYPED_CHARS


def test_a_long_paste_is_kept_whole_and_refused_on_send_with_the_limit(window, qtbot, threat):
    win = window
    sent: list[str] = []
    win.bridge.send_text = lambda text: sent.append(text) or True  # what reaches the engine
    pasted = "fix the login test " * 60_000  # 1.14 M characters
    win.text.setText(pasted)
    assert len(win.text.text()) == len(pasted)  # nothing cut
    win.send_text()
    notice = win.messages.messages["notice:too-long"]
    assert f"{MAX_TYPED_CHARS:,}" in notice.text.full_text and not sent
    assert win.text.text() == pasted  # still there to shorten
    win.text.setText("fix the login test")
    win.send_text()
    assert sent == ["fix the login test"] and "notice:too-long" not in win.messages.messages
    threat("sizes and ids", "the user's typed request", f"a {len(pasted):,}-character paste into the text box",
           f"the box keeps it whole; Send refuses it locally, naming the {MAX_TYPED_CHARS:,}-character limit",
           "0 characters cut, 0 sent, notice shown; a short request then sent once")
