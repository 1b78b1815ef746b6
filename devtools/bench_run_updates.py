"""Run-update freshness: a run's status change -> its card painted, and -> Gemini speaking the update.

The CodeGen stand-in, its client and the run tracker share one ``SimulatedTime``, so hours of polling take
seconds of real time; each status change's moment comes from the stand-in's step schedule (every repetition
has its own step length and its runs started at random moments, so changes fall at every phase of the
polling).  20 runs are followed: 19 already going when the app starts following them, and the one the user
starts, in focus.  The legs that
run in real time are measured for real and added sample by sample: the window's event -> card painted
(offscreen Qt, ``devtools.bench_ui``), and the reporter's news -> Gemini's first audio of the update (the
session engine against the Live stand-in in its own process, 400 ms model delay, the user idle).
Run by `gemini-codegen bench --only codegen`; the tracker's earlier schedule (no focus cadence) is the baseline.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from desktop.codegen.api import RunCategory
from desktop.codegen.client import CodegenClient
from desktop.codegen.emulator import CodegenEmulator, EmuRun
from desktop.codegen.tracker import Intervals, RunTracker, SimulatedTime
from desktop.events import EventBus, RunUpdate
from desktop.tls import loopback_identity

CARD_GOAL_S = 3.5  # focused run: status change -> card painted, p95
SPOKEN_GOAL_S = 5.0  # focused run: status change -> update spoken (user idle), p95
BUDGET_PER_MIN = 6.0  # 20 runs followed, none in focus: CodeGen requests per minute
RUNS = 20
SPOKEN = ("EVALUATION", "COMPLETE", "ERROR")  # the changes that are news: a pull request opened, the end


def changes(run: EmuRun, step_s: float) -> dict[str, float]:
    """When each status of ``run`` begins (its first step at which the status is new), on the stand-in's clock."""
    out: dict[str, float] = {}
    previous = "PENDING"
    for k, (status, *_rest) in enumerate(run.script(), start=1):
        if status != previous:
            out.setdefault(status, run.started + k * step_s)
            previous = status
    return out


@dataclass
class Detection:
    """Status change -> on the bus (simulated seconds), per change, for the run in focus and the others."""

    focused: list[tuple[str, float]] = field(default_factory=list)
    others: list[tuple[str, float]] = field(default_factory=list)
    requests: int = 0
    minutes: float = 0.0
    focused_minutes: float = 0.0  # how long a run in focus was being followed

    @property
    def per_minute(self) -> float:
        return self.requests / self.minutes if self.minutes else 0.0


async def _one_scenario(intervals: Intervals, rng: random.Random, out: Detection, focus: bool) -> None:
    step_s = rng.uniform(20.0, 90.0)  # each repetition its own pace: changes land at every polling phase
    sim = SimulatedTime(start=1000.0 + rng.uniform(0.0, 500.0))
    bus = EventBus()
    seen: dict[tuple[int, str], float] = {}

    def on_update(ev: RunUpdate) -> None:
        seen.setdefault((ev.run_id, ev.status), ev.updated_at)

    bus.on(RunUpdate, on_update)
    identity = loopback_identity()  # https:// to the stand-in, as the offline demo talks to it
    async with CodegenEmulator(step_s=step_s, clock=sim, tls=identity.server_context()) as emu:
        async with CodegenClient(emu.url, "bench", 1, clock=sim, sleep=sim.sleep, wall=sim,
                                 ssl_context=identity.client_context()) as client:
            tracker = RunTracker(client, bus, intervals=intervals, clock=sim, sleep=sim.sleep, wall=sim)
            start = sim.now
            # 19 runs already going (started elsewhere, at random moments before), followed from now on
            others: list[EmuRun] = []
            for _ in range(RUNS - 1):
                run = emu.seed("this one will fail" if rng.random() < 0.2 else "background task")
                run.started = start - rng.uniform(0.0, 4 * step_s)
                others.append(run)
                tracker.track(run.id, run.prompt)
            focused = emu.seed("the run the user started")  # ... and the one the user starts now
            tracker.track(focused.id, focused.prompt, focus=focus)
            tracker.start()
            deadline = time.perf_counter() + 60.0
            while tracker.active and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            await tracker.stop()
            end = sim.now
    out.requests += emu.stats.requests
    out.minutes += (end - start) / 60.0
    if focus:
        out.focused_minutes += (max(changes(focused, step_s).values()) - start) / 60.0
    for run, into in [(focused, out.focused if focus else out.others)] + [(r, out.others) for r in others]:
        for status, at in changes(run, step_s).items():
            if at >= start and (run.id, status) in seen:  # (changes before it was followed are no news)
                into.append((status, seen[(run.id, status)] - at))


async def detection(intervals: Intervals, repetitions: int, *, focus: bool = True, seed: int = 15) -> Detection:
    """``repetitions`` scenarios of 20 runs followed to their end; ``focus``: the one the user starts is in focus."""
    rng = random.Random(seed)
    out = Detection()
    for _ in range(repetitions):
        await _one_scenario(intervals, rng, out, focus)
    return out


async def news_to_speech(url: str, tls: ssl.SSLContext | None, n: int) -> list[float]:
    """Seconds from the tracker's news to Gemini's first audio of the update, the user idle: the session engine,
    the run reporter and the Live stand-in at ``url`` (trusted through ``tls``), as the app wires them."""
    from desktop.config import Settings
    from desktop.events import StateChanged
    from desktop.metrics import Metrics
    from desktop.run_updates import Policy
    from desktop.session import open_session
    from devtools.bench_core import bench_endpoints, chain_profile

    settings = Settings(offline=True)
    metrics, bus = Metrics(), EventBus()
    speaking = asyncio.Event()
    bus.on(StateChanged, lambda ev: speaking.set() if ev.state == "speaking" else None)
    samples: list[float] = []
    async with open_session(settings, bus=bus, metrics=metrics, record=False, endpoints=bench_endpoints(url, tls),
                            tools="off", profile=chain_profile(settings.denoise_level, 20)) as session:
        engine = session.engine  # the session's run reporter tells the news through it
        for i in range(n):
            await asyncio.sleep(Policy().settle_s + 0.1)  # idle: nothing said for a while
            speaking.clear()
            t0 = time.perf_counter()
            bus.emit(RunUpdate(5000 + i, "COMPLETE", RunCategory.DONE, summary="Opened a pull request."))
            await asyncio.wait_for(speaking.wait(), 20)
            samples.append(time.perf_counter() - t0)
            await engine.wait_turn(20)
            for _ in range(2000):  # and heard to its end (the headless device plays at real-time pace)
                if not engine.activity().assistant_audible:
                    break
                await asyncio.sleep(0.01)
    return samples


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def combined(delays: list[float], legs: list[float]) -> list[float]:
    """Each detection delay plus a real-time leg, paired in turn (independent samples: the sum's distribution)."""
    return [d + legs[i % len(legs)] for i, d in enumerate(delays)] if legs else list(delays)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_s": round(percentile(values, 50), 3), "p95_s": round(percentile(values, 95), 3),
            "max_s": round(max(values), 3) if values else 0.0}


def freshness_section(det: Detection, paint_s: list[float], speech_s: list[float]) -> dict[str, Any]:
    def part(samples: list[tuple[str, float]]) -> dict[str, Any]:
        delays = [d for _, d in samples]
        news = [d for status, d in samples if status in SPOKEN]
        return {"card": summary(combined(delays, paint_s)), "spoken": summary(combined(news, speech_s)),
                "on_the_bus": summary(delays)}

    focus_share = det.focused_minutes / det.minutes if det.minutes else 0.0
    return {"focused": part(det.focused), "others": part(det.others), "requests": det.requests,
            "simulated_minutes": round(det.minutes, 1), "requests_per_minute": round(det.per_minute, 2),
            "share_of_time_a_run_was_in_focus": round(focus_share, 2)}


def legs_summary(paint_s: list[float], speech_s: list[float]) -> dict[str, Any]:
    def ms(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "p50_ms": round(percentile(values, 50) * 1e3, 2),
                "p95_ms": round(percentile(values, 95) * 1e3, 2), "max_ms": round(max(values, default=0.0) * 1e3, 2)}

    return {"event_to_card_painted": ms(paint_s), "news_to_first_audio_user_idle": ms(speech_s)}

