"""Real capture through PortAudio from a PulseAudio null sink's monitor (the virtual microphone)."""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np
import pytest

from audio.capture import MicCapture
from audio.denoise import build_backend
from audio.devices import AudioUnavailable, DeviceLost, find_device, load_sounddevice
from audio.frames import FRAME_BYTES
from audio.level import frame_level
from audio.pipeline import InputPipeline
from audio.vad import segments
from audio.wavfile import write_wav

from .conftest import start_pulse


async def _wait_for(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return pred()


async def test_capture_delivers_10ms_frames_with_the_speech(pulse, fixtures_dir, manifest):
    loop = asyncio.get_running_loop()
    frames: list[tuple[bytes, float]] = []
    errors: list[DeviceLost] = []
    cap = MicCapture(loop, lambda f, t: frames.append((f, t)), errors.append)
    cap.open()
    try:
        assert cap.rate == 16000 and cap.device is not None
        assert await _wait_for(lambda: len(frames) >= 5, 8.0), "no audio from the virtual microphone"
        first = len(frames)
        player = pulse.play(fixtures_dir / "status.wav")
        await asyncio.to_thread(player.wait, 15)
        await asyncio.sleep(0.5)
    finally:
        cap.close()
    captured = frames[first:]
    assert not errors
    assert {len(f) for f, _ in captured} == {FRAME_BYTES}
    times = [t for _, t in captured]
    assert times == sorted(times)
    seconds = len(captured) / 100
    assert 3.0 <= seconds <= 8.0  # the 3.5 s file plus the wait around it
    assert max(frame_level(f)[0] for f, _ in captured) > -40  # speech, not silence

    pipe = InputPipeline(build_backend("webrtc"))
    events = [ev for i, (f, _) in enumerate(captured) if (ev := pipe.process(f, (i + 1) / 100).vad)]
    segs = segments(events + pipe.finish())
    start, end = manifest["status.wav"]["speech"]
    assert segs, "the VAD found no speech in the captured audio"
    spoken = segs[-1][1] - segs[0][0]
    assert abs(spoken - (end - start)) <= 0.4, segs


async def test_native_rate_device_is_resampled_to_16k_frames(pulse, tmp_path):
    t = np.arange(44100) / 44100
    wav = tmp_path / "tone.wav"
    write_wav(wav, (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes(), 44100)
    loop = asyncio.get_running_loop()
    frames: list[tuple[bytes, float]] = []
    cap = MicCapture(loop, lambda f, t: frames.append((f, t)), device_rate=48000)
    cap.open()
    try:
        assert cap.rate == 48000
        assert await _wait_for(lambda: len(frames) >= 5, 8.0), "no audio from the virtual microphone"
        first = len(frames)
        t0 = time.perf_counter()
        player = pulse.play(wav)
        await asyncio.to_thread(player.wait, 10)
        await asyncio.sleep(0.3)
        elapsed = time.perf_counter() - t0
    finally:
        cap.close()
    got = frames[first:]
    assert {len(f) for f, _ in got} == {FRAME_BYTES}
    assert 0.7 * elapsed * 100 <= len(got) <= 1.3 * elapsed * 100 + 10  # ~100 frames a second
    loud = [f for f, _ in got if frame_level(f)[0] > -30]
    assert len(loud) >= 50  # most of the 1 s tone arrived, at 16 kHz
    x = np.frombuffer(b"".join(loud[10:40]), dtype="<i2").astype(float)
    freq = np.argmax(np.abs(np.fft.rfft(x))) * 16000 / len(x)
    assert abs(freq - 440) < 20  # the pitch survived the 48 kHz -> 16 kHz resampling


def _counter_wav(path, seconds: float, step: int = 3):
    """Every sample ``step`` above the one before (wrapping): a lost or repeated sample shows in the differences."""
    n = int(seconds * 16000)
    x = (np.arange(n, dtype=np.int64) * step) % 60000 - 30000
    return write_wav(path, x.astype("<i2").tobytes())


async def test_held_capture_wakes_nobody_and_hands_over_without_losing_a_sample(pulse, tmp_path):
    """Between turns the callback keeps the pre-roll itself: no frame reaches the loop while held, and the kept
    frames and the ones delivered after ``wake()`` join sample-exact (the stream is never touched)."""
    loop = asyncio.get_running_loop()
    posted = 0
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counting(*args):  # the capture path's loop wake-ups
        nonlocal posted
        posted += 1
        return call_soon_threadsafe(*args)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    frames: list[tuple[bytes, float]] = []
    cap = MicCapture(loop, lambda f, t: frames.append((f, t)))
    player = pulse.play(_counter_wav(tmp_path / "counter.wav", 6.0))
    try:
        cap.open()
        assert await _wait_for(lambda: len(frames) >= 30 and np.frombuffer(frames[-1][0], "<i2").any(), 8.0)
        for _ in range(50):  # refused while delivered blocks are still queued on the loop
            if cap.hold(300):
                break
            await asyncio.sleep(0)
        assert cap.held
        delivered, wakes, captured = len(frames), posted, cap.frames
        await asyncio.sleep(1.0)
        assert len(frames) == delivered and posted == wakes, "a held capture woke the loop"
        assert cap.frames >= captured + 50  # it kept capturing all along
        kept = cap.wake()
        assert not cap.held
        assert await _wait_for(lambda: len(frames) >= delivered + 30, 5.0), "no delivery after wake()"
    finally:
        cap.close()
        loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]
        player.terminate()
        player.wait(5)
    assert 30 <= len(kept) <= 40  # the newest 300 ms, in whole 10 ms blocks (one more than asked, at most)
    times = [t for _, t in kept + frames[delivered:]]
    assert times == sorted(times)
    joined = np.frombuffer(b"".join(f for f, _ in kept + frames[delivered:delivered + 30]), "<i2").astype(np.int64)
    steps = set(np.diff(joined).tolist())
    assert steps <= {3, 3 - 60000}, f"samples lost or repeated at the hand-over: {sorted(steps)[:5]}"


async def test_device_lost_mid_stream_is_an_error_event_and_capture_reopens(pulse, monkeypatch):
    started = start_pulse()
    if isinstance(started, str):
        pytest.skip(f"cannot start a second PulseAudio server: {started}")
    proc, doomed = started
    loop = asyncio.get_running_loop()
    frames: list[bytes] = []
    errors: list[DeviceLost] = []
    monkeypatch.setenv("PULSE_SERVER", doomed.env["PULSE_SERVER"])
    cap = MicCapture(loop, lambda f, t: frames.append(f), errors.append, stall_s=0.5)
    try:
        cap.open()
        assert await _wait_for(lambda: len(frames) >= 5, 8.0)
        proc.kill()  # the "device" disappears
        proc.wait(5)
        assert await _wait_for(lambda: bool(errors), 5.0), "no error after the device went away"
        assert "microphone" in errors[0].message
        assert errors[0].action and not cap.is_open

        monkeypatch.setenv("PULSE_SERVER", pulse.env["PULSE_SERVER"])
        frames.clear()
        cap.reopen()
        assert await _wait_for(lambda: len(frames) >= 5, 8.0), "the reopened capture delivers no audio"
    finally:
        cap.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_device_by_name_and_index(pulse):
    sd = load_sounddevice()
    dev = find_device(None, "input", sd)
    assert find_device(dev.index, "input", sd).index == dev.index
    assert find_device(str(dev.index), "input", sd).index == dev.index
    assert find_device(dev.name, "input", sd).index == dev.index
    with pytest.raises(AudioUnavailable, match="no input device matches 'no-such-mic'.*available: "):
        find_device("no-such-mic", "input", sd)


class _NoPortAudio:
    """An import hook that fails like sounddevice does on a machine without libportaudio2."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_missing_portaudio_is_one_clear_message(monkeypatch):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    with pytest.raises(AudioUnavailable) as info:
        load_sounddevice()
    msg = str(info.value)
    assert "PortAudio library not found" in msg and "libportaudio2" in msg and "\n" not in msg


class _NoDevices:
    """What sounddevice reports on a machine with no sound card at all."""

    class PortAudioError(Exception):
        pass

    class default:  # noqa: N801 - mirrors sounddevice.default
        device = (-1, -1)

    @staticmethod
    def query_devices():
        return []

    @staticmethod
    def query_hostapis():
        return []


def test_no_input_device_is_one_clear_message():
    with pytest.raises(AudioUnavailable, match=r"no audio input device found: connect a microphone .*libportaudio2"):
        find_device(None, "input", _NoDevices)


def test_audio_cli_reports_missing_portaudio_in_one_line(monkeypatch, capsys):
    from desktop.cli import main

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    assert main(["audio", "devices"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gemini-codegen: error: audio is unavailable") and "libportaudio2" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
