"""Playback: the jitter buffer's rules (pre-buffer, underrun, barge-in flush, turn-end padding) and a real
output stream into the PulseAudio null sink."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from audio.capture import MicCapture
from audio.level import frame_level
from audio.playback import OUTPUT_RATE, JitterBuffer, SpeakerPlayer
from desktop.metrics import Metrics

BLOCK = OUTPUT_RATE // 100 * 2  # 10 ms of 24 kHz PCM16


def _audio(ms: int, value: int = 1000) -> bytes:
    return np.full(OUTPUT_RATE * ms // 1000, value, dtype="<i2").tobytes()


def test_a_reply_starts_after_start_ms_and_resumes_only_at_the_target():
    jb = JitterBuffer(target_ms=60, start_ms=20)
    jb.write(_audio(10))
    assert jb.read(BLOCK) == b"\0" * BLOCK  # below the start: still silent
    jb.write(_audio(10))
    assert jb.read(BLOCK) == _audio(10)  # 20 ms buffered: the first sound goes out at once
    assert jb.turn_played_at is not None and jb.turn_played_at >= jb.turn_written_at
    assert jb.read(BLOCK) == _audio(10)
    assert jb.read(BLOCK) == b"\0" * BLOCK and jb.underruns == 1
    jb.write(_audio(40))
    assert jb.read(BLOCK) == b"\0" * BLOCK  # mid-reply underrun: wait for the full target
    jb.write(_audio(20))
    assert jb.read(BLOCK) == _audio(10)


def test_underrun_plays_silence_and_waits_for_the_target_again():
    jb = JitterBuffer(target_ms=20)
    jb.write(_audio(20))
    assert jb.read(BLOCK) != b"\0" * BLOCK
    assert jb.read(BLOCK) != b"\0" * BLOCK
    assert jb.read(BLOCK) == b"\0" * BLOCK
    assert jb.underruns == 1
    jb.write(_audio(10))
    assert jb.read(BLOCK) == b"\0" * BLOCK  # 10 ms < target after an underrun
    jb.write(_audio(10))
    assert jb.read(BLOCK) == _audio(10)


def test_flush_drops_all_buffered_response_audio():
    jb = JitterBuffer(target_ms=60)
    jb.write(_audio(500))
    assert jb.read(BLOCK) == _audio(10)
    jb.flush()  # barge-in
    assert jb.buffered_ms == 0
    for _ in range(60):
        assert jb.read(BLOCK) == b"\0" * BLOCK  # nothing of the old reply, ever
    assert jb.underruns == 0 and jb.flushes == 1


def test_turn_end_pads_silence_and_releases_a_short_reply():
    jb = JitterBuffer(target_ms=60, pad_ms=80, start_ms=40)
    jb.write(_audio(30))  # shorter than the start: only the turn end lets it play
    assert jb.read(BLOCK) == b"\0" * BLOCK
    jb.end_of_turn()
    assert jb.buffered_ms == 30 + 80
    out = b"".join(jb.read(BLOCK) for _ in range(11))
    assert out[:len(_audio(30))] == _audio(30) and out[len(_audio(30)):] == b"\0" * (len(out) - len(_audio(30)))
    assert jb.underruns == 0  # the end of a turn is not an underrun
    jb.write(_audio(60))  # the next turn starts fresh
    assert jb.read(BLOCK) == _audio(10)


def test_audio_far_ahead_of_playback_is_dropped_not_buffered():
    jb = JitterBuffer(target_ms=60, max_buffered_s=1.0)
    for _ in range(50):  # a flood: 5 s of audio at once
        jb.write(_audio(100))
    assert jb.buffered_ms == 1000 and jb.dropped_bytes == OUTPUT_RATE * 4 * 2
    jb.read(BLOCK)
    jb.write(_audio(100))
    assert jb.buffered_ms == 1000  # room again after playback moved on


def test_odd_sized_reads_are_exact():
    jb = JitterBuffer(target_ms=10)
    jb.write(_audio(15))
    assert len(jb.read(BLOCK * 2)) == BLOCK * 2


@pytest.mark.parametrize("device_rate", [None, 48000])
async def test_speaker_plays_into_the_device_and_records_first_audio_to_played(pulse, device_rate):
    loop = asyncio.get_running_loop()
    heard: list[bytes] = []
    mic = MicCapture(loop, lambda f, t: heard.append(f))  # the null sink's monitor hears the speaker
    metrics = Metrics()
    player = SpeakerPlayer(metrics=metrics, jitter_ms=60, device_rate=device_rate)
    mic.open()
    player.open()
    try:
        deadline = time.monotonic() + 8
        while len(heard) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        heard.clear()
        player.prepare()  # a turn started: the stream runs before the reply comes
        await asyncio.sleep(1.0)
        t = np.arange(OUTPUT_RATE // 2) / OUTPUT_RATE
        tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
        for i in range(0, len(tone), 960):  # 20 ms chunks, as they come from Gemini
            player.write(tone[i:i + 960])
        player.end_of_turn()
        deadline = time.monotonic() + 6
        while "audio.first_audio_to_played" not in metrics.stages and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + 6
        while player.running and time.monotonic() < deadline:  # played, then stopped by itself
            await asyncio.sleep(0.02)
        # the sink's monitor reaches the microphone with the sound server's latency, which grows on a busy machine
        deadline = time.monotonic() + 6
        while not any(frame_level(f)[0] > -40 for f in list(heard)) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        player.close()
        mic.close()
    assert player.rate == (device_rate or OUTPUT_RATE) and player.starts == 1
    stage = metrics.stages["audio.first_audio_to_played"]
    assert stage.count == 1
    assert player.buffer.buffered_ms == 0
    # (the tone is -15 dBFS; after an underrun of the sound server's ALSA plugin only its first frames may arrive)
    assert max(frame_level(f)[0] for f in heard) > -40, "the tone never reached the sink"


async def test_the_speaker_stream_runs_only_while_a_reply_plays(pulse):
    player = SpeakerPlayer(jitter_ms=60, idle_ms=200)
    player.open()
    try:
        await asyncio.sleep(0.5)
        assert not player.running and player.starts == 0  # opened, idle: no stream, no wake-ups
        for _ in range(2):  # two replies: each starts the stream, each stops it once played
            for _ in range(25):  # half a second in 20 ms chunks
                player.write(_audio(20))
            player.end_of_turn()
            assert player.running
            deadline = time.monotonic() + 5
            while player.running and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert not player.running and player.buffer.buffered_ms == 0
        assert player.starts == 2
    finally:
        player.close()



def test_opening_the_speaker_lets_its_callback_take_the_gil_in_time(pulse):
    """The callback needs the GIL before the device runs dry: with the default 5 ms switch interval two busy
    Python threads made it late (3-6 "underrun occurred" lines per four replies here; 0-4 at 1 ms on a machine
    with a load of 8 on 2 cores, where the rest is the OS scheduler's)."""
    import sys

    from audio.playback import AUDIO_SWITCH_INTERVAL_S

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    player = SpeakerPlayer(jitter_ms=60)
    try:
        player.open()
        assert sys.getswitchinterval() == AUDIO_SWITCH_INTERVAL_S
    finally:
        player.close()
        sys.setswitchinterval(before)
