"""Quality profiles reach the parts they govern and switch live, between turns, losing no frame."""

from __future__ import annotations

import asyncio

from audio.frames import FRAME_BYTES
from audio.sources import WavSource
from desktop.config import Settings
from desktop.engine import SessionEngine
from desktop.events import EventBus, Notice, ProfileChanged
from desktop.live.session import Renewal, Why
from desktop.quality import BALANCED, PERFORMANCE, SAVER
from desktop.session import open_session
from desktop.simulated_user import speak_frames


async def _turn(engine: SessionEngine, frames) -> None:
    await speak_frames(engine, frames, realtime=False)
    assert await engine.wait_turn(15) is not None


async def test_profile_switch_mid_turn_waits_for_the_turn_and_loses_no_frame(fixtures_dir):
    frames = WavSource(fixtures_dir / "list_runs.wav").frames
    settings = Settings(offline=True, quality_profile="performance")
    async with open_session(settings, model_delay_s=0.02, record=False) as session:
        engine = session.engine
        assert engine.profile.chunk_ms == PERFORMANCE.chunk_ms
        # switch while the key is down: the turn keeps 20 ms chunks, the next one uses 100 ms
        engine.press()
        engine.apply_profile(SAVER)
        assert engine.chunker.chunk_bytes == PERFORMANCE.chunk_ms * 32
        for f in frames[:150]:
            engine.feed_frame(f)
        engine.release()
        for f in frames[150:]:
            engine.feed_frame(f)
        assert await engine.wait_turn(15) is not None
        assert engine.profile == SAVER and engine.chunker.chunk_bytes == SAVER.chunk_ms * 32
        assert engine.pipeline.vad.options.frame_ms == SAVER.vad_frame_ms
        await _turn(engine, frames)
    assert engine.metrics.counters["frames_captured"] == 2 * len(frames)


async def test_every_frame_sent_reaches_the_server_once_across_switches(fixtures_dir):
    from desktop.live import protocol as p
    from desktop.live.client import LiveClient
    from desktop.session import Endpoints, live_config
    from tests.standins import client_tls, live_emulator

    frames = WavSource(fixtures_dir / "status.wav").frames
    async with live_emulator(model_delay_s=0.02, speedup=50) as emu:
        engine = SessionEngine(LiveClient(live_config(Settings(), Endpoints(p.live_url(emu.url), "k", True,
                                                                            client_tls()))))
        await engine.start()
        for profile in (PERFORMANCE, BALANCED, SAVER, PERFORMANCE):
            engine.apply_profile(profile)
            await _turn(engine, frames)
        await asyncio.sleep(0.1)
        await engine.stop()
    assert emu.stats.audio_bytes_in == engine.metrics.counters["frames_sent"] * FRAME_BYTES
    assert emu.stats.turns == 4


async def test_fake_battery_picks_the_profile_and_says_why(fixtures_dir):
    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    async with open_session(Settings(offline=True, power_source="fake:20,false"), bus=bus, record=False,
                            model_delay_s=0.02) as session:
        engine = session.engine
        assert engine.profile.name == "saver"
        assert engine.profile.chunk_ms == 100 and engine.profile.denoise_level == SAVER.denoise_level
    changes = [e for e in seen if isinstance(e, ProfileChanged)]
    assert changes and changes[0].profile == "saver" and "20 %" in changes[0].reason


async def test_explicit_denoise_setting_wins_over_the_profile():
    async with open_session(Settings(offline=True, denoise="off", power_source="fake:90,true"), record=False,
                            model_delay_s=0.02) as session:
        engine = session.engine
        assert engine.profile.name == "performance" and engine.profile.denoise == "off"
        assert type(engine.pipeline.denoiser).__name__ == "PassThrough"


async def test_saver_closes_an_idle_connection_and_the_next_turn_reopens_it(fixtures_dir, monkeypatch):
    import dataclasses

    frames = WavSource(fixtures_dir / "status.wav").frames
    bus = EventBus()
    notices = []
    bus.subscribe(lambda e: notices.append(e) if isinstance(e, Notice) else None)
    quick_saver = dataclasses.replace(SAVER, idle_close_s=0.5)
    async with open_session(Settings(offline=True), bus=bus, record=False, model_delay_s=0.02) as session:
        engine = session.engine
        engine.apply_profile(quick_saver)
        for _ in range(60):
            if engine.transport.suspended:
                break
            await asyncio.sleep(0.1)
        assert engine.transport.suspended and not engine.transport.connected
        await _turn(engine, frames)  # pressing the key wakes the connection; the turn is not lost
        turn = engine.turn
    assert turn.user_text == "What is the status of my last task" and turn.assistant_text
    assert any("save battery" in n.message for n in notices)
    assert not any("resent" in n.message for n in notices)


async def test_the_profile_or_the_setting_decides_the_compression_offer():
    from desktop.live.wire import PRESETS
    from desktop.quality import PERFORMANCE

    async with open_session(Settings(offline=True, power_source="fake:20,false"), record=False,
                            model_delay_s=0.02) as session:
        live = session.engine.transport
        assert session.engine.profile.name == "saver" and live.deflate is PRESETS[SAVER.compression]
        assert session.metrics.counters["deflate_accepted"] == 1  # the stand-in accepts the offer
        assert live.wire.negotiated.compress_settings == PRESETS[SAVER.compression].compress_settings()
        session.power.set_manual("performance")  # a new profile's offer applies from the next connection
        assert live.deflate is PRESETS[PERFORMANCE.compression]
        await live.reconnect(Renewal(Why.CLOSED, detail="test: a new connection"))
        assert session.metrics.counters["deflate_accepted"] == 2
        assert live.wire.negotiated.compress_settings == PRESETS[PERFORMANCE.compression].compress_settings()
    async with open_session(Settings(offline=True, power_source="fake:20,false", live_compression="off"),
                            record=False, model_delay_s=0.02) as session:
        assert session.engine.transport.deflate is None
        assert session.metrics.counters["deflate_offered"] == 0 and session.engine.transport.wire.offer is None
