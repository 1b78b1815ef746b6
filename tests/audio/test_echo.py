"""Echo cancellation: the canceller on a simulated laptop echo path with the stand-in's replies as the far end,
the far-end reference, and hands-free through the speakers without answering itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from audio.echo import FarEndReference, build_canceller, cancel_all, erle_db, estimate_delay, make_canceller
from audio.echo_path import EchoPath, mix
from audio.frames import FRAME_BYTES, FRAME_SAMPLES
from audio.sources import read_wav
from audio.wavfile import write_wav
from desktop.assets import asset

REPLIES = ("hello", "confirm", "started", "status", "sorry", "logs")
PATHS = {"laptop": EchoPath(), "far wall": EchoPath(delay_ms=60, reverb_ms=250, seed=1),
         "loud, late": EchoPath(delay_ms=120, reverb_ms=100, gain_db=0, seed=2)}


def _session(replies: list[bytes], gap_s: float = 1.0) -> bytes:
    """The far end of a session: the replies one after another with a pause between them."""
    gap = bytes(int(gap_s * 16000) * 2)
    return b"".join(r + gap for r in replies)


def _mic(ref: bytes, path: EchoPath, near: bytes | None = None) -> bytes:
    echo = path.apply(np.frombuffer(ref, dtype="<i2"))
    parts = [echo, np.random.default_rng(0).standard_normal(len(echo)) * 30]
    if near is not None:
        parts.append(np.frombuffer(near, dtype="<i2").astype(np.float64))
    return mix(*parts)


@pytest.fixture(scope="module")
def stand_in_session() -> bytes:
    return _session([read_wav(asset("speech", f"{n}.wav")) for n in REPLIES])


@pytest.mark.parametrize("name", list(PATHS))
def test_webrtc_removes_at_least_20_db_of_the_stand_ins_replies(stand_in_session, name):
    mic = _mic(stand_in_session, PATHS[name])
    erle = erle_db(mic, cancel_all(build_canceller("webrtc"), mic, stand_in_session), stand_in_session)
    assert erle.frames > 500
    assert erle.db >= 20.0, f"{name}: {erle.db:.1f} dB"


def test_other_voices_are_cancelled_too(tmp_path: Path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): cannot render other voices")
    replies = []
    for i, voice in enumerate(("en-us+m3", "en-gb+f2", "en-us+m7")):
        wav = tmp_path / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav),
                        "Okay, I started the agent run. I will tell you when it is done."], check=True)
        replies.append(read_wav(wav))
    ref = _session(replies)
    mic = _mic(ref, EchoPath())
    assert erle_db(mic, cancel_all(build_canceller("webrtc"), mic, ref), ref).db >= 20.0


def test_the_person_talking_over_a_reply_is_kept(stand_in_session, fixtures_dir):
    speech = read_wav(fixtures_dir / "status.wav")
    at = 4 * 16000 * 2  # the person talks 4 s into the session, over a reply
    near = bytes(at) + speech + bytes(max(0, len(stand_in_session) - at - len(speech)))
    near = near[:len(stand_in_session)]
    mic = _mic(stand_in_session, EchoPath(), near)
    out = np.frombuffer(cancel_all(build_canceller("webrtc"), mic, stand_in_session), dtype="<i2").astype(float)
    n = np.frombuffer(near, dtype="<i2").astype(float)[:len(out)]
    a, b = at // 2, (at + len(speech)) // 2
    # the canceller delays its output a little: the best correlation over a few ms of lag
    corr = max(float(np.corrcoef(out[a + lag:b + lag], n[a:b])[0, 1]) for lag in range(0, 481, 16))
    assert corr > 0.5, corr  # the user's words survive the canceller (double talk)


def test_delay_is_estimated(stand_in_session):
    for path in PATHS.values():
        assert estimate_delay(_mic(stand_in_session, path), stand_in_session) == pytest.approx(path.delay_ms, abs=2)


def test_reference_resamples_what_the_device_played_and_bounds_the_lead():
    ref = FarEndReference(24000, max_lead_ms=100)
    assert ref.pull() == bytes(FRAME_BYTES) and ref.starved == 1  # nothing played yet: silence
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(24000) / 24000)).astype("<i2")
    ref.push(tone.tobytes())  # a second played in one go (the capture side fell behind)
    frame = np.frombuffer(ref.pull(), dtype="<i2")
    assert len(frame) == FRAME_SAMPLES and np.abs(frame).max() > 4000
    assert ref.dropped > 0  # at most 100 ms of lead is kept
    frames = 0
    while ref.pull() != bytes(FRAME_BYTES):
        frames += 1
    assert frames <= 10


def test_missing_backend_is_a_reason_not_a_crash(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pywebrtc_audio", None)
    canceller, why = make_canceller("webrtc")
    assert canceller is None and "pywebrtc-audio is not installed" in why
    with pytest.raises(ValueError, match="unknown echo canceller"):
        build_canceller("nope")


def test_cli_reports_echo_removed(tmp_path, capsys):
    import json

    from desktop.cli import main

    ref = tmp_path / "ref.wav"
    write_wav(ref, _session([read_wav(asset("speech", "hello.wav")), read_wav(asset("speech", "sorry.wav"))]))
    mic, out = tmp_path / "mic.wav", tmp_path / "out.wav"
    assert main(["audio", "aec", "--simulate", "--mic", str(mic), "--ref", str(ref), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["delay_ms_estimated"] == pytest.approx(40, abs=2)
    assert report["results"][0]["backend"] == "webrtc" and report["results"][0]["erle_db"] >= 20
    assert 0 < report["results"][0]["cpu_percent_of_core"] < 50
    assert len(read_wav(out)) == len(read_wav(mic)) // FRAME_BYTES * FRAME_BYTES
    assert main(["audio", "aec", "--mic", str(mic), "--ref", str(ref), "--near", "oops"]) == 2
