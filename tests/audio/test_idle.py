"""Idle costs nothing: between push-to-talk turns the input chain rests (no stage runs; hands-free keeps it all
listening, the echo canceller guarding every start), and the pre-roll kept meanwhile still reaches the wire after a key press.

Work is counted (``InputPipeline.runs``: echo canceller, VAD, noise suppression, level meter invocations per
idle second; and the capture path's ``call_soon_threadsafe`` wake-ups of the engine loop), not timed, so the
checks hold on a busy machine.  A real engine over a real socket to the local
Live emulator, with the app's own chain (AEC3, webrtcvad + Silero, webrtc NS), fed by a frame source.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import numpy as np

from audio.capture import MicCapture
from audio.echo import FarEndReference
from audio.frames import FRAME_BYTES
from audio.level import frame_level
from audio.sources import WavSource, paced, split_frames
from audio.wavfile import write_wav
from desktop.config import Settings
from desktop.engine import EngineOptions, SessionEngine
from desktop.input_chain import input_chain
from desktop.live.client import LiveClient
from desktop.live.session import ActivityStart, SendAudio
from desktop.simulated_user import speak_frames
from tests.standins import live_config, live_emulator

STAGES = ("echo", "vad", "denoise", "meter")


def _room(seconds: float, seed: int = 0) -> list[bytes]:
    """A quiet room (about -61 dBFS) at the microphone."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * 16000)) * 30
    return split_frames(x.astype("<i2").tobytes())


def _engine(emu, options: EngineOptions) -> SessionEngine:
    pipeline, _ = input_chain(Settings(), FarEndReference(24000))  # the app's chain, echo canceller included
    assert pipeline.echo is not None and pipeline.vad.scorer is not None
    return SessionEngine(LiveClient(live_config(emu)), options=options, pipeline=pipeline)


async def _idle_runs(engine: SessionEngine, seconds: float) -> dict[str, float]:
    """Chain invocations per second of idle audio fed (as fast as the machine goes: work, not time)."""
    assert engine.pipeline is not None
    before = Counter(engine.pipeline.runs)
    async for frame, at in paced(_room(seconds, seed=int(seconds * 10)), realtime=False):
        engine.feed_frame(frame, at)
    after = engine.pipeline.runs
    return {stage: (after[stage] - before[stage]) / seconds for stage in STAGES}


async def test_push_to_talk_idle_runs_no_stage_of_the_chain(fixtures_dir):
    speech = WavSource(fixtures_dir / "status.wav").frames
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = _engine(emu, EngineOptions())
        await engine.start()
        try:
            assert await _idle_runs(engine, 3.0) == dict.fromkeys(STAGES, 0.0)  # before any turn
            await speak_frames(engine, speech, realtime=False)
            assert engine.pipeline is not None and engine.pipeline.runs["denoise"] > 0  # the turn ran the chain
            turn = await engine.wait_turn(10)
            assert turn is not None and turn.error is None
            for _ in range(300):  # the reply plays out at real-time pace on the headless player's clock
                if not engine.player.busy:
                    break
                await asyncio.sleep(0.05)
            assert not engine.player.busy
            # the turn and its playback are over: the next frame puts the chain to rest again
            assert await _idle_runs(engine, 3.0) == dict.fromkeys(STAGES, 0.0)
        finally:
            await engine.stop()


async def test_hands_free_keeps_the_whole_chain_listening():
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = _engine(emu, EngineOptions(hands_free=True))
        await engine.start()
        assert engine.pipeline is not None and engine.pipeline.vad.scorer is not None
        scorer = engine.pipeline.vad.scorer
        try:
            await _idle_runs(engine, 1.0)  # past the first stage's warm-up
            windows = scorer.windows
            runs = await _idle_runs(engine, 3.0)
        finally:
            await engine.stop()
    assert runs == dict.fromkeys(STAGES, 100.0)  # the echo canceller and its checks guard every start
    # the neural stage runs only around what the first stage flags (a noise peak now and then here), not on
    # every 32 ms window (31 a second)
    assert scorer.windows - windows < 0.5 * 3.0 * 16000 / 512
    assert engine.turns == 0  # a quiet room opens no turn


async def test_the_always_on_baseline_still_counts_every_frame():
    """The bench's baseline (``chain_between_turns``): every stage on every frame, as before the chain rested."""
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = _engine(emu, EngineOptions(chain_between_turns=True))
        await engine.start()
        try:
            runs = await _idle_runs(engine, 2.0)
        finally:
            await engine.stop()
    assert runs == dict.fromkeys(STAGES, 100.0)


async def test_the_pre_roll_reaches_the_wire_after_an_idle_period(fixtures_dir, manifest):
    """The person starts talking a moment before the key is down, after a long idle stretch: the first audio
    sent after activityStart holds the speech that preceded the press, run through the chain."""
    speech = WavSource(fixtures_dir / "status.wav").frames
    onset = int(manifest["status.wav"]["speech"][0] * 100)  # the first voiced frame of the file
    idle = _room(5.0)
    frames = idle + speech
    press_at = len(idle) + onset + 15  # the key goes down 150 ms into the first word
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = _engine(emu, EngineOptions(preroll_ms=300))
        sent: list[object] = []
        send = engine.transport.send

        async def recording_send(command):  # what goes on the wire, in order
            sent.append(command)
            await send(command)

        engine.transport.send = recording_send  # type: ignore[method-assign]
        await engine.start()
        try:
            await speak_frames(engine, frames, realtime=False, press_at=press_at)
            turn = await engine.wait_turn(10)
        finally:
            await engine.stop()
    assert turn is not None and turn.error is None
    assert engine.pipeline is not None and engine.pipeline.runs["denoise"] < len(frames) - len(idle) + 40
    start = next(i for i, c in enumerate(sent) if isinstance(c, ActivityStart))
    wire = b"".join(c.pcm for c in sent[start:] if isinstance(c, SendAudio))
    preroll = [wire[i:i + FRAME_BYTES] for i in range(0, 30 * FRAME_BYTES, FRAME_BYTES)]
    assert len(preroll) == 30 and len(wire) >= 100 * FRAME_BYTES  # the pre-roll, then the words after the press
    before_word, first_word = preroll[:15], preroll[15:]  # the room, then the 150 ms of speech before the press
    assert max(frame_level(f)[0] for f in first_word) > -40, "the first syllable (before the press) was not sent"
    assert max(frame_level(f)[0] for f in before_word) < max(frame_level(f)[0] for f in first_word) - 15
    assert turn.timings.first_wire_at is not None and turn.timings.pressed_at is not None


async def test_push_to_talk_idle_wakes_the_loop_for_no_frame(pulse):
    """The real microphone (PortAudio on the virtual one) between push-to-talk turns: it keeps the pre-roll itself,
    so the engine loop is woken for no frame and no stage of the chain runs; the key wakes it, and the kept
    frames are the turn's pre-roll at once."""
    loop = asyncio.get_running_loop()
    posted = 0
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counting(*args):
        nonlocal posted
        posted += 1
        return call_soon_threadsafe(*args)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]  # bound by the capture when it opens
    player = pulse.play(_room_wav(pulse, 8.0))
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = _engine(emu, EngineOptions(preroll_ms=300))
        await engine.start()
        mic = MicCapture(loop, engine.feed_frame)
        engine.audio.capture = mic
        try:
            mic.open()
            assert await _until(lambda: mic.held, 8.0), "the resting engine did not hand the pre-roll to the capture"
            assert engine.pipeline is not None
            runs, wakes, captured, t0 = Counter(engine.pipeline.runs), posted, mic.frames, time.monotonic()
            assert await _until(lambda: mic.frames >= captured + 150, 8.0)  # 1.5 s of audio captured meanwhile
            seconds = time.monotonic() - t0
            assert (posted - wakes) / seconds == 0.0  # capture -> loop wake-ups per idle second
            assert {k: (engine.pipeline.runs[k] - runs[k]) / seconds for k in STAGES} == dict.fromkeys(STAGES, 0.0)
            before = engine.metrics.counters["frames_captured"]
            engine.press()
            assert not mic.held
            assert engine.metrics.counters["frames_captured"] - before >= 30  # the 300 ms it kept: the pre-roll
            assert await _until(lambda: engine.metrics.counters["frames_sent"] >= 60, 5.0)  # then live frames
            engine.release()
            turn = await engine.wait_turn(10)
            assert turn is not None and turn.error is None
            assert await _until(lambda: mic.held, 10.0), "the capture was not held again after the turn"
        finally:
            mic.close()
            loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]
            await engine.stop()
            player.terminate()
            player.wait(5)


async def _until(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _room_wav(pulse, seconds: float):
    """The quiet room as a file for the virtual microphone (next to the server's own files)."""
    return write_wav(pulse.runtime / "idle-room.wav", b"".join(_room(seconds)))
