"""The conversation stays whole across Settings: a setting that needs a new session restarts it (and the new
session counts its turns from 1 again), a live one switches in the running session, a next-start one waits;
either way every turn keeps its own bubbles and Gemini's replies stay on screen."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui.conftest import make_window
from ui.conversation import Bubble, ConversationView
from ui.settings_dialog import SettingsDialog


def shown_bubbles(conv: ConversationView) -> list[Bubble]:
    """The live conversation's bubbles in the order they are on screen."""
    out = []
    for i in range(conv.column.count()):
        holder = conv.column.itemAt(i).widget()
        bubble = holder.findChild(Bubble) if holder is not None else None
        if bubble is not None:
            out.append(bubble)
    return out


def typed_turn(qtbot, win, text: str) -> None:
    """Type ``text``, send it with Enter and wait for Gemini's whole reply."""
    conv = win.conversation
    before = len(shown_bubbles(conv))
    win.text.setFocus()
    win.text.setText(text)
    qtbot.keyPress(win.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(shown_bubbles(conv)) >= before + 2 and shown_bubbles(conv)[-1].role == "assistant"
                    and shown_bubbles(conv)[-1].text.strip() != "", timeout=15_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)


def check_turns(conv: ConversationView, said: list[str]) -> None:
    """One user bubble per request with exactly its words, each followed by Gemini's own, non-empty reply."""
    conv.refresh()
    bubbles = shown_bubbles(conv)
    users = [b for b in bubbles if b.role == "user"]
    assert [b.text for b in users] == said  # nothing glued onto an earlier turn
    for i, b in enumerate(bubbles):
        if b.role == "user":
            reply = bubbles[i + 1]
            assert reply.role == "assistant" and reply.body.full_text.strip(), (b.text, reply.text)
    assert len([b for b in bubbles if b.role == "assistant"]) == len(said)


def save_in_dialog(qtbot, win, change) -> None:
    dlg = win.open_settings("audio")
    assert isinstance(dlg, SettingsDialog)
    change(dlg)
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible(), dlg.error.text()


def test_turns_keep_their_bubbles_across_every_kind_of_settings_change(qtbot, themed_app, memory_keyring):
    win = make_window(qtbot)
    bridge, conv = win.bridge, win.conversation
    said: list[str] = []
    try:
        for text in ("first request please", "second request please"):
            typed_turn(qtbot, win, text)
            said.append(text)
        check_turns(conv, said)

        # a setting that needs a new session: the session restarts, its turns count from 1 again
        first_engine = bridge.engine
        save_in_dialog(qtbot, win, lambda d: d.voice.setCurrentText("Puck"))
        qtbot.waitUntil(lambda: bridge.engine is not None and bridge.engine is not first_engine
                        and win.state == "ready", timeout=15_000)
        assert conv.session_no == 1
        typed_turn(qtbot, win, "third request after the voice")
        said.append("third request after the voice")
        assert bridge.engine is not None and bridge.engine.turns == 1  # the new session's turn 1
        check_turns(conv, said)

        # noise suppression chosen explicitly: a new session again, and the choice is what runs
        engine = bridge.engine
        save_in_dialog(qtbot, win, lambda d: d.denoise.setCurrentText("off"))
        qtbot.waitUntil(lambda: bridge.engine is not None and bridge.engine is not engine
                        and win.state == "ready", timeout=15_000)
        qtbot.waitUntil(lambda: bridge.engine.profile is not None, timeout=5000)
        assert bridge.engine.profile.denoise == "off"
        typed_turn(qtbot, win, "fourth request without suppression")
        said.append("fourth request without suppression")
        check_turns(conv, said)

        # a live setting: the quality profile switches in the running session, no restart
        engine = bridge.engine
        save_in_dialog(qtbot, win, lambda d: d.quality.setCurrentText("saver"))
        qtbot.waitUntil(lambda: engine.profile is not None and engine.profile.name == "saver", timeout=5000)
        assert bridge.engine is engine and conv.session_no == 2
        qtbot.waitUntil(lambda: win.profile.text() == "Battery saver", timeout=5000)
        typed_turn(qtbot, win, "fifth request on the saver")
        said.append("fifth request on the saver")
        check_turns(conv, said)

        # one for the next start: nothing restarts, the window says when it applies
        win.apply_settings(win.settings.replace(log_level="INFO"))
        assert bridge.engine is engine and "next start" in win.status.full_text

        # Reconnect restarts the session too
        win.on_action("reconnect")
        qtbot.waitUntil(lambda: bridge.engine is not None and bridge.engine is not engine
                        and win.state == "ready", timeout=15_000)
        typed_turn(qtbot, win, "sixth request after reconnecting")
        said.append("sixth request after reconnecting")
        check_turns(conv, said)
        assert conv.session_no == 3
    finally:
        win.quit()
