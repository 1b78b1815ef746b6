"""Monitoring: snapshot and alert events, the JSON-lines file, the Prometheus endpoint over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from desktop.config import Settings
from desktop.events import Alert, EventBus, MetricsSnapshot, Notice, TurnFinished
from desktop.live.session import Renewal, Why
from desktop.metrics import Metrics
from desktop.monitoring import Monitor, monitoring
from desktop.session import open_session


def _collect(bus: EventBus) -> list[object]:
    seen: list[object] = []
    bus.subscribe(seen.append)
    return seen


def test_alert_once_per_crossing_of_the_p99_target() -> None:
    metrics, bus = Metrics(), EventBus()
    seen = _collect(bus)
    monitor = Monitor(metrics, bus)
    metrics.observe_s("live.key_to_wire", 0.005)  # target 30 ms
    monitor.publish()
    assert not [e for e in seen if isinstance(e, Alert)]
    for _ in range(10):
        metrics.observe_s("live.key_to_wire", 0.080)
    monitor.publish()
    monitor.publish()
    alerts = [e for e in seen if isinstance(e, Alert)]
    assert len(alerts) == 1  # not repeated every period while the stage stays over target
    assert alerts[0].stage == "live.key_to_wire" and alerts[0].target_ms == 30.0
    assert alerts[0].p99_ms == pytest.approx(80.0, rel=0.02)
    snaps = [e for e in seen if isinstance(e, MetricsSnapshot)]
    assert len(snaps) == 3 and snaps[-1].stages["live.key_to_wire"].count == 11


async def test_endpoint_on_loopback_and_jsonl_file(tmp_path) -> None:
    metrics, bus = Metrics(), EventBus()
    seen = _collect(bus)
    path = tmp_path / "m" / "metrics.jsonl"
    for ms in (1, 2, 3, 40):
        metrics.observe_s("live.key_to_wire", ms / 1e3)
    metrics.count("frames_sent", 7)
    async with monitoring(metrics, bus, jsonl_path=str(path), port=0, period_s=0.05) as monitor:
        assert monitor.port
        for _ in range(100):  # wait for the first period (bounded: 5 s)
            if monitor.published:
                break
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as http:
            resp = await http.get(f"http://127.0.0.1:{monitor.port}/metrics", timeout=5)
        # bound to loopback only: the listening socket's address
        with socket.create_connection(("127.0.0.1", monitor.port), timeout=2) as s:
            assert s.getpeername()[0] == "127.0.0.1"
    assert resp.status_code == 200
    text = resp.text
    assert 'gemini_codegen_stage_seconds_count{stage="live.key_to_wire"} 4.0' in text
    assert 'gemini_codegen_stage_seconds{quantile="0.5",stage="live.key_to_wire"} 0.002' in text
    assert 'gemini_codegen_stage_p99_target_seconds{stage="live.key_to_wire"} 0.03' in text
    assert "gemini_codegen_frames_sent_total 7.0" in text
    assert "# TYPE gemini_codegen_stage_seconds summary" in text
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) >= 2  # at least one period and the final snapshot on exit
    assert lines[-1]["stages"]["live.key_to_wire"]["count"] == 4
    assert lines[-1]["counters"]["frames_sent"] == 7
    assert any(a["stage"] == "live.key_to_wire" for line in lines for a in line["alerts"])  # p99 40 ms > 30 ms
    assert any(isinstance(e, Notice) and "127.0.0.1" in e.message for e in seen)
    with pytest.raises(httpx.ConnectError):  # stopped with the session
        httpx.get(f"http://127.0.0.1:{monitor.port}/metrics", timeout=2)


async def test_port_in_use_is_a_notice_not_a_crash(tmp_path) -> None:
    bus = EventBus()
    seen = _collect(bus)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with monitoring(Metrics(), bus, port=port, jsonl_path=str(tmp_path), period_s=0.05) as monitor:
            assert monitor.port is None
    messages = [e.message for e in seen if isinstance(e, Notice)]
    assert any(f"Cannot serve metrics on 127.0.0.1:{port}" in m for m in messages)
    assert any("Cannot write the metrics file" in m for m in messages)  # a directory is not a file


async def test_open_session_wires_the_settings(tmp_path) -> None:
    path = tmp_path / "session.jsonl"
    settings = Settings(offline=True, data_dir=str(tmp_path), metrics_jsonl=str(path), metrics_port=0)
    bus = EventBus()
    seen = _collect(bus)
    async with open_session(settings, bus=bus, record=False, model_delay_s=0.05) as session:
        engine = session.engine
        await engine.send_text("hello")
        assert await engine.wait_turn(10) is not None
        for _ in range(60):
            if any(isinstance(e, MetricsSnapshot) for e in seen):
                break
            await asyncio.sleep(0.05)
        url = next(e.message.rsplit(" ", 1)[1] for e in seen
                   if isinstance(e, Notice) and e.message.startswith("Prometheus metrics on "))
        async with httpx.AsyncClient() as http:
            text = (await http.get(url, timeout=5)).text
    assert "gemini_codegen_messages_sent_total" in text
    assert any(isinstance(e, MetricsSnapshot) for e in seen)
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["stages"]["turn.total"]["count"] == 1


def test_monitoring_doc_names_every_stage_and_counter() -> None:
    from pathlib import Path

    from desktop.metrics import COUNTERS, STAGES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "monitoring.md").read_text()
    missing = [name for name in (*STAGES, *COUNTERS) if f"`{name}`" not in doc]
    assert not missing, f"docs/monitoring.md does not describe {missing}"


def _turn(n: int, reply_ms: float, **kw) -> TurnFinished:
    return TurnFinished(n, "q", "a", {"speech_end_to_first_audio": reply_ms}, **kw)


def test_drift_watch_alerts_once_when_replies_slow_down_and_rearms_after_recovery() -> None:
    from desktop.events import LatencyDrift
    from desktop.monitoring import DriftWatch

    bus = EventBus()
    alerts: list[LatencyDrift] = []
    bus.on(LatencyDrift, alerts.append)
    stop = DriftWatch(bus).attach()
    steady = (400, 460, 380, 520, 420)  # +-25 % around 420 ms
    for n in range(10):
        bus.emit(_turn(n, steady[n % 5]))
    assert alerts == []
    for n in range(10, 13):  # the service gets 50 % slower: caught within three turns
        bus.emit(_turn(n, 630))
    assert len(alerts) == 1 and alerts[0].baseline_ms == 420
    assert alerts[0].recent_ms == 630 and "fresh session" in alerts[0].action
    for n in range(13, 16):
        bus.emit(_turn(n, 640))
    assert len(alerts) == 1  # once, not every turn
    for n in range(16, 21):
        bus.emit(_turn(n, 420))
    for n in range(21, 24):
        bus.emit(_turn(n, 700))
    assert len(alerts) == 2  # recovered, then slowed again
    bus.emit(_turn(99, 5000, interrupted=True))  # an interrupted turn says nothing about the service
    stop()
    bus.emit(_turn(100, 9000))
    assert len(alerts) == 2


def test_a_fresh_session_starts_a_new_baseline() -> None:
    from desktop.events import LatencyDrift, Reconnected
    from desktop.monitoring import DriftWatch

    bus = EventBus()
    alerts: list[LatencyDrift] = []
    bus.on(LatencyDrift, alerts.append)
    watch = DriftWatch(bus)
    watch.attach()
    for n in range(10):
        bus.emit(_turn(n, 400))
    bus.emit(Reconnected(Renewal(Why.FRESH), resumed=False, fresh=True))
    for n in range(10):
        bus.emit(_turn(n, 900))  # a slower new session is its own baseline
    assert alerts == [] and watch.turns == 10
