"""VAD accuracy on the speech fixtures and the hysteresis machine's behaviour."""

from __future__ import annotations

import pytest

from audio.denoise import build_backend
from audio.neural_vad import SileroScorer
from audio.pipeline import InputPipeline
from audio.sources import WavSource, silence
from audio.vad import (
    SPEECH_END,
    SPEECH_START,
    VadEvent,
    VadOptions,
    VadState,
    VoiceActivityDetector,
    next_floor,
    segments,
)

SPEECH = ["create_pr", "list_runs", "resume", "status"]


def detect(frames: list[bytes], mode: int, denoise: str) -> list[tuple[float, float]]:
    pipe = InputPipeline(build_backend(denoise), vad=VadOptions(mode=mode))
    events = [ev for i, f in enumerate(frames) if (ev := pipe.process(f, (i + 1) / 100).vad) is not None]
    return segments(events + pipe.finish())


@pytest.mark.parametrize("denoise", ["webrtc", "off"])
@pytest.mark.parametrize("mode", [2, 3])
@pytest.mark.parametrize("name", [n + s for n in SPEECH for s in ("", "_noisy")])
def test_speech_found_within_tolerance(fixtures_dir, manifest, name, mode, denoise):
    start, end = manifest[f"{name}.wav"]["speech"]
    segs = detect(WavSource(fixtures_dir / f"{name}.wav").frames, mode, denoise)
    assert segs, "no speech found"
    assert abs(segs[0][0] - start) <= 0.100, segs
    assert abs(segs[-1][1] - end) <= 0.300, segs
    assert all(start - 0.1 <= a and b <= end + 0.3 for a, b in segs), f"speech reported outside {start}-{end}: {segs}"


@pytest.mark.parametrize("denoise", ["webrtc", "off"])
@pytest.mark.parametrize("mode", [2, 3])
@pytest.mark.parametrize("name", ["silence_3s", "noise_only_3s"])
def test_no_speech_in_silence_or_noise(fixtures_dir, name, mode, denoise):
    assert detect(WavSource(fixtures_dir / f"{name}.wav").frames, mode, denoise) == []


@pytest.fixture(scope="module")
def status(fixtures_dir) -> list[bytes]:
    return WavSource(fixtures_dir / "status.wav").frames  # speech 0.60-2.44 s


def test_states_and_event_times_follow_the_hysteresis(status):
    vad = VoiceActivityDetector(VadOptions(mode=3, start_ms=100, stop_ms=200, warmup_ms=0))
    states, events = [], []
    for i, f in enumerate(status):
        ev = vad.process(f, (i + 1) / 100)
        states.append(vad.state)
        if ev:
            events.append(ev)
    for a, b in zip(states, states[1:], strict=False):
        assert (a, b) not in {(VadState.QUIET, VadState.SPEAKING), (VadState.SPEAKING, VadState.QUIET)}
    assert VadState.STARTING in states and VadState.STOPPING in states
    assert events[0].kind == SPEECH_START and events[-1].kind == SPEECH_END
    start, end = events[0], events[-1]
    # decided once start_ratio of start_ms is voiced (it can no longer fail), dated at the onset
    assert start.confirmed_at - start.at >= 0.07 - 1e-9
    assert end.confirmed_at - end.at >= 0.19  # decided after stop_ms, dated at the last voiced frame
    assert abs(start.at - 0.60) <= 0.1 and abs(end.at - 2.44) <= 0.3


def test_short_burst_does_not_start_speech(status):
    vad = VoiceActivityDetector(VadOptions(mode=3, start_ms=200, warmup_ms=0))
    frames = silence(300) + status[100:106] + silence(500)  # 60 ms of speech
    assert [e for i, f in enumerate(frames) if (e := vad.process(f, i / 100))] == []
    assert vad.state is VadState.QUIET


def test_digital_silence_is_never_speech():
    vad = VoiceActivityDetector(VadOptions(mode=0, warmup_ms=0, start_ms=10))
    assert [e for i, f in enumerate(silence(1000)) if (e := vad.process(f, i / 100))] == []


@pytest.mark.parametrize("frame_ms", [20, 30])
def test_longer_analysis_frames(status, frame_ms):
    vad = VoiceActivityDetector(VadOptions(mode=2, frame_ms=frame_ms))
    events = [e for i, f in enumerate(status) if (e := vad.process(f, (i + 1) / 100))] + vad.finish()
    segs = segments(events)
    assert segs and abs(segs[0][0] - 0.6) <= 0.1 and abs(segs[-1][1] - 2.44) <= 0.3


def _over_the_speaker(frames: list[bytes], near_at: set[int]) -> list[VadEvent]:
    """The VAD with its Silero stage, the speaker playing all along: the echo check (``near_end``) saw the
    person only on the frames ``near_at`` and called every other frame echo."""
    vad = VoiceActivityDetector(VadOptions(mode=3), scorer=SileroScorer())
    return [e for i, f in enumerate(frames) if (e := vad.process(f, (i + 1) / 100, i in near_at))]


def test_a_person_the_echo_check_saw_at_their_first_word_barges_in(status):
    """Through the speaker's echo the check sees the person now and then (the first frames of a word), and
    the canceller thins their voice while both talk: those frames keep the next ones open to the VAD."""
    events = _over_the_speaker(status, {60, 61})  # the first word starts at frame 60 (0.60 s)
    assert events and events[0].kind == SPEECH_START
    assert 0.55 <= events[0].at <= 0.75 and events[0].confirmed_at <= 0.95  # generous


def test_the_echo_check_doubting_a_quiet_frame_opens_nothing(status):
    """A verdict of "more than the echo" on a frame with nothing in it (the room's noise) proves nothing: the
    person's speech that follows, all of it called echo, starts no segment."""
    assert _over_the_speaker(status, {45, 46}) == []


def test_bad_options_and_frames_are_clear_errors():
    with pytest.raises(ValueError, match="mode must be 0-3"):
        VadOptions(mode=5)
    with pytest.raises(ValueError, match="10, 20 or 30"):
        VadOptions(frame_ms=15)
    with pytest.raises(ValueError, match="320 bytes"):
        VoiceActivityDetector().process(b"\0" * 100, 0.0)


def test_noise_floor_falls_at_once_rises_slowly_and_holds_while_speech_is_open():
    assert next_floor(None, 40.0, frozen=True, up_db=0.02) == 40.0  # the first frame sets it
    assert next_floor(40.0, 30.0, frozen=True, up_db=0.02) == pytest.approx(37.0)  # quieter: 0.3 of the gap
    assert next_floor(40.0, 60.0, frozen=False, up_db=0.02) == pytest.approx(40.02)  # louder: a step at most
    assert next_floor(40.0, 40.01, frozen=False, up_db=0.02) == 40.01  # ... never past the frame
    assert next_floor(40.0, 60.0, frozen=True, up_db=0.02) == 40.0  # speech open: it does not rise
