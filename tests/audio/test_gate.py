"""The push-to-talk gate: pre-roll, and a turn that ends when the person is done rather than a fixed tail later."""

from __future__ import annotations

from audio.gate import GateState, PushToTalkGate

F = b"\1\0" * 160  # one 10 ms frame


def test_preroll_is_handed_over_at_the_press():
    gate = PushToTalkGate(preroll_ms=50, tail_ms=200)
    frames = [bytes([i]) * 320 for i in range(8)]
    for f in frames:
        assert gate.push(f) == (False, False)
    assert gate.press() == frames[-5:]
    assert gate.push(F) == (True, False)


def test_release_after_the_person_stopped_ends_the_turn_at_once():
    gate = PushToTalkGate(tail_ms=200, settle_ms=60)
    gate.press()
    assert gate.push(F, trailing_silence_s=0.0) == (True, False)
    assert gate.release(trailing_silence_s=0.10) is True
    assert gate.state is GateState.IDLE
    assert gate.push(F, 0.11) == (False, False)  # back to collecting pre-roll


def test_release_mid_word_waits_for_the_vads_end_of_speech():
    gate = PushToTalkGate(tail_ms=200, settle_ms=60)
    gate.press()
    assert gate.release(trailing_silence_s=0.0) is False
    assert gate.state is GateState.TAIL
    outcomes = [gate.push(F, s) for s in (0.0, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06)]
    assert outcomes[:-1] == [(True, False)] * 7
    assert outcomes[-1] == (True, True)  # 60 ms of silence after the last word: done, 80 ms after the key


def test_a_word_that_goes_on_is_cut_at_the_tail():
    gate = PushToTalkGate(tail_ms=100, settle_ms=60)
    gate.press()
    assert gate.release(0.0) is False
    outcomes = [gate.push(F, 0.0) for _ in range(10)]
    assert outcomes[-1] == (True, True) and all(o == (True, False) for o in outcomes[:-1])


def test_without_a_vad_the_fixed_tail_applies():
    gate = PushToTalkGate(tail_ms=50)
    gate.press()
    assert gate.release(None) is False
    assert [gate.push(F) for _ in range(5)][-1] == (True, True)
    zero = PushToTalkGate(tail_ms=0)
    zero.press()
    assert zero.release(None) is True


def test_release_without_press_does_nothing():
    gate = PushToTalkGate()
    assert gate.release(1.0) is False and gate.state is GateState.IDLE
