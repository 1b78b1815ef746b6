"""Publish a session's metrics: snapshot and alert events, a JSON-lines file, a Prometheus endpoint.

``DriftWatch`` compares the reply latency of a session's last turns with its first turns and emits a
``LatencyDrift`` when it has risen too far (long Gemini sessions are reported to slow down).

``Monitor`` runs one task on the engine's loop.  Every ``period_s`` it takes a ``MetricsSnapshot`` (the
percentiles of every stage, the counters), emits it on the bus, emits an ``Alert`` for each stage whose p99
has just gone over its target (once per crossing, not every second), appends one line to the JSON-lines
file when one is configured (``--metrics-jsonl``), and hands the snapshot to the Prometheus collector.

The Prometheus endpoint (``--metrics-port``) is prometheus-client's HTTP server bound to 127.0.0.1 only.
Its collector never touches the live histograms (they belong to the loop thread): it renders the latest
snapshot, so a scrape is at most one period old and costs the engine nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from desktop.events import Alert, EventBus, LatencyDrift, MetricsSnapshot, Notice, Reconnected, TurnFinished
from desktop.metrics import COUNTERS, Metrics
from desktop.private_files import open_private

log = logging.getLogger(__name__)

PREFIX = "gemini_codegen"
QUANTILES = (("0.5", "p50_ms"), ("0.95", "p95_ms"), ("0.99", "p99_ms"))
LOOPBACK = "127.0.0.1"


def reply_latency_ms(ev: TurnFinished) -> float | None:
    """The turn's request complete (key up, or text sent) -> first reply audio: the service's share."""
    t = ev.timings_ms
    value = t.get("activity_end_to_first_audio", t.get("speech_end_to_first_audio"))
    return None if ev.interrupted else value


class DriftWatch:
    """A ``LatencyDrift`` when the median reply latency of the last ``window`` turns is more than
    ``threshold`` above the median of the session's first ``window`` turns — once, until it recovers to
    half that rise.  A fresh Gemini session starts a new baseline.

    The threshold is +40 %: the issue that asked for this names +50 %, but a service that got 50 % slower
    shows as slightly less than +50 % end to end (the client's and the network's milliseconds do not grow),
    and such a drift must be caught; the soak run shows +40 % is not reached by noise."""

    def __init__(self, bus: EventBus, *, window: int = 5, threshold: float = 0.4) -> None:
        self.bus, self.window, self.threshold = bus, window, threshold
        self.first: list[float] = []
        self.recent: deque[float] = deque(maxlen=window)
        self.turns = 0
        self.alerting = False
        self.alerts = 0

    def attach(self) -> Callable[[], None]:
        """Start watching; returns the function that stops it."""
        stops = (self.bus.on(TurnFinished, self.on_turn),
                 self.bus.on(Reconnected, lambda ev: self.reset() if ev.fresh else None))

        def stop() -> None:
            for unsubscribe in stops:
                unsubscribe()

        return stop

    def reset(self) -> None:
        self.first, self.turns, self.alerting = [], 0, False
        self.recent.clear()

    def on_turn(self, ev: TurnFinished) -> None:
        value = reply_latency_ms(ev)
        if value is None:
            return
        self.turns += 1
        if len(self.first) < self.window:
            self.first.append(value)
        self.recent.append(value)
        if len(self.first) < self.window or self.turns < 2 * self.window:
            return  # the last turns must not overlap the first ones
        base, now = statistics.median(self.first), statistics.median(self.recent)
        if not self.alerting and now > base * (1 + self.threshold):
            self.alerting = True
            self.alerts += 1
            self.bus.emit(LatencyDrift(base, now, self.turns))
        elif self.alerting and now <= base * (1 + self.threshold / 2):
            self.alerting = False


class Monitor:
    def __init__(self, metrics: Metrics, bus: EventBus, *, period_s: float = 1.0, jsonl: IO[str] | None = None):
        self.metrics, self.bus, self.period_s, self.jsonl = metrics, bus, period_s, jsonl
        self.latest: tuple[MetricsSnapshot, dict[str, float]] = (MetricsSnapshot({}, {}), {})
        self.alerting: set[str] = set()
        self.published = 0
        self.port: int | None = None  # the Prometheus endpoint's port, when serving
        self.drift: DriftWatch | None = None

    def publish(self) -> MetricsSnapshot:
        """One round: snapshot, alerts on crossing, the file line, the collector's copy."""
        snap = self.metrics.snapshot()
        sums = {name: h.total_us / 1e6 for name, h in self.metrics.stages.items()}
        self.latest = (snap, sums)
        self.bus.emit(snap)
        alerts = self.metrics.alerts(snap)
        over = {a.stage for a in alerts}
        fresh = [a for a in alerts if a.stage not in self.alerting]
        self.alerting = over
        for alert in fresh:
            self.bus.emit(alert)
        if self.jsonl is not None:
            self.jsonl.write(snapshot_line(snap, fresh) + "\n")
            self.jsonl.flush()
        self.published += 1
        return snap

    async def run(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.period_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            try:
                self.publish()
            except OSError as exc:  # the file went away (disk full, removed): stop writing, keep the events
                self.bus.emit(Notice(f"Stopped writing the metrics file: {exc.strerror or exc}", kind="metrics"))
                self.jsonl = None


def snapshot_line(snap: MetricsSnapshot, alerts: list[Alert]) -> str:
    return json.dumps({"t": round(time.time(), 3),
                       "stages": {name: asdict(s) for name, s in snap.stages.items()},
                       "counters": dict(snap.counters),
                       "alerts": [asdict(a) for a in alerts]}, separators=(",", ":"))


class SnapshotCollector:
    """A prometheus-client collector over ``Monitor.latest`` (a summary per stage, a counter per counter)."""

    def __init__(self, monitor: Monitor):
        self.monitor = monitor

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

        snap, sums = self.monitor.latest
        name = f"{PREFIX}_stage_seconds"
        summary = SummaryMetricFamily(name, "Stage latency (quantiles over the session so far)", labels=["stage"])
        targets = GaugeMetricFamily(f"{PREFIX}_stage_p99_target_seconds", "The stage's p99 target",
                                    labels=["stage"])
        for stage, s in snap.stages.items():
            for q, attr in QUANTILES:
                summary.add_sample(name, {"stage": stage, "quantile": q}, getattr(s, attr) / 1e3)
            summary.add_sample(f"{name}_count", {"stage": stage}, s.count)
            summary.add_sample(f"{name}_sum", {"stage": stage}, sums.get(stage, 0.0))
            if s.target_ms is not None:
                targets.add_metric([stage], s.target_ms / 1e3)
        yield summary
        yield targets
        for counter in sorted(set(COUNTERS) | set(snap.counters)):
            yield CounterMetricFamily(f"{PREFIX}_{counter}", f"Count of {counter.replace('_', ' ')}",
                                      value=snap.counters.get(counter, 0))
        yield GaugeMetricFamily(f"{PREFIX}_alerting_stages", "Stages whose p99 is over target",
                                value=len(self.monitor.alerting))


def serve_prometheus(monitor: Monitor, port: int) -> tuple[Any, Any]:
    """Start the endpoint on 127.0.0.1:``port`` (0 = any free port); returns (server, thread)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(monitor))
    return start_http_server(port, addr=LOOPBACK, registry=registry)


@contextlib.asynccontextmanager
async def monitoring(metrics: Metrics, bus: EventBus, *, jsonl_path: str | None = None,
                     port: int | None = None, period_s: float = 1.0) -> AsyncIterator[Monitor]:
    """Run a ``Monitor`` for the duration of the block; the file and the endpoint only when asked for."""
    with contextlib.ExitStack() as stack:
        jsonl = None
        if jsonl_path:
            try:
                jsonl = stack.enter_context(open_private(Path(jsonl_path).expanduser(), "a"))  # 0600
            except OSError as exc:
                bus.emit(Notice(f"Cannot write the metrics file {jsonl_path}: {exc.strerror or exc}", kind="metrics"))
        monitor = Monitor(metrics, bus, period_s=period_s, jsonl=jsonl)
        monitor.drift = DriftWatch(bus)
        stack.callback(monitor.drift.attach())
        stack.callback(bus.on(LatencyDrift, lambda _ev: metrics.count("latency_drift_alerts")))
        server = None
        if port is not None:
            try:
                server, thread = serve_prometheus(monitor, port)
            except OSError as exc:
                bus.emit(Notice(f"Cannot serve metrics on {LOOPBACK}:{port}: {exc.strerror or exc}", kind="metrics"))
            else:
                monitor.port = server.server_port
                bus.emit(Notice(f"Prometheus metrics on http://{LOOPBACK}:{server.server_port}/metrics",
                                kind="metrics"))
                stack.callback(thread.join, 5)
                stack.callback(server.server_close)
        task = asyncio.create_task(monitor.run(), name="metrics-monitor")
        try:
            yield monitor
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if server is not None:
                await asyncio.to_thread(server.shutdown)  # waits for the serving thread's poll (<= 0.5 s)
            if monitor.jsonl is not None:
                with contextlib.suppress(OSError):
                    monitor.publish()  # the session's final numbers

