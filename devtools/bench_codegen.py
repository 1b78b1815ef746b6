"""`gemini-codegen runs bench`: the CodeGen client's cache, coalescing and polling budget, measured.

Everything runs against the loopback emulator.  The polling budget runs on simulated time (the tracker's
and the emulator's clocks are the same ``SimulatedTime``), so five minutes take about a second.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from desktop.codegen.client import CodegenClient
from desktop.codegen.emulator import CodegenEmulator
from desktop.codegen.tracker import Intervals, RunTracker, SimulatedTime
from desktop.events import EventBus, RunFinished, RunUpdate
from desktop.metrics import Metrics

LIMIT_PER_MIN = 6.0
CACHE_TARGET_MS = 1.0


async def cache_reads(n: int = 10_000) -> dict[str, Any]:
    """Repeated reads of a finished run: requests made and time per read (whole call, parse included)."""
    async with CodegenEmulator(step_s=0) as emu:
        run = emu.seed("finished run")
        metrics = Metrics()
        async with CodegenClient(emu.url, "bench", 1, metrics=metrics) as client:
            await client.get_run(run.id)
            before = emu.stats.requests
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                await client.get_run(run.id)
                times.append(time.perf_counter() - t0)
        times.sort()
        return {"reads": n, "requests": emu.stats.requests - before,
                "p50_ms": times[n // 2] * 1e3, "p99_ms": times[int(n * 0.99)] * 1e3, "max_ms": times[-1] * 1e3,
                "pass": emu.stats.requests == before and times[int(n * 0.99)] * 1e3 < CACHE_TARGET_MS}


async def coalescing(n: int = 50) -> dict[str, Any]:
    async with CodegenEmulator(step_s=10_000) as emu:
        run = emu.seed("active run")
        async with CodegenClient(emu.url, "bench", 1) as client:
            await asyncio.gather(*(client.get_run(run.id) for _ in range(n)))
        return {"concurrent_gets": n, "requests": emu.stats.requests, "pass": emu.stats.requests == 1}


async def polling_budget(runs: int = 20, minutes: float = 5.0, step_s: float = 60.0) -> dict[str, Any]:
    """``runs`` active runs followed for ``minutes`` of simulated time."""
    sim, bus = SimulatedTime(), EventBus()
    updates: list[RunUpdate | RunFinished] = []
    bus.on(RunUpdate, updates.append)
    bus.on(RunFinished, updates.append)
    t_real = time.perf_counter()
    async with CodegenEmulator(step_s=step_s, clock=sim) as emu:
        async with CodegenClient(emu.url, "bench", 1, clock=sim, sleep=sim.sleep, wall=sim) as client:
            tracker = RunTracker(client, bus, clock=sim, sleep=sim.sleep, wall=sim)
            start = sim.now
            for i in range(runs):
                tracker.track(emu.seed(f"task {i}").id)
            tracker.start()
            deadline = time.perf_counter() + 30.0
            while sim.now < start + minutes * 60 and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            await tracker.stop()
    requests = emu.stats.requests
    per_min = requests / minutes
    changed = [u for u in updates if isinstance(u, RunUpdate) and u.status != "PENDING"]
    first_seen: dict[str, float] = {}
    for u in changed:
        first_seen.setdefault(u.status, u.updated_at - start)
    return {"runs": runs, "simulated_minutes": minutes, "requests": requests, "per_minute": per_min,
            "by_route": dict(emu.stats.by_route), "rate_limited": emu.stats.statuses[429],
            "status_first_seen_s": first_seen, "max_interval_s": Intervals().max_s,
            "real_seconds": time.perf_counter() - t_real,
            "pass": per_min <= LIMIT_PER_MIN and emu.stats.statuses[429] == 0}


async def run_all() -> dict[str, Any]:
    return {"cache": await cache_reads(), "coalescing": await coalescing(), "budget": await polling_budget()}
