"""The double-talk check: the person talking over the speaker is found, the speaker's echo never is, even
when the canceller lets it through untouched."""

from __future__ import annotations

import numpy as np

from audio.double_talk import DoubleTalkDetector
from audio.echo_path import EchoPath
from audio.frames import FRAME_BYTES
from audio.sources import read_wav
from desktop.assets import asset


def _frames(x: np.ndarray) -> list[bytes]:
    pcm = np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()
    return [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]


def _run(far: np.ndarray, mic: np.ndarray, out: np.ndarray, detector: DoubleTalkDetector) -> list[bool | None]:
    return [detector.push(m, f, o) for m, f, o in zip(_frames(mic), _frames(far), _frames(out), strict=False)]


def _reply() -> np.ndarray:
    return np.frombuffer(read_wav(asset("speech", "hello.wav")) + read_wav(asset("speech", "sorry.wav")),
                         dtype="<i2").astype(np.float64)


def test_echo_is_never_the_person_even_when_the_canceller_lets_it_through(fixtures_dir):
    far = _reply()
    echo = EchoPath().apply(far) + np.random.default_rng(0).standard_normal(len(far)) * 30
    detector = DoubleTalkDetector()
    learned = _run(far, echo, echo * 0.01, detector)  # a canceller doing its job: the gain is learned
    assert detector.echo_gain_db is not None and sum(bool(v) for v in learned) <= 0.01 * len(learned)
    leaked = _run(far, echo, echo, DoubleTalkDetector())  # a fresh detector, the canceller passing all of it
    assert not any(leaked)  # cold: nothing while the speaker plays
    again = _run(far, echo, echo, detector)  # learned, and the canceller passing all of it (a burst)
    assert sum(bool(v) for v in again) <= 0.005 * len(again)


def test_the_person_over_the_speaker_is_found(fixtures_dir):
    far = _reply()
    echo = EchoPath().apply(far)
    detector = DoubleTalkDetector()
    _run(far, echo, echo * 0.01, detector)
    near = np.frombuffer(read_wav(fixtures_dir / "status.wav"), dtype="<i2").astype(np.float64)
    n = min(len(far), len(near))
    mic = echo[:n] + near[:n]
    flags = _run(far[:n], mic, near[:n], detector)
    talking = [f for f, frame in zip(flags, _frames(near[:n]), strict=False)
               if np.mean(np.frombuffer(frame, dtype="<i2").astype(float) ** 2) > 1e6]  # the louder speech
    assert sum(bool(v) for v in talking) >= 0.2 * len(talking)


def test_nothing_to_judge_while_the_speaker_is_silent():
    detector = DoubleTalkDetector()
    silence = np.zeros(16000)
    voice = np.random.default_rng(1).standard_normal(16000) * 3000
    assert set(_run(silence, voice, voice, detector)) == {None}
