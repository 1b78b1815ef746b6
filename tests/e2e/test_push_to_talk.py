"""Push-to-talk on a real X server with key auto-repeat on: one held key is one turn."""

from __future__ import annotations

import pytest

from tests.e2e.window import Person, close_app, open_app, user_texts


@pytest.fixture
def app(qtbot, xserver, speakers):
    win = open_app()
    qtbot.waitUntil(lambda: win.state == "ready" and win.bridge.engine is not None and win.bridge.mic is not None,
                    timeout=20_000)
    person = Person(qtbot, xserver, speakers, win)
    person.focus()
    yield person
    close_app(win)


def test_holding_space_while_speaking_is_one_turn_with_the_whole_request(app, qtbot):
    win = app.win
    engine = win.bridge.engine
    before = engine.turns
    app.hold_and_say("create_pr.wav")
    qtbot.waitUntil(lambda: any("Create a pull request" in t for t in user_texts(win)), timeout=15_000)
    qtbot.waitUntil(lambda: win.state == "ready", timeout=15_000)
    assert win.keys.repeats > 0  # the X server really auto-repeated the held key
    assert engine.turns - before == 1, user_texts(win)
    assert max(win.keys.release_delays) < 0.1  # the real release was held back by the repeat window only
    assert user_texts(win) == ["Create a pull request that fixes the flaky login test in the api repository"]
