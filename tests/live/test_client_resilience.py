"""The Live client over real sockets against the emulator's fault injection."""

from __future__ import annotations

import asyncio

import pytest

from audio.sources import WavSource
from desktop.engine import EngineOptions, SessionEngine
from desktop.events import ErrorEvent, EventBus, Notice, TurnFinished
from desktop.live import protocol as p
from desktop.live.client import LiveClient, LiveConfig
from desktop.live.emulator import LiveEmulator
from desktop.live.errors import LiveError
from desktop.live.session import Renewal, Why
from desktop.metrics import Metrics
from desktop.simulated_user import speak_frames
from tests.standins import client_tls, live_emulator
from tests.standins import live_config as _config


class Recorder:
    def __init__(self, bus: EventBus):
        self.events: list = []
        bus.subscribe(self.events.append)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


async def _engine(emu: LiveEmulator, **cfg) -> tuple[SessionEngine, Recorder]:
    bus = EventBus()
    rec = Recorder(bus)
    metrics = Metrics()
    engine = SessionEngine(LiveClient(_config(emu, **cfg), metrics), bus=bus, metrics=metrics, options=EngineOptions(preroll_ms=300, tail_ms=200))
    await engine.start()
    return engine, rec


@pytest.fixture(scope="module")
def status_frames(fixtures_dir):
    return WavSource(fixtures_dir / "status.wav").frames


async def test_full_turn_and_timings(status_frames):
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine, rec = await _engine(emu)
        await speak_frames(engine, status_frames, realtime=False)
        turn = await engine.wait_turn(10)
        await engine.stop()
    assert turn is not None and turn.user_text == "What is the status of my last task"
    assert {"key_to_wire", "speech_end_to_first_audio", "turn_total"} <= set(turn.timings_ms)
    assert engine.player.bytes_written > 0
    assert not rec.of(ErrorEvent)


async def test_close_1011_mid_turn_reconnects_with_resumption_and_keeps_the_turn(status_frames):
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        engine, rec = await _engine(emu)
        # a first clean turn so a resumption handle exists
        await engine.send_text("hello")
        assert await engine.wait_turn(10)
        emu.inject("close_1011_mid_turn")
        await engine.transport.reconnect(Renewal(Why.CLOSED, detail="test: next connection misbehaves"))
        await speak_frames(engine, status_frames, realtime=False)
        turn = await engine.wait_turn(15)
        await engine.stop()
    assert turn is not None and not turn.interrupted
    assert turn.user_text == "What is the status of my last task"  # one copy, not lost, not doubled
    assert turn.assistant_text.startswith("Sorry, I have no")  # the replayed turn was answered in full
    notices = [n.message for n in rec.of(Notice)]
    assert any("resent" in m for m in notices), notices
    assert emu.stats.resumed >= 1
    assert engine.metrics.counters["reconnects"] >= 1


async def test_go_away_reconnects_between_turns():
    async with live_emulator(model_delay_s=0.02, speedup=50, goaway_s=5) as emu:
        emu.inject("goaway")
        engine, rec = await _engine(emu)
        await engine.send_text("hello")
        assert await engine.wait_turn(10)
        for _ in range(100):
            if emu.stats.connections >= 2 and engine.transport.connected:
                break
            await asyncio.sleep(0.02)
        await engine.send_text("hello again")
        turn = await engine.wait_turn(10)
        await engine.stop()
    assert emu.stats.connections == 2 and emu.stats.resumed == 1
    assert turn is not None and turn.assistant_text.startswith("Hi")
    assert not rec.of(ErrorEvent)


async def test_malformed_frame_is_reported_and_the_session_continues():
    async with live_emulator(model_delay_s=0.02, speedup=50) as emu:
        emu.inject("malformed")
        engine, rec = await _engine(emu)
        await engine.send_text("hello")
        turn = await engine.wait_turn(10)
        await engine.stop()
    errors = rec.of(ErrorEvent)
    assert [e.kind for e in errors] == ["protocol"] and "malformed" in errors[0].message
    assert turn is not None and turn.assistant_text.startswith("Hi")


async def test_stalled_turn_times_out_with_a_clear_error_and_recovers():
    async with live_emulator(model_delay_s=0.02, speedup=50) as emu:
        emu.inject("stall")
        engine, rec = await _engine(emu, turn_timeout_s=0.6)
        await engine.send_text("hello")
        turn = await engine.wait_turn(5)
        assert turn is not None
        assert [e.kind for e in rec.of(ErrorEvent)] == ["timeout"]
        for _ in range(100):
            if engine.transport.connected and emu.stats.connections >= 2:
                break
            await asyncio.sleep(0.02)
        await engine.send_text("hello")
        turn = await engine.wait_turn(5)
        await engine.stop()
    assert turn is not None and turn.assistant_text.startswith("Hi")


@pytest.mark.parametrize("kw, kind, words", [
    ({"api_key": "wrong"}, "auth", "API key"),
    ({"api_key": ""}, "auth", "HTTP 401"),
])
async def test_wrong_or_missing_key_is_a_clear_auth_error(kw, kind, words):
    async with live_emulator(api_key="right") as emu:
        client = LiveClient(_config(emu, **kw))
        with pytest.raises(LiveError) as info:
            await client.connect()
    assert info.value.kind == kind and words in info.value.message and info.value.action


async def test_unknown_model_is_a_model_error():
    async with live_emulator() as emu:
        client = LiveClient(_config(emu, setup=p.SetupOptions(model="gemini-2.0-flash-live-001")))
        with pytest.raises(LiveError) as info:
            await client.connect()
    assert info.value.kind == "model" and "GEMINI_MODEL" in info.value.action


async def test_unreachable_endpoint_is_a_network_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = LiveClient(LiveConfig(url=p.live_url(f"wss://127.0.0.1:{port}"), api_key="k", setup_timeout_s=2,
                                   ssl_context=client_tls()))
    with pytest.raises(LiveError) as info:
        await client.connect()
    assert info.value.kind == "network" and "127.0.0.1" in info.value.message


async def test_barge_in_interrupts_the_reply_and_the_new_turn_gets_its_own(status_frames):
    async with live_emulator(model_delay_s=0.02, speedup=1.0) as emu:  # real-time reply: long enough to interrupt
        engine, rec = await _engine(emu)
        await engine.send_text("hello")
        for _ in range(200):
            if engine.state == "speaking":
                break
            await asyncio.sleep(0.01)
        assert engine.state == "speaking"
        await speak_frames(engine, status_frames, realtime=False)  # the key goes down over the reply
        turn = await engine.wait_turn(10)
        await engine.stop()
    first = rec.of(TurnFinished)[0]
    assert first.turn_id == 1 and first.interrupted
    assert engine.player.flushes >= 1
    # the end of the interrupted reply (interrupted, turnComplete) does not end the new turn early
    assert turn is not None and turn.id == 2 and not turn.interrupted
    assert turn.user_text == "What is the status of my last task" and turn.assistant_text


async def test_the_key_silences_a_reply_still_playing_after_it_was_received():
    """Replies stream faster than real time: the server has finished long before the speaker has."""
    async with live_emulator(model_delay_s=0.02, speedup=40) as emu:
        engine, rec = await _engine(emu)
        await engine.send_text("hello")
        first = await engine.wait_turn(10)
        assert first is not None and not engine.reply_pending
        assert engine.player.busy  # the headless device clock is still playing it
        engine.press()
        engine.release()
        await engine.stop()
    assert engine.player.flushes == 1
