"""Auto-repeat filtering: release/press pairs of a held key are dropped whether or not they are flagged."""

from __future__ import annotations

from ui.key_repeat import KeyRepeatFilter


def _filter(qtbot):
    f = KeyRepeatFilter(window_ms=30)
    seen: list[str] = []
    f.pressed.connect(lambda _at: seen.append("press"))
    f.released.connect(lambda: seen.append("release"))
    return f, seen


def test_unflagged_release_press_pairs_of_a_held_key_are_one_press(qtbot):
    f, seen = _filter(qtbot)
    f.press(1.0, 1000)
    for stamp in range(1500, 3000, 33):  # X auto-repeat at 30/s, none flagged
        f.release(stamp)
        f.press(1.0, stamp)
    f.press(1.0, 3100, auto_repeat=True)  # and the flagged kind
    f.release(3200)
    qtbot.waitUntil(lambda: seen == ["press", "release"], timeout=1000)
    assert f.repeats == len(range(1500, 3000, 33)) and len(f.release_delays) == 1
    assert 0.025 <= f.release_delays[0] < 0.2


def test_a_late_press_with_the_release_timestamp_is_still_a_repeat(qtbot):
    f, seen = _filter(qtbot)
    f.press(1.0, 1000)
    f.release(2000)
    qtbot.waitUntil(lambda: seen == ["press", "release"], timeout=1000)
    f.press(1.0, 2000)  # the pair's press arrived after the window: not a new press
    assert seen == ["press", "release"]
    f.press(1.0, 2600)  # a real new press
    assert seen == ["press", "release", "press"]


def test_a_press_without_timestamps_after_the_window_is_a_new_press(qtbot):
    f, seen = _filter(qtbot)
    f.press(1.0, 0)
    f.release(0)
    qtbot.waitUntil(lambda: seen == ["press", "release"], timeout=1000)
    f.press(2.0, 0)
    assert seen == ["press", "release", "press"]


def test_a_release_and_a_new_press_that_arrive_together_late_are_still_two_events(qtbot):
    """The window was busy: a real release (X time 2000) and a new press 150 ms later (X time 2150) are
    handled back to back.  By their own clock they are not a repeat pair."""
    f, seen = _filter(qtbot)
    f.press(1.0, 1000)
    f.release(2000)
    f.press(2.0, 2150)
    assert seen == ["press", "release", "press"] and f.repeats == 0 and f.down
