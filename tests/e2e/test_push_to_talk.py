"""Talking to the real window on a real X server with key auto-repeat on, through the virtual microphone."""

from __future__ import annotations

import pytest

from desktop.config import Settings
from tests.e2e.window import assistant_texts, sox_speech, user_texts

CREATE_PR = "Create a pull request that fixes the flaky login test in the api repository"


@pytest.fixture(scope="module")
def spoken_yes(tmp_path_factory):
    """A spoken "yes", made like the other fixtures (espeak-ng + sox)."""
    return sox_speech("yes", tmp_path_factory.mktemp("speech") / "yes.wav")


def test_holding_space_while_speaking_is_one_turn_and_a_spoken_yes_starts_the_run_to_done(person, qtbot,
                                                                                         spoken_yes):
    app = person()
    win, engine = app.win, app.win.bridge.engine
    notes: list[str] = []
    win.notified.connect(lambda title, _text: notes.append(title))
    app.hold_and_say("create_pr.wav", while_held=lambda: app.shot("listening.png"))
    qtbot.waitUntil(lambda: CREATE_PR in user_texts(win), timeout=15_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    assert win.keys.repeats > 0  # the X server really auto-repeated the held key
    assert engine.turns == 1 and user_texts(win) == [CREATE_PR]
    assert max(win.keys.release_delays) < 0.1  # a real release is held back by the repeat window only
    (card,) = win.conversation.tools.values()
    assert card.status.text() == "waiting for your yes" and not win.runs.cards

    app.hold_and_say(spoken_yes, after_ms=250)  # a short spoken "yes" confirms the read-back
    qtbot.waitUntil(lambda: len(win.runs.cards) == 1, timeout=15_000)
    assert user_texts(win)[-1] == "Yes" and engine.turns == 2
    run = next(iter(win.runs.cards.values()))
    qtbot.waitUntil(lambda: run.category == "running" and len(run.step_lines) >= 2, timeout=15_000)
    app.shot("run-in-progress.png")
    qtbot.waitUntil(lambda: run.category == "done", timeout=20_000)
    assert run.chip.text() == "Done" and "demo page" in run.links.text()
    # Gemini keeps its word: it says the run is done, in the conversation as its turn linked to the card
    qtbot.waitUntil(lambda: any(run.run_id in b.run_ids and b.body.text().startswith(f"Run {run.run_id} is done")
                                for b in win.conversation.run_news), timeout=20_000)
    app.shot("run-update.png")
    assert win.in_view and not notes  # the window was in view: no desktop notification on top of it


def test_noise_is_not_a_request(person, qtbot):
    app = person()
    win = app.win
    app.hold_and_say("noise_only_3s.wav")
    qtbot.waitUntil(lambda: any(t.startswith("I did not hear anything") for t in assistant_texts(win)),
                    timeout=15_000)
    assert user_texts(win) == [] and not win.conversation.tools  # no invented request, no tool call
    player = win.bridge.player
    assert player is not None and player.starts >= 1  # the reply was played...
    qtbot.waitUntil(lambda: not player.running, timeout=10_000)  # ...then the speaker stream stopped: idle


def test_type_then_hold_space_talks(person, qtbot):
    app = person()
    win = app.win
    app.click(win.text)
    qtbot.waitUntil(win.text.hasFocus, timeout=3000)
    app.type("hello")
    qtbot.waitUntil(lambda: win.text.text() == "hello", timeout=5000)
    assert win.hint.text().startswith("Typing")  # the key types here, and the hint says so
    app.x.xdotool("key", "Return")
    qtbot.waitUntil(lambda: "hello" in user_texts(win), timeout=5000)
    assert not win.text.hasFocus() and win.hint.text() == "Hold Space to talk"  # focus back to talking
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    app.hold_and_say("list_runs.wav")
    qtbot.waitUntil(lambda: "List my running agent tasks" in user_texts(win), timeout=15_000)
    assert win.text.text() == ""  # no space went into the text box


def test_hands_free_hears_a_request_with_no_key_held(person, qtbot):
    app = person(Settings(offline=True, ptt_mode="hands-free"))
    win = app.win
    assert win.hint.text() == "Hands-free: just speak"
    app.say("status.wav")
    qtbot.waitUntil(lambda: "What is the status of my last task" in user_texts(win), timeout=15_000)
    assert win.keys.down is False and win.bridge.engine.turns == 1


def test_muted_never_listens_and_unmutes_from_the_window(person, qtbot):
    app = person()
    win = app.win
    app.click(win.mute)
    qtbot.waitUntil(lambda: win.muted and win.indicator.label == "Muted", timeout=3000)
    app.key_down()
    try:
        app.say("status.wav")
        assert not win.listening and win.indicator.label == "Muted"
    finally:
        app.key_up()
    assert user_texts(win) == [] and win.bridge.engine.turns == 0  # nothing was captured or sent
    app.click(win.mute)
    qtbot.waitUntil(lambda: not win.muted and win.indicator.label == "Ready", timeout=3000)
    app.hold_and_say("status.wav")
    qtbot.waitUntil(lambda: "What is the status of my last task" in user_texts(win), timeout=15_000)


def test_barge_in_stops_the_reply_and_takes_the_new_request(person, qtbot):
    app = person()
    win, engine = app.win, app.win.bridge.engine
    app.hold_and_say("list_runs.wav")
    qtbot.waitUntil(lambda: win.state == "speaking", timeout=15_000)
    app.hold_and_say("status.wav")  # talking over the reply
    qtbot.waitUntil(lambda: "What is the status of my last task" in user_texts(win), timeout=15_000)
    assert engine.turns == 2
    player = win.bridge.player
    assert player is not None and player.buffer.flushes >= 1  # the first reply was cut off


def test_a_spoken_no_to_the_read_back_starts_nothing_and_clicking_start_starts_it(person, qtbot, tmp_path):
    """Consent on the real display: the read-back's card appears whole; a spoken "no" withdraws it with no run;
    the same request asked again is started by a real mouse click on Start."""
    app = person()
    win = app.win
    spoken_no = sox_speech("no", tmp_path / "no.wav")
    app.hold_and_say("create_pr.wav")
    qtbot.waitUntil(lambda: win.confirm_card.isVisible(), timeout=15_000)
    assert "flaky login test" in win.confirm_card.prompt_text and not win.runs.cards
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)

    app.hold_and_say(spoken_no, after_ms=250)
    qtbot.waitUntil(lambda: user_texts(win)[-1] == "No", timeout=15_000)
    qtbot.waitUntil(lambda: not win.confirm_card.isVisible(), timeout=15_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    assert not win.runs.cards  # nothing started

    app.hold_and_say("create_pr.wav")
    qtbot.waitUntil(lambda: win.confirm_card.isVisible() and win.confirm_card.start.isEnabled(), timeout=15_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    app.click(win.confirm_card.start)
    qtbot.waitUntil(lambda: len(win.runs.cards) == 1, timeout=15_000)
    run = next(iter(win.runs.cards.values()))
    assert "flaky login test" in run.prompt.full_text
