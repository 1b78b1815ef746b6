"""The input pipeline inside the session engine, over a real socket to the local Live emulator."""

from __future__ import annotations

import pytest

from audio.denoise import build_backend
from audio.pipeline import InputPipeline
from audio.sources import WavSource, paced
from desktop.config import Settings
from desktop.engine import EngineOptions, SessionEngine
from desktop.events import AudioLevel, EventBus, Notice
from desktop.live.client import LiveClient
from desktop.session import open_session
from desktop.simulated_user import speak_frames
from tests.standins import live_config, live_emulator


@pytest.fixture(scope="module")
def status_noisy(fixtures_dir):
    return WavSource(fixtures_dir / "status_noisy.wav").frames


async def test_engine_runs_frames_through_the_pipeline(status_noisy, manifest):
    bus = EventBus()
    events: list = []
    bus.subscribe(events.append)
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = SessionEngine(LiveClient(live_config(emu)), bus=bus,
                               options=EngineOptions(preroll_ms=300, tail_ms=200),
                               pipeline=InputPipeline(build_backend("webrtc")))
        await engine.start()
        try:
            await speak_frames(engine, status_noisy, realtime=False)
            turn = await engine.wait_turn(10)
        finally:
            await engine.stop()
    assert turn is not None and turn.user_text
    levels = [e for e in events if isinstance(e, AudioLevel)]
    audio_s = len(status_noisy) / 100
    assert 0 < len(levels) <= 30 * audio_s
    assert any(lv.speech for lv in levels) and any(not lv.speech for lv in levels)
    assert max(lv.rms_dbfs for lv in levels) > -40
    # the reply latency counts from the VAD's end of speech, which comes before activityEnd
    assert turn.timings.speech_end_at is not None and turn.timings.ended_at is not None
    assert turn.timings.speech_end_at <= turn.timings.ended_at
    assert turn.timings_ms["speech_end_to_first_audio"] >= turn.timings_ms["activity_end_to_first_audio"]
    assert turn.timings_ms["activity_end_to_first_audio"] == pytest.approx((turn.timings.first_audio_at - turn.timings.ended_at) * 1e3)
    assert engine.metrics.counters["frames_captured"] == len(status_noisy)


async def test_open_session_builds_the_pipeline_from_settings(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyrnnoise", None)
    from audio import denoise

    monkeypatch.setattr(denoise, "_announced", set())
    bus = EventBus()
    notices: list[Notice] = []
    bus.subscribe(lambda e: notices.append(e) if isinstance(e, Notice) else None)
    settings = Settings(offline=True, denoise="rnnoise", vad_mode=3, data_dir=str(tmp_path))
    async with open_session(settings, bus=bus, model_delay_s=0.05) as session:
        engine = session.engine
        assert engine.pipeline is not None
        assert engine.pipeline.denoiser.name == "webrtc"
        assert engine.pipeline.vad.options.mode == 3
    assert any(n.message == "rnnoise not installed -> falling back to webrtc" for n in notices)


class _BusyPlayer:
    """A speaker that is still playing the reply (for the half-duplex mute)."""

    busy = True

    def __init__(self) -> None:
        self.flushes = 0

    def write(self, pcm: bytes) -> None:
        pass

    def flush(self) -> None:
        self.flushes += 1

    def end_of_turn(self) -> None:
        pass

    def prepare(self) -> None:
        pass


async def test_hands_free_turn_is_opened_and_closed_by_the_vad(fixtures_dir):
    frames = WavSource(fixtures_dir / "status.wav").frames
    bus = EventBus()
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = SessionEngine(LiveClient(live_config(emu)), bus=bus,
                               options=EngineOptions(hands_free=True), pipeline=InputPipeline(build_backend("webrtc")))
        await engine.start()
        try:
            async for frame, captured_at in paced(frames, realtime=False):  # no key presses at all
                engine.feed_frame(frame, captured_at)
            turn = await engine.wait_turn(10)
        finally:
            await engine.stop()
    assert turn is not None and turn.user_text == "What is the status of my last task"
    assert engine.turns == 1
    assert 0 <= turn.timings_ms["key_to_wire"] < 1000


async def test_half_duplex_mutes_the_microphone_while_the_assistant_speaks(fixtures_dir):
    frames = WavSource(fixtures_dir / "status.wav").frames
    bus = EventBus()
    levels: list[AudioLevel] = []
    bus.subscribe(lambda e: levels.append(e) if isinstance(e, AudioLevel) else None)
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine = SessionEngine(LiveClient(live_config(emu)), bus=bus, player=_BusyPlayer(),
                               options=EngineOptions(hands_free=True),
                               pipeline=InputPipeline(build_backend("off")))
        audio = engine.audio
        audio.use_devices(half_duplex=True, device=None, speaker=None)
        await engine.start()
        try:
            async for frame, captured_at in paced(frames, realtime=False):  # the speaker's echo
                audio.feed(frame, captured_at)
        finally:
            await engine.stop()
    assert engine.turns == 0 and engine.player.flushes == 0  # no barge-in on its own voice
    assert levels and max(lv.peak_dbfs for lv in levels) < -90
