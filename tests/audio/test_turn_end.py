"""Ending the turn when the person is done: over a real socket to the local Live emulator, the turn ends at
the key release when the speech already ended, the stand-in still hears every word, and the headline latency
(end of speech -> first sound) is measured with its split."""

from __future__ import annotations

import pytest

from audio.denoise import build_backend
from audio.pipeline import InputPipeline
from audio.sources import WavSource
from desktop.engine import EngineOptions, SessionEngine
from desktop.live.client import LiveClient
from desktop.simulated_user import speak_frames
from tests.standins import live_config, live_emulator

SPEECH = ["create_pr", "status", "list_runs", "resume"]


async def _turn(frames, *, press_at=None, release_at=None, tail_ms=200):
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = SessionEngine(LiveClient(live_config(emu)),
                               options=EngineOptions(preroll_ms=300, tail_ms=tail_ms),
                               pipeline=InputPipeline(build_backend("webrtc")))
        await engine.start()
        try:
            await speak_frames(engine, frames, realtime=False, press_at=press_at, release_at=release_at)
            turn = await engine.wait_turn(10)
        finally:
            await engine.stop()
    return turn, emu.stats.heard_voiced


async def _whole(frames, press_at):
    """What the stand-in hears of the same input chain's audio when the key stays down to the end of the file."""
    return (await _turn(frames, press_at=press_at, release_at=len(frames)))[1]


@pytest.mark.parametrize("name", SPEECH)
async def test_release_after_the_speech_ends_the_turn_at_once_without_clipping(fixtures_dir, manifest, name):
    frames = WavSource(fixtures_dir / f"{name}.wav").frames
    start, end = manifest[f"{name}.wav"]["speech"]
    turn, heard = await _turn(frames, press_at=int(start * 100) - 20, release_at=int(end * 100) + 12)
    assert turn is not None and turn.user_text == manifest[f"{name}.wav"]["text"]
    # the stand-in heard the whole utterance: as much voice as when the key is held to the end of the file
    assert heard == [pytest.approx((await _whole(frames, int(start * 100) - 20))[0], abs=1)]
    t = turn.timings_ms
    assert t["release_to_activity_end"] < 100  # generous: the bench measures the real figure
    parts = t["turn_end_wait"] + t["client_before"] + t["service"] + t["client_after"]
    assert t["speech_end_to_first_sound"] == pytest.approx(parts, abs=0.01)
    assert 0 <= t["client_after"] < 100 and t["service"] >= 50  # the emulator's model delay is the service's


async def test_release_mid_word_ends_at_the_vads_end_of_speech(fixtures_dir, manifest):
    frames = WavSource(fixtures_dir / "status.wav").frames
    start, end = manifest["status.wav"]["speech"]
    turn, heard = await _turn(frames, press_at=40, release_at=int(end * 100) - 5)  # 50 ms before the last sample
    assert turn is not None and turn.user_text == manifest["status.wav"]["text"]
    assert heard == [pytest.approx((await _whole(frames, 40))[0], abs=1)]
    assert turn.timings_ms["release_to_activity_end"] < 200 + 50  # never past the tail


async def test_a_fixed_tail_alone_would_have_waited(fixtures_dir, manifest):
    """Baseline for the bench row: the same release without a VAD waits the whole tail."""
    frames = WavSource(fixtures_dir / "status.wav").frames
    end = manifest["status.wav"]["speech"][1]
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = SessionEngine(LiveClient(live_config(emu)),
                               options=EngineOptions(preroll_ms=300, tail_ms=200))  # no pipeline, no VAD
        await engine.start()
        try:
            await speak_frames(engine, frames, realtime=True, release_at=int(end * 100) + 15)
            turn = await engine.wait_turn(10)
        finally:
            await engine.stop()
    assert turn is not None and turn.timings_ms["release_to_activity_end"] >= 150
    assert turn.user_text == manifest["status.wav"]["text"]
