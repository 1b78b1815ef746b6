"""A long session against a stand-in that misbehaves like the service over time, over TLS (wss://) as
with Google: goAway every few seconds with a cut, late pongs while generating, a link that dies silently,
an expired resumption handle, latency drift.  Time is compressed (seconds, not minutes); the load test
runs the same conditions for an hour."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from desktop.engine import EngineOptions, SessionEngine
from desktop.events import ErrorEvent, EventBus, LatencyDrift, Notice, Reconnected
from desktop.live import protocol as p
from desktop.live.client import LiveClient, LiveConfig
from desktop.live.conditions import Conditions
from desktop.live.emulator import LiveEmulator
from desktop.metrics import Metrics
from desktop.monitoring import monitoring
from tests.standins import client_tls, server_tls


@pytest.fixture
def tls():
    """The stand-in's server TLS (the client trusts it through ``client_tls``)."""
    return server_tls()


@contextlib.asynccontextmanager
async def session(tls, conditions: Conditions, *, model_delay_s: float = 0.02, speedup: float = 50,
                  faults: tuple[str, ...] = (), **live):
    async with LiveEmulator(model_delay_s=model_delay_s, speedup=speedup, tls=tls, conditions=conditions) as emu:
        if faults:
            emu.inject(*faults)
        bus, metrics, events = EventBus(), Metrics(), []
        bus.subscribe(events.append)
        config = LiveConfig(url=p.live_url(emu.url), api_key="k", ssl_context=client_tls(), **live)
        assert config.url.startswith("wss://127.0.0.1:")
        engine = SessionEngine(LiveClient(config, metrics), bus=bus, metrics=metrics, options=EngineOptions())
        await engine.start()
        try:
            yield engine, emu, events
        finally:
            await engine.stop()


async def ask(engine: SessionEngine, text: str = "hello") -> str:
    await engine.send_text(text)
    turn = await engine.wait_turn(10)
    assert turn is not None and not turn.interrupted, "a turn was lost"
    return turn.assistant_text


async def until(cond, timeout: float) -> float:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "condition not reached"
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


async def test_go_away_every_few_seconds_loses_no_turn_and_renews_quickly(tls):
    # the cut comes 2 s after the goAway: a reply in flight always finishes first, however busy the machine
    async with session(tls, Conditions(goaway_every_s=0.5, goaway_time_left_s=2.0)) as (engine, emu, events):
        replies = []
        for i in range(8):
            replies.append(await ask(engine, f"hello {i}"))
            await asyncio.sleep(0.15)  # a pause between turns, where the client renews the connection
        gaps = engine.metrics.stages["live.reconnect_gap"]
    assert all(r.startswith("Hi") for r in replies)
    assert emu.stats.goaways >= 2 and emu.stats.resumed >= 2
    assert emu.stats.resumes_refused == 0  # the old socket is always closed before the resume
    assert gaps.count >= 2 and gaps.max_us < 1_000_000  # goAway -> new setupComplete, well under a second
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    assert not [e for e in events if isinstance(e, Notice)]  # nothing was lost: nothing to tell the user


async def test_late_pongs_while_generating_never_cut_a_turn(tls):
    # pings every 0.2 s, judged within 0.4 s while idle; the stand-in answers them 1 s late while it
    # speaks a reply that lasts longer than that
    conditions = Conditions(pong_delay_s=(1.0, 1.0))
    async with session(tls, conditions, speedup=1.5, keepalive_s=0.2, idle_pong_timeout_s=0.4) as (engine, emu, _):
        assert (await ask(engine)).startswith("Hi")
        timeouts = engine.metrics.counters["keepalive_timeouts"]
    assert emu.stats.pongs_delayed >= 2
    assert timeouts == 0 and emu.stats.connections == 1


async def test_a_link_that_dies_silently_is_noticed_between_turns_and_renewed(tls):
    async with session(tls, Conditions(), faults=("freeze",), keepalive_s=0.2, idle_pong_timeout_s=0.4) as (
            engine, emu, events):
        assert (await ask(engine)).startswith("Hi")  # after this reply the stand-in goes silent
        noticed = await until(lambda: emu.stats.connections >= 2 and engine.transport.connected, timeout=5)
        assert (await ask(engine, "hello again")).startswith("Hi")
        timeouts = engine.metrics.counters["keepalive_timeouts"]
    assert timeouts == 1 and noticed < 0.2 + 0.4 + 1.0  # ping interval + pong timeout + the reconnect
    assert not [e for e in events if isinstance(e, ErrorEvent)]


async def test_an_expired_handle_opens_a_fresh_session_that_remembers_the_last_turns(tls):
    # the goAway comes after the first answer (1.5 s; the turn takes well under that even on a busy machine), with
    # time to renew before the deadline; the handle it would renew with has expired (0.2 s) by then
    conditions = Conditions(handle_ttl_s=0.2, goaway_every_s=1.5, goaway_time_left_s=1.0)
    async with session(tls, conditions) as (engine, emu, events):
        assert (await ask(engine, "list my running agent tasks")).strip()
        await until(lambda: any(isinstance(e, Reconnected) for e in events), timeout=5)
        assert (await ask(engine, "hello")).startswith("Hi")
        fresh = engine.metrics.counters["fresh_sessions"]
    (renewed, *_) = [e for e in events if isinstance(e, Reconnected)]
    assert emu.stats.handles_expired >= 1 and fresh >= 1
    assert renewed.fresh and not renewed.resumed and not renewed.lost_context
    assert not [e for e in events if isinstance(e, ErrorEvent | Notice)]  # nothing lost: no banner


async def test_latency_drift_raises_one_alert_within_five_turns(tls):
    conditions = Conditions(drift=0.5, drift_after_turns=10)
    async with session(tls, conditions, model_delay_s=0.2, speedup=200) as (engine, emu, events):
        async with monitoring(engine.metrics, engine.bus, period_s=60):
            for i in range(10):
                await ask(engine, f"hello {i}")
            assert not [e for e in events if isinstance(e, LatencyDrift)]
            for i in range(5):
                await ask(engine, f"slower {i}")
                if any(isinstance(e, LatencyDrift) for e in events):
                    break
            alerts = [e for e in events if isinstance(e, LatencyDrift)]
    assert len(alerts) == 1 and i < 5 and alerts[0].recent_ms > 1.4 * alerts[0].baseline_ms
