"""`gemini-codegen loadtest`: many headless sessions in one client process against emulators on loopback.

Every session is opened by ``open_session`` (the composition root the window uses, with the stand-ins
injected) and talks to the Live emulator, which runs in a child process so its CPU is not charged to the client.  Each session does push-to-talk turns
from the fixture WAVs at real-time pace (``speak_frames``) with a think time between turns.  The WAV
frames are read once and shared by all sessions, so the load generator itself costs little.

Every session runs the local VAD (alone: noise suppression and the neural stage cost the same per session
and are measured by the bench), so each turn also measures the headline: end of speech -> first reply
sample handed to the (headless, clock-driven) output device, with its split (``desktop.voice_latency``).
Turn latency is the engine's ``live.activity_end_to_first_audio`` (activityEnd sent -> first
response audio received).  The **client-added latency** of a turn is that end-to-end time minus the server's
share the stand-in measured for that reply (activityEnd received -> first audio sent, less its wait for the
tool response; ``EmulatorStats.replies``, read once per session) minus the tool call's own time (call
received -> response sent, measured by the engine).  What remains is the client's send and receive paths,
its event-loop queueing and loopback: what the client adds.  The event-loop lag of the client (how late a
timer fires) is reported next to it as the client's own share.

Scenarios (default sessions / seconds): normal 50 / 300, peak 100 / 300, stress 200 / 300, spike
1 + 100 / 180 (a probe session throughout; 100 sessions join within a second at 20 % of the run and leave
at 70 %), soak 20 / 3600 (RSS sampled every second, slope reported).  The Live stand-in can misbehave like
the service over time (``--goaway-every``, ``--pong-delay``, ``--handle-ttl``, ``--compress-every``,
``--drift``; see ``desktop.live.conditions``): the report then has a ``long_session`` section (turns lost,
reconnects, goAway -> setupComplete gap, fresh sessions, keepalive timeouts, drift alerts, error banners).  ``--duration`` scales a run down.
All traffic stays on 127.0.0.1; every loop is bounded in count and time; the child processes are stopped
by their pid at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
import random
import re
import select
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop import __version__
from desktop.live import conditions as service_conditions
from desktop.live.conditions import Conditions
from desktop.live.conditions import to_flags as conditions_flags
from desktop.voice_latency import headline
from devtools.machine import machine_info

if TYPE_CHECKING:
    from desktop.simulated_user import Utterance

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SESSION_KEYS = itertools.count()  # every session's own API key, its replies in the stand-in's timings
FIXTURE_WAVS = ("create_pr.wav", "list_runs.wav", "status.wav", "resume.wav")


@dataclass(frozen=True)
class Scenario:
    name: str
    sessions: int
    duration_s: float
    p95_limit_ms: float | None  # the spike's turn-latency criterion for this load (None: degrade gracefully)
    description: str


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("normal", 50, 300, 2000, "steady load (50 sessions by default); turn p95 < 2 s"),
    Scenario("peak", 100, 300, 3000, "steady load (100 sessions by default); turn p95 < 3 s"),
    Scenario("stress", 200, 300, None,
             "beyond peak (200 sessions by default): degrade gracefully (clear errors, no crash, bounded memory)"),
    Scenario("spike", 100, 180, 3000,
             "0 -> N -> 0 sessions within a second each way (N = 100 by default) beside a probe session; recovery time"),
    Scenario("soak", 20, 3600, 2000, "steady load for a long time (20 sessions, 1 h by default): RSS must stay flat"),
)}
ERROR_RATE_LIMIT = 0.01
CPU_LIMIT_PERCENT = 70.0
CLIENT_ADDED_GOAL_MS = 100.0
SOAK_SLOPE_LIMIT_MB_PER_MIN = 0.2
SOAK_SLOPE_MIN_DURATION_S = 600
RECONNECT_GAP_P95_LIMIT_MS = 1000.0
THINK_S = 2.0  # mean pause between a session's turns (uniform over 0.5x..1.5x): a very busy user
MAX_TURNS_PER_SESSION = 2000
SAMPLE_EVERY_S = 0.5
CODEGEN_ORG = 1  # every session is a user of the same organisation: they share its rate limits
CODEGEN_STEP_S = 3.0
CODEGEN_ORG_QUOTA_PER_MIN = 120  # documented: standard endpoints 60 requests / 30 s per organisation
SEEDED_RUNS = 3  # runs created before the sessions start, so status / resume / list have something to read
MAX_SAMPLES = 20_000


# ------------------------------------------------------------------------------------ child servers
class ChildServer:
    """`gemini-codegen emulate ...` in a child process, on 127.0.0.1; stopped by its pid."""

    def __init__(self, *args: str, start_timeout_s: float = 30.0):
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "desktop", "emulate", *args, "--host", "127.0.0.1"],
                                     stdout=subprocess.PIPE, stderr=self._log, text=True)
        self.pid = self.proc.pid
        self.url = ""
        try:
            self.url = self._read_url(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _read_url(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.proc.stdout], [], [], left)  # never wait past the deadline
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (\S+)", line)
            if m:
                return m.group(1)
        self._log.seek(0)
        raise RuntimeError(f"the emulator did not start: {self._log.read().strip()[-300:] or 'no output'}")

    def cpu_seconds(self) -> float:
        import psutil

        try:
            t = psutil.Process(self.pid).cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def codegen_available() -> bool:
    """The CodeGen client, tools, tracker and emulator are part of this build."""
    import importlib.util

    return all(importlib.util.find_spec(f"desktop.codegen.{m}") is not None
               for m in ("client", "tools", "tracker", "emulator", "cli"))


@contextlib.contextmanager
def child_servers(model_delay_s: float, codegen: bool, conditions: Conditions | None = None
                  ) -> Iterator[tuple[dict[str, ChildServer], ssl.SSLContext]]:
    """The emulators over TLS (wss://, https://) with one fresh certificate, and the client context trusting it."""
    from desktop.tls import client_ssl_context, make_self_signed_cert

    servers: dict[str, ChildServer] = {}
    with tempfile.TemporaryDirectory(prefix="gemini-codegen-loadtest-") as tmp:
        cert, key = make_self_signed_cert(Path(tmp))
        tls = ("--tls-cert", str(cert), "--tls-key", str(key))
        try:
            servers["live"] = ChildServer("live", "--port", "0", "--model-delay", str(model_delay_s),
                                          *conditions_flags(conditions or Conditions()), *tls)
            if codegen:
                servers["codegen"] = ChildServer("codegen", "--port", "0", "--step-seconds", str(CODEGEN_STEP_S),
                                                 *tls)
            yield servers, client_ssl_context(cert)
        finally:
            for server in servers.values():
                server.stop()


# ------------------------------------------------------------------------------------------ stats
@dataclass
class TurnRecord:
    at_s: float  # seconds since the run started, when the turn finished
    e2e_ms: float | None
    client_added_ms: float | None
    ok: bool


@dataclass
class Tally:
    """What all sessions of one run share (single loop thread: plain mutation is safe)."""

    t0: float
    turns: list[TurnRecord] = field(default_factory=list)
    probe_turns: list[TurnRecord] = field(default_factory=list)
    attempted: int = 0
    failed: int = 0
    connect_failures: int = 0
    connected: int = 0
    active: int = 0
    max_active: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    engines: set[Any] = field(default_factory=set)
    metrics: list[Any] = field(default_factory=list)
    tool_calls: int = 0
    tool_errors: Counter[str] = field(default_factory=Counter)
    codegen_requests: int = 0
    error_banners: int = 0  # ErrorEvents: each would be a banner in the window
    drift_alerts: int = 0


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return round(s[k], 1)


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 3:
        return 0.0
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den * 60 if den else 0.0


# ---------------------------------------------------------------------------------------- sessions
def load_frames() -> list[Utterance]:
    """The fixture WAVs, read once and shared by every session, with their key-release frame found once."""
    from desktop.config import Settings
    from desktop.simulated_user import load_utterances

    return load_utterances([FIXTURES / name for name in FIXTURE_WAVS], Settings().tail_ms)


@contextlib.asynccontextmanager
async def session_tools(codegen_url: str | None, bus: Any, metrics: Any, tls: ssl.SSLContext | None = None) -> Any:
    """One user's CodeGen tool table (client + run tracker), as ``open_session`` builds it; None without CodeGen."""
    if not codegen_url:
        yield None
        return
    from desktop.codegen.client import CodegenClient
    from desktop.codegen.tools import CodegenTools
    from desktop.codegen.tracker import RunTracker

    async with CodegenClient(codegen_url, "loadtest", CODEGEN_ORG, bus=bus, metrics=metrics,
                             ssl_context=tls) as client:
        tracker = RunTracker(client, bus).start()
        try:
            yield CodegenTools(client, tracker, True)
        finally:
            await tracker.stop()


async def seed_runs(codegen_url: str, tls: ssl.SSLContext | None = None) -> None:
    from desktop.codegen.client import CodegenClient

    async with CodegenClient(codegen_url, "loadtest", CODEGEN_ORG, ssl_context=tls) as client:
        for i in range(SEEDED_RUNS):
            await client.create_run(f"load test seed run {i + 1}: fix the flaky login test")


async def run_session(idx: int, url: str, frames: list[Utterance], tally: Tally, *, stop_at: float,
                      probe: bool = False, codegen_url: str | None = None,
                      think_s: float = THINK_S, tls: ssl.SSLContext | None = None) -> None:
    """One user: connect, then push-to-talk turns with think time until ``stop_at`` (perf_counter)."""
    from desktop.events import EventBus
    from desktop.metrics import Metrics

    bus, metrics = EventBus(), Metrics()
    async with session_tools(codegen_url, bus, metrics, tls) as tools:
        await _session_turns(idx, url, frames, tally, bus, metrics, tools, stop_at=stop_at, probe=probe,
                             think_s=think_s, tls=tls)
        if tools is not None and tools.client is not None:
            tally.codegen_requests += tools.client.requests


def light_profile() -> Any:
    """Every session's input chain: the local VAD alone (noise suppression and the neural stage cost the same per
    session and are measured by the bench), the level meter at 1 Hz, 20 ms per Live message, no compression."""
    from desktop.quality import QualityProfile

    return QualityProfile("loadtest", "off", 0, False, 20, 10, 10, 1, 1, 60, True)


async def _session_turns(idx: int, url: str, frames: list[Utterance], tally: Tally, bus: Any, metrics: Any,
                         tools: Any, *, stop_at: float, probe: bool, think_s: float,
                         tls: ssl.SSLContext | None = None) -> None:
    from desktop.config import Settings
    from desktop.events import EngineState, ErrorEvent, LatencyDrift, ToolCallFinished
    from desktop.live.errors import LiveError
    from desktop.session import open_session
    from desktop.simulated_user import speak_frames
    from devtools.bench_core import bench_endpoints

    # the session as the app opens it, on the stand-ins: not recorded, run news not spoken (the user's turns
    # are the load), the light chain (the VAD dates the end of speech and ends the turn when the person is done)
    settings = Settings(offline=True, vad_neural=False, speak_run_updates=False)
    key = f"loadtest-{os.getpid()}-{next(SESSION_KEYS)}"  # this session's replies in the stand-in's timings
    turn_tool_errors: list[str] = []

    def on_event(ev: Any) -> None:
        if isinstance(ev, LatencyDrift):
            tally.drift_alerts += 1
        elif isinstance(ev, ErrorEvent):
            tally.error_banners += 1
            tally.error_kinds[ev.kind] += 1
            tally.error_examples.setdefault(ev.kind, f"{ev.message} {ev.action}".strip())
        elif isinstance(ev, ToolCallFinished):
            tally.tool_calls += 1
            if ev.error:
                turn_tool_errors.append(ev.error)
                tally.tool_errors[ev.error[:80]] += 1

    bus.subscribe(on_event)
    rng = random.Random(idx)
    answered: list[tuple[TurnRecord, Any, float, float]] = []  # each answered turn and when it ran (monotonic)
    async with contextlib.AsyncExitStack() as stack:
        try:
            session = await asyncio.wait_for(stack.enter_async_context(open_session(
                settings, bus=bus, metrics=metrics, record=False, endpoints=bench_endpoints(url, tls, key),
                tools=tools or "off", profile=light_profile())), settings.setup_timeout_s + 5)
        except (LiveError, TimeoutError) as exc:
            tally.connect_failures += 1
            kind = exc.kind if isinstance(exc, LiveError) else "timeout"
            tally.error_kinds[f"connect:{kind}"] += 1
            tally.error_examples.setdefault(f"connect:{kind}", str(exc) or "setup did not finish in time")
            return
        engine = session.engine
        tally.connected += 1
        tally.active += 1
        tally.max_active = max(tally.max_active, tally.active)
        tally.engines.add(engine)
        tally.metrics.append(metrics)
        try:
            await asyncio.sleep(rng.uniform(0, 1.5 * think_s))  # spread the first turns
            for n in range(MAX_TURNS_PER_SESSION):
                if time.perf_counter() >= stop_at or engine.state in (EngineState.ERROR, EngineState.CLOSED):
                    break
                turn_tool_errors.clear()
                live_errors = metrics.counters["errors"]
                tally.attempted += 1
                utterance, release_at = frames[(idx + n) % len(frames)]
                began = time.monotonic()
                await speak_frames(engine, utterance, release_at=release_at)
                turn = await engine.wait_turn(settings.turn_timeout_s + 5)
                # failed: no reply, cut off, a Live error event, or a tool call that came back with an error
                ok = (turn is not None and not turn.interrupted and metrics.counters["errors"] == live_errors
                      and not turn_tool_errors)
                e2e = turn.timings_ms.get("activity_end_to_first_audio") if turn else None
                ok = ok and e2e is not None
                tally.failed += 0 if ok else 1
                rec = TurnRecord(time.perf_counter() - tally.t0, e2e, None, ok)
                (tally.probe_turns if probe else tally.turns).append(rec)
                if e2e is not None:
                    answered.append((rec, turn, began, time.monotonic()))
                await asyncio.sleep(max(0.0, min(rng.uniform(0.5 * think_s, 1.5 * think_s), stop_at - time.perf_counter())))
        finally:
            tally.engines.discard(engine)
            tally.active -= 1
    await _client_added(url, tls, key, answered, metrics)


async def _client_added(url: str, tls: ssl.SSLContext | None, key: str,
                        answered: list[tuple[TurnRecord, Any, float, float]], metrics: Any) -> None:
    """Each answered turn's client-added latency: activityEnd -> first reply audio, less the stand-in's own
    share of that reply (measured there, per turn) and the tool call's own time."""
    from devtools.bench_core import client_added_ms, server_replies

    if not answered:
        return
    try:
        replies = await server_replies(url, tls, key)
    except Exception:  # the stand-in is gone (a fault scenario's end): these turns have no split
        return
    for rec, turn, began, ended in answered:
        rec.client_added_ms = client_added_ms(turn, replies, began, ended)
        if rec.client_added_ms is not None:
            metrics.observe_s("live.client_added", rec.client_added_ms / 1e3)


# ------------------------------------------------------------------------------------- the sampler
@dataclass
class Sample:
    at_s: float
    rss_mb: float
    cpu_s: float
    active: int
    backlog: int
    lag_p99_ms: float


async def sample_loop(tally: Tally, stop: asyncio.Event, samples: list[Sample], lags_ms: list[float]) -> None:
    """Every SAMPLE_EVERY_S: RSS, CPU time, active sessions, send backlog; loop lag from 50 ms timers."""
    import psutil

    proc = psutil.Process()
    window: list[float] = []
    next_sample = time.perf_counter() + SAMPLE_EVERY_S
    for _ in range(MAX_SAMPLES * 10):
        if stop.is_set():
            break
        t = time.perf_counter()
        await asyncio.sleep(0.05)
        lag = max(0.0, (time.perf_counter() - t - 0.05) * 1e3)
        window.append(lag)
        if len(lags_ms) < MAX_SAMPLES * 10:
            lags_ms.append(lag)
        now = time.perf_counter()
        if now >= next_sample and len(samples) < MAX_SAMPLES:
            next_sample = now + SAMPLE_EVERY_S
            cpu = proc.cpu_times()
            backlog = sum(len(e._outbox) for e in tally.engines)
            samples.append(Sample(round(now - tally.t0, 2), proc.memory_info().rss / 2**20, cpu.user + cpu.system,
                                  tally.active, backlog, max(window) if window else 0.0))
            window = []


# ----------------------------------------------------------------------------------------- one run
@dataclass
class Plan:
    """Groups of sessions: (count, start offset s, ramp s, stop offset s, probe)."""

    groups: list[tuple[int, float, float, float, bool]]
    spike_window: tuple[float, float] | None = None


def plan_for(scenario: Scenario, sessions: int, duration_s: float) -> Plan:
    if scenario.name == "spike":
        start, stop = 0.2 * duration_s, 0.7 * duration_s
        return Plan([(1, 0.0, 0.0, duration_s, True), (sessions, start, 1.0, stop, False)], (start, stop))
    ramp = min(sessions * 0.05, duration_s / 4)
    return Plan([(sessions, 0.0, ramp, duration_s, False)])


async def run_load(scenario: Scenario, sessions: int, duration_s: float, url: str,
                   codegen_url: str | None = None, think_s: float = THINK_S, tls: ssl.SSLContext | None = None
                   ) -> tuple[Tally, list[Sample], list[float], dict[str, Any]]:
    import desktop.engine  # noqa: F401  (imported before the clock starts, not inside the first session)
    import desktop.session  # noqa: F401
    from desktop.metrics import Metrics

    frames = load_frames()
    if codegen_url:
        await seed_runs(codegen_url, tls)
    tally = Tally(time.perf_counter())
    plan = plan_for(scenario, sessions, duration_s)
    samples: list[Sample] = []
    lags: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_loop(tally, stop, samples, lags))
    extra: dict[str, Any] = {}

    async def group(count: int, start: float, ramp: float, stop_off: float, probe: bool) -> None:
        await asyncio.sleep(start)
        tasks = []
        t_start = time.perf_counter()
        for i in range(count):
            delay = t_start + (ramp * i / count if count else 0) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(run_session(
                i + (0 if probe else 1), url, frames, tally, stop_at=tally.t0 + stop_off, probe=probe, codegen_url=codegen_url, think_s=think_s, tls=tls)))
        await asyncio.gather(*tasks, return_exceptions=True)
        if not probe and plan.spike_window is not None:
            extra["spike_group_closed_s"] = round(time.perf_counter() - tally.t0, 2)

    hard_limit = duration_s + 90  # the last turns finish (turn timeout 30 s + margins), then we give up
    groups = [asyncio.create_task(group(*g)) for g in plan.groups]
    try:
        done, pending = await asyncio.wait(groups, timeout=hard_limit)
        for t in pending:
            t.cancel()
        if pending:
            extra["hard_stop"] = True
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        if plan.spike_window is not None:
            await asyncio.sleep(0)  # recovery is read from the samples taken until here
        stop.set()
        await sampler
    merged = Metrics()
    for m in tally.metrics:
        merged.merge(m)
    extra["merged"] = merged
    extra["plan"] = plan
    return tally, samples, lags, extra


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_scenario(name: str, sessions: int | None = None, duration_s: float | None = None,
                 model_delay_s: float = 0.4, codegen: bool | None = None, think_s: float = THINK_S,
                 conditions: Conditions | None = None) -> dict[str, Any]:
    import psutil

    scenario = SCENARIOS[name]
    n = sessions or scenario.sessions
    duration = duration_s or scenario.duration_s
    codegen = codegen_available() if codegen is None else codegen
    proc = psutil.Process()
    with child_servers(model_delay_s, codegen, conditions) as (servers, tls):
        live = servers["live"]
        cg = servers.get("codegen")
        rss0 = _rss_mb()
        cpu0 = sum(proc.cpu_times()[:2])
        emu_cpu0 = {k: s.cpu_seconds() for k, s in servers.items()}
        wall0 = time.perf_counter()
        tally, samples, lags, extra = asyncio.run(
            run_load(scenario, n, duration, live.url, cg.url if cg else None, think_s, tls))
        wall = time.perf_counter() - wall0
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        emu_cpu = {k: s.cpu_seconds() - emu_cpu0[k] for k, s in servers.items()}
        child_pids = [s.pid for s in servers.values()]
    extra["codegen"] = codegen
    extra["think_s"] = think_s
    extra["conditions"] = conditions or Conditions()
    return build_report(scenario, n, duration, model_delay_s, tally, samples, lags, extra,
                        wall=wall, cpu=cpu, emu_cpu=emu_cpu, rss0=rss0, child_pids=child_pids)


def build_report(scenario: Scenario, n: int, duration: float, model_delay_s: float, tally: Tally,
                 samples: list[Sample], lags: list[float], extra: dict[str, Any], *, wall: float, cpu: float,
                 emu_cpu: dict[str, float], rss0: float, child_pids: list[int]) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    merged = extra["merged"]
    stage = merged.stages.get("live.activity_end_to_first_audio")
    added = [t.client_added_ms for t in tally.turns + tally.probe_turns if t.client_added_ms is not None]
    attempts = tally.attempted + tally.connect_failures
    errors = tally.failed + tally.connect_failures
    error_rate = errors / attempts if attempts else 1.0
    cpu_pct_core = cpu / wall * 100 if wall else 0.0
    cpu_pct_machine = cpu_pct_core / cores
    rss = [s.rss_mb for s in samples] or [rss0]
    turn_ms = {"p50": round(stage.percentile_us(50) / 1e3, 1), "p95": round(stage.percentile_us(95) / 1e3, 1),
               "p99": round(stage.percentile_us(99) / 1e3, 1), "max": round(stage.max_us / 1e3, 1)} if stage else {}
    added_ms = {"p50": pct(added, 50), "p95": pct(added, 95), "p99": pct(added, 99),
                "max": round(max(added), 1) if added else None}
    checks: dict[str, bool] = {
        "errors_under_1_percent": error_rate < ERROR_RATE_LIMIT,
        "cpu_under_70_percent": cpu_pct_machine < CPU_LIMIT_PERCENT,
    }
    if scenario.p95_limit_ms is not None:
        checks[f"turn_p95_under_{scenario.p95_limit_ms / 1e3:g}_s"] = bool(turn_ms) and turn_ms["p95"] < scenario.p95_limit_ms
    report: dict[str, Any] = {
        "scenario": scenario.name,
        "key": scenario.name + ("+codegen" if extra["codegen"] else "")
        + (f"+think{extra['think_s']:g}" if extra["think_s"] != THINK_S else "")
        + (f"+n{n}" if n != scenario.sessions else "")
        + ("+conditions" if extra["conditions"] != Conditions() else ""),
        "condition_flags": conditions_flags(extra["conditions"]),
        "description": scenario.description, "sessions": n,
        "duration_s": duration, "wall_s": round(wall, 1), "model_delay_ms": model_delay_s * 1e3,
        "think_s": extra["think_s"],
        "connected": tally.connected, "connect_failures": tally.connect_failures, "max_active": tally.max_active,
        "turns": tally.attempted, "turns_ok": tally.attempted - tally.failed, "errors": errors,
        "error_rate": round(error_rate, 4),
        "error_kinds": dict(tally.error_kinds), "error_examples": tally.error_examples,
        "turn_latency_ms": turn_ms, "client_added_ms": added_ms,
        "voice_latency_ms": headline({k: {"p50_ms": s.p50_ms, "p95_ms": s.p95_ms}
                                      for k, s in merged.snapshot().stages.items()}),
        "loop_lag_ms": {"p50": pct(lags, 50), "p95": pct(lags, 95), "p99": pct(lags, 99),
                        "max": round(max(lags), 1) if lags else None},
        "cpu_percent_of_one_core": round(cpu_pct_core, 1), "cpu_percent_of_machine": round(cpu_pct_machine, 1),
        "emulator_cpu_percent_of_one_core": {k: round(v / wall * 100, 1) if wall else 0.0 for k, v in emu_cpu.items()},
        "finished_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": cores, "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "rss_mb": {"start": round(rss0, 1), "peak": round(max(rss), 1), "end": round(rss[-1], 1)},
        "send_backlog_max": max((s.backlog for s in samples), default=0),
        "codegen_requests": tally.codegen_requests,
        "codegen_requests_per_min": round(tally.codegen_requests / wall * 60, 1) if extra["codegen"] and wall else None,
        "codegen_rate_limited": merged.counters.get("rate_limited", 0),
        "tool_calls": tally.tool_calls, "tool_errors": dict(tally.tool_errors),
        "codegen": (f"CodeGen emulator in a child process; every session is a user of org {CODEGEN_ORG} with its own "
                    f"client and run tracker; {SEEDED_RUNS} runs seeded before the start") if extra["codegen"]
        else "off: Live only (the emulator answers without calling tools)",
        "goal": {"client_added_p95_ms": CLIENT_ADDED_GOAL_MS,
                 "met": added_ms["p95"] is not None and added_ms["p95"] < CLIENT_ADDED_GOAL_MS},
        "stages": {k: {"count": s.count, "p50_ms": round(s.p50_ms, 2), "p95_ms": round(s.p95_ms, 2),
                       "p99_ms": round(s.p99_ms, 2), "max_ms": round(s.max_ms, 2)}
                   for k, s in merged.snapshot().stages.items()},
        "counters": {k: v for k, v in merged.counters.items() if v},
        "hard_stop": bool(extra.get("hard_stop")),
        "child_pids": child_pids,
    }
    if extra["codegen"]:
        checks["codegen_within_org_quota"] = report["codegen_requests_per_min"] <= CODEGEN_ORG_QUOTA_PER_MIN
    if scenario.name == "spike":
        report["spike"] = spike_section(tally, samples, extra)
        checks["recovered"] = report["spike"]["recovery_s"] is not None
    if scenario.name == "soak":
        warm = [s for s in samples if s.at_s >= max(10.0, 0.2 * duration)]
        slope = slope_per_min([(s.at_s, s.rss_mb) for s in warm])
        report["soak"] = {"rss_slope_mb_per_min": round(slope, 3), "samples": len(warm),
                          "limit_mb_per_min": SOAK_SLOPE_LIMIT_MB_PER_MIN}
        if duration >= SOAK_SLOPE_MIN_DURATION_S:  # a shorter run's slope is start-up, not a leak
            checks["rss_flat"] = abs(slope) < SOAK_SLOPE_LIMIT_MB_PER_MIN
    if extra["conditions"] != Conditions():
        report["long_session"] = long_session_section(tally, merged, extra["conditions"])
        ls = report["long_session"]
        checks["no_turn_lost"] = ls["turns_lost"] == 0
        checks["no_error_banner"] = ls["error_banners"] == 0
        if ls["reconnect_gap_ms"]["p95"] is not None:
            checks["reconnect_gap_p95_under_1_s"] = ls["reconnect_gap_ms"]["p95"] <= RECONNECT_GAP_P95_LIMIT_MS
        if not extra["conditions"].drift:
            checks["no_drift_alert"] = ls["drift_alerts"] == 0
    if scenario.name == "stress":
        checks["no_crash"] = not report["hard_stop"]
        checks["errors_are_clear"] = all(report["error_examples"].values())
    report["checks"] = checks
    report["pass"] = all(checks.values())
    return report


def spike_section(tally: Tally, samples: list[Sample], extra: dict[str, Any]) -> dict[str, Any]:
    """Probe latency before / during / after; recovery = spike sessions told to stop -> loop lag calm again."""
    start, stop = extra["plan"].spike_window
    before = [s.lag_p99_ms for s in samples if s.at_s < start]
    calm = max(10.0, 2 * (max(before) if before else 0.0))
    closed = extra.get("spike_group_closed_s", stop)
    recovery = None
    after = [s for s in samples if s.at_s >= stop]
    for i, s in enumerate(after):
        rest = after[i:i + int(1 / SAMPLE_EVERY_S) + 1]
        if s.at_s >= closed and all(x.lag_p99_ms <= calm for x in rest) and len(rest) > 1:
            recovery = round(s.at_s - stop, 2)
            break

    def phase(lo: float, hi: float) -> float | None:
        return pct([t.e2e_ms for t in tally.probe_turns if lo <= t.at_s < hi and t.e2e_ms is not None], 95)

    return {"spike_start_s": round(start, 1), "spike_stop_s": round(stop, 1), "all_closed_s": closed,
            "recovery_s": recovery, "calm_loop_lag_ms": round(calm, 1),
            "probe_turn_p95_ms": {"before": phase(0, start), "during": phase(start, stop),
                                  "after": phase(stop, 1e9)}}


# --------------------------------------------------------------------------------------- documents
def machine_line() -> str:
    m = machine_info()
    return (f"{m['os']}, {m['cores']} cores ({m['cpu']}), {m['memory_gb']:.1f} GiB RAM, "
            f"Python {m['python']}, gemini-codegen {__version__}")


def long_session_section(tally: Tally, merged: Any, conditions: Conditions) -> dict[str, Any]:
    gap = merged.stages.get("live.reconnect_gap")
    counters = merged.counters
    return {
        "conditions": {k: v for k, v in dataclasses.asdict(conditions).items() if v != getattr(Conditions(), k)},
        "turns": tally.attempted, "turns_lost": tally.failed,
        "reconnects": counters.get("reconnects", 0),
        "reconnect_gap_ms": {"count": gap.count if gap else 0,
                             "p50": round(gap.percentile_us(50) / 1e3, 1) if gap else None,
                             "p95": round(gap.percentile_us(95) / 1e3, 1) if gap else None,
                             "max": round(gap.max_us / 1e3, 1) if gap else None},
        "fresh_sessions": counters.get("fresh_sessions", 0),
        "keepalive_timeouts": counters.get("keepalive_timeouts", 0),
        "drift_alerts": tally.drift_alerts, "error_banners": tally.error_banners,
    }


def markdown_section(report: dict[str, Any]) -> str:
    r = report
    t, a, lag = r["turn_latency_ms"], r["client_added_ms"], r["loop_lag_ms"]
    v = r.get("voice_latency_ms") or {}
    rows = [
        ("sessions (connected / failed to connect)", f"{r['sessions']} ({r['connected']} / {r['connect_failures']})"),
        ("duration (configured / wall)", f"{r['duration_s']:g} s / {r['wall_s']} s"),
        ("turns (ok)", f"{r['turns']} ({r['turns_ok']})"),
        ("error rate", f"{r['error_rate'] * 100:.2f} % {r['error_kinds'] or ''}"),
        ("end of speech -> first sound p50 / p95 (client's share at p95)",
         f"{v.get('p50_ms')} / {v.get('p95_ms')} ms ({v.get('client_share_p95_ms')} ms)" if v else "not measured"),
        ("turn latency p50 / p95 / p99 / max", f"{t.get('p50')} / {t.get('p95')} / {t.get('p99')} / {t.get('max')} ms"),
        ("client-added p50 / p95 / p99 / max", f"{a['p50']} / {a['p95']} / {a['p99']} / {a['max']} ms"),
        ("client event-loop lag p50 / p95 / p99 / max", f"{lag['p50']} / {lag['p95']} / {lag['p99']} / {lag['max']} ms"),
        ("client CPU (of the machine / of one core)", f"{r['cpu_percent_of_machine']} % / {r['cpu_percent_of_one_core']} %"),
        ("emulator CPU (of one core, separate processes)",
         ", ".join(f"{k} {v} %" for k, v in r["emulator_cpu_percent_of_one_core"].items())),
        ("client CPU per session (of one core)", f"{r['cpu_percent_of_one_core'] / max(1, r['sessions']):.2f} %"),
        ("client RSS start / peak / end", f"{r['rss_mb']['start']} / {r['rss_mb']['peak']} / {r['rss_mb']['end']} MB"),
        ("RSS growth per session (peak - start)",
         f"{(r['rss_mb']['peak'] - r['rss_mb']['start']) / max(1, r['sessions']):.2f} MB"),
        ("largest send backlog (messages, all sessions)", str(r["send_backlog_max"])),
        ("tool calls (errors)", f"{r['tool_calls']} ({sum(r['tool_errors'].values())}) {r['tool_errors'] or ''}"),
        ("CodeGen requests per minute (HTTP, all sessions; 429s)",
         f"{r['codegen_requests_per_min']} ({r['codegen_rate_limited']})" if r["codegen_requests_per_min"] is not None
         else r["codegen"]),
    ]
    if "spike" in r:
        s = r["spike"]
        rows.append(("spike: recovery time", f"{s['recovery_s']} s (loop lag back under {s['calm_loop_lag_ms']} ms)"))
        p = s["probe_turn_p95_ms"]
        rows.append(("spike: probe turn p95 before / during / after", f"{p['before']} / {p['during']} / {p['after']} ms"))
    if "soak" in r:
        rows.append(("soak: RSS slope", f"{r['soak']['rss_slope_mb_per_min']} MB/min over {r['soak']['samples']} samples"))
    if "long_session" in r:
        ls = r["long_session"]
        g = ls["reconnect_gap_ms"]
        rows += [("service conditions", ", ".join(f"{k} {v}" for k, v in ls["conditions"].items())),
                 ("turns lost / error banners", f"{ls['turns_lost']} / {ls['error_banners']}"),
                 ("reconnects (fresh sessions; keepalive timeouts)",
                  f"{ls['reconnects']} ({ls['fresh_sessions']}; {ls['keepalive_timeouts']})"),
                 ("goAway -> setupComplete p50 / p95 / max", f"{g['p50']} / {g['p95']} / {g['max']} ms (n={g['count']})"),
                 ("latency drift alerts", str(ls["drift_alerts"]))]
    checks = ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in r["checks"].items())
    rows.append(("spike criteria", f"**{'PASS' if r['pass'] else 'FAIL'}** ({checks})"))
    goal = r["goal"]
    rows.append(("project goal: client-added p95 < 100 ms", "met" if goal["met"] else "missed"))
    body = "\n".join(f"| {k} | {v} |" for k, v in rows)
    now = r.get("finished_at") or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with_cg = "+codegen" in r["key"]
    cmd = (f"gemini-codegen loadtest --scenario {r['scenario']} --sessions {r['sessions']} --duration {r['duration_s']:g}"
           f" --tool-calls {'codegen' if with_cg else 'off'}" + (f" --think {r['think_s']:g}" if r.get("think_s", THINK_S) != THINK_S else "")
           + "".join(f" {flag}" for flag in r.get("condition_flags", [])))
    think = f", a turn every ~{r['think_s']:g} s" if r.get("think_s", THINK_S) != THINK_S else ""
    title = (f"{r['scenario']}: {r['sessions']} sessions, "
             f"{'CodeGen tool calls (one organisation)' if with_cg else 'Live only'}{think}")
    load = f", 1-min load average at the end {r['load_average']} (this run included)" if r.get("load_average") is not None else ""
    what = SCENARIOS[r["scenario"]].description
    return (f"## {title}\n\n{what[0].upper()}{what[1:]}.  `{cmd}` — {now}, {machine_line()}{load}\n\n"
            f"| measure | value |\n|---|---|\n{body}\n")


DOC_HEAD = f"""# Load test results

Generated by `gemini-codegen loadtest --write-docs docs/loadtest.md`: each run rewrites its own section
(keyed by scenario, tool calls, think time and session count); nothing here is typed by hand.  How the
numbers are measured is described in `devtools/loadtest.py` and in docs/scalability.md: the headline is
end of speech (the session's VAD) -> first reply sample handed to the output device, and the client's share
of it is the time before activityEnd plus the time after the first audio; turn latency is
activityEnd sent -> first response audio received; client-added latency is that minus the share of each
reply the emulator measured itself (activityEnd received -> first audio sent, less its wait for the tool
response) and the tool time: the client's send and receive paths, its loop queueing and loopback.  Each session talks every {THINK_S:g} s on average (much more
than a person does) unless the command says `--think`.  Scenario durations by default: normal, peak and
stress 5 min, spike 3 min, soak 1 h; a section's command line shows the duration it really ran.  The load
average printed with each run is the machine's (other work may have shared the two cores).
"""


_SECTION = re.compile(r"<!-- loadtest:(\S+) -->\n.*?<!-- /loadtest:\1 -->", re.S)


def write_docs(path: Path, report: dict[str, Any]) -> None:
    """Replace (or add) this run's section of the markdown file; sections stay in scenario order."""
    text = path.read_text() if path.exists() else ""
    sections = {m.group(1): m.group(0) for m in _SECTION.finditer(text)}
    head = DOC_HEAD
    key = report["key"]
    sections[key] = f"<!-- loadtest:{key} -->\n{markdown_section(report)}<!-- /loadtest:{key} -->"
    names = list(SCENARIOS)

    def rank(k: str) -> tuple[int, str]:
        base = k.split("+", 1)[0]
        return (names.index(base) if base in names else len(names), k)

    body = "\n\n".join(sections[k] for k in sorted(sections, key=rank))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head.rstrip("\n") + "\n\n" + body + "\n")


# ---------------------------------------------------------------------------------------- command
def print_text(report: dict[str, Any]) -> None:
    print(markdown_section(report))


def cmd_loadtest(args: argparse.Namespace) -> int:
    from desktop.commands import UserError

    if args.sessions is not None and not 1 <= args.sessions <= 1000:
        raise UserError("--sessions must be between 1 and 1000")
    if args.duration is not None and not 2 <= args.duration <= 24 * 3600:
        raise UserError("--duration must be between 2 seconds and 24 hours")
    if args.tool_calls == "codegen" and not codegen_available():
        raise UserError("--tool-calls codegen needs the CodeGen tools, which are not in this build")
    if not 0 <= args.think <= 600:
        raise UserError("--think must be between 0 and 600 seconds")
    report = run_scenario(args.scenario, args.sessions, args.duration, args.model_delay,
                          codegen=None if args.tool_calls is None else args.tool_calls == "codegen", think_s=args.think,
                          conditions=service_conditions.from_args(args))
    if args.write_docs:
        write_docs(Path(args.write_docs), report)
    if args.json:
        print(json.dumps(report), flush=True)
    else:
        print_text(report)
    return 0 if report["pass"] else 1


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    lt = sub.add_parser("loadtest", parents=[common],
                        help="many concurrent headless sessions against the local emulators (loopback only)")
    lt.add_argument("--scenario", choices=list(SCENARIOS), default="normal",
                    help="; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values()))
    lt.add_argument("--sessions", type=int, help="concurrent sessions (default: the scenario's)")
    lt.add_argument("--duration", type=float, help="seconds (default: the scenario's; CI runs a short one)")
    lt.add_argument("--think", type=float, default=THINK_S, metavar="S",
                    help=f"mean pause between a session's turns (default {THINK_S:g} s: a very busy user)")
    lt.add_argument("--model-delay", type=float, default=0.4, help="the Live emulator's model delay (s)")
    lt.add_argument("--tool-calls", choices=["codegen", "off"],
                    help="codegen: tool calls go to a CodeGen emulator, every session a user of one organisation "
                         "(they share its rate limits; the default when the CodeGen tools are built in); "
                         "off: Live only (the voice path's capacity)")
    lt.add_argument("--json", action="store_true", help="one JSON report on stdout")
    lt.add_argument("--write-docs", metavar="FILE", help="(re)write this scenario's section of FILE (markdown)")
    service_conditions.add_flags(lt)
    lt.set_defaults(handler=cmd_loadtest)
