"""Follows every active run with ONE list request per poll cycle and emits typed progress events.

The interval adapts: ``fast_s`` for a while after a run starts and while the user looks at a run (the run
in focus), ``base_s`` after a change, growing by ``backoff`` per unchanged cycle up to ``max_s``; with no
active run the tracker waits without polling at all.  Step logs are fetched only for the run in focus.
Events: ``RunUpdate`` (status/summary/pull requests changed), ``RunStep`` (a new log step of the focused
run), ``RunFinished`` (done or failed; ``notify`` when the user was not looking at it).  A run the service
answers 404 for (deleted, another organisation, a demo whose saved runs were removed) is reported once as
``MISSING`` and no longer followed, rather than silently dropped.  Clock and sleep
are injectable, so tests run minutes of simulated time in a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from desktop.codegen.api import Run
from desktop.codegen.client import CodegenClient, CodegenError
from desktop.events import EventBus, PullRequest, RunFinished, RunStep, RunUpdate

log = logging.getLogger(__name__)
MISSING = "missing"  # the run category of a run the service no longer knows


class SimulatedTime:
    """A clock whose ``sleep`` advances it at once (after yielding to the loop): minutes of polling in a
    blink, for tests and the benchmark.  Pass it as ``clock`` and its ``sleep`` as ``sleep``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class Intervals:
    fast_s: float = 3.0  # right after a run starts, and while the run the user looks at keeps changing
    fast_for_s: float = 10.0  # how long "right after a start" lasts
    base_s: float = 12.0  # after a change
    max_s: float = 60.0  # nothing has changed for a while
    backoff: float = 1.5


@dataclass
class _Followed:
    run_id: int
    prompt: str = ""
    signature: tuple[object, ...] = ()
    steps_seen: int = 0
    missing: int = 0  # cycles the run was not in the list page


@dataclass
class RunTracker:
    client: CodegenClient
    bus: EventBus
    intervals: Intervals = Intervals()
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    wall: Callable[[], float] = time.time
    page_size: int = 100
    active: dict[int, _Followed] = field(default_factory=dict)
    focus_id: int | None = None
    interval: float = 0.0
    polls: int = 0
    latest_id: int | None = None
    multiplier: float = 1.0  # the quality profile's polling multiplier (x1 / x2 / x4 on battery)
    _fast_until: float = 0.0
    _last_error: str = ""
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ control (engine loop)
    def track(self, run_id: int, prompt: str = "", *, focus: bool = False) -> None:
        """Follow ``run_id`` until it finishes (a new or resumed run polls fast for a while)."""
        followed = self.active.get(run_id)
        if followed is None:
            self.active[run_id] = _Followed(run_id, prompt)
        elif prompt:
            followed.prompt = prompt
        if self.latest_id is None or run_id >= self.latest_id:
            self.latest_id = run_id
        self._fast_until = self.clock() + self.intervals.fast_for_s
        self.interval = self.intervals.fast_s
        if focus:
            self.focus_id = run_id
        self._wake.set()

    def focus(self, run_id: int | None) -> None:
        """The run the user is looking at (its steps are followed, polling is fast); None = none."""
        self.focus_id = run_id
        if run_id is not None:
            self._fast_until = self.clock() + self.intervals.fast_for_s
            self.interval = self.intervals.fast_s
            self._wake.set()

    def observe(self, run: Run) -> None:
        """A run seen elsewhere (a tool call): start following it if it is still active."""
        if not run.final and run.id not in self.active:
            self.track(run.id, run.prompt)

    def start(self) -> RunTracker:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="codegen-tracker")
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ the loop
    async def _loop(self) -> None:
        while True:
            if not self.active:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._wake.clear()
            changed = False
            try:
                changed = await self.poll_once()
                self._last_error = ""
            except CodegenError as exc:
                if exc.message != self._last_error:  # say it once, not every cycle
                    self._last_error = exc.message
                    self.bus.emit(exc.event())
            except Exception:
                log.exception("run tracker poll failed")
            self.interval = self._next_interval(changed)
            if self.active:
                await self._pause(self.interval * self.multiplier)

    def _next_interval(self, changed: bool) -> float:
        iv = self.intervals
        if changed and self.focus_id in self.active:  # the run the user watches is moving: keep up with it
            self._fast_until = max(self._fast_until, self.clock() + iv.fast_for_s)
        if self.clock() < self._fast_until:  # (a watched run that stands still backs off like the others)
            return iv.fast_s
        if changed:
            return iv.base_s
        return min(iv.max_s, max(iv.base_s, self.interval * iv.backoff))

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when a new run is tracked."""
        if self._wake.is_set():
            return
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, waker):
                t.cancel()

    async def poll_once(self) -> bool:
        """One cycle: one list request for every active run (+ the focused run's logs).  True if anything changed."""
        if not self.active:
            return False
        self.polls += 1
        page = await self.client.list_runs(limit=self.page_size)
        seen = {run.id: run for run in page.items}
        changed = False
        if self.focus_id in self.active:  # steps first, so a run's last steps come before its RunFinished
            changed |= await self._follow_steps(self.active[self.focus_id])
        complete = len(page.items) >= page.total  # the page holds every run there is
        for run_id in list(self.active):
            run = seen.get(run_id)
            if run is None:
                followed = self.active[run_id]
                followed.missing += 1
                if followed.missing < 3 and not complete:
                    continue
                try:
                    run = await self.client.get_run(run_id)  # older than the newest page: ask for it alone
                except CodegenError as exc:
                    if exc.status != 404:
                        raise
                    self._gone(followed)
                    changed = True
                    continue
            changed |= self._update(run)
        return changed

    def _update(self, run: Run) -> bool:
        followed = self.active.get(run.id)
        if followed is None:
            return False
        prs = tuple(PullRequest(p.title, p.url, p.head_branch_name) for p in run.pull_requests)
        signature = (run.status, run.summary, prs)
        if signature == followed.signature:
            return False
        followed.signature = signature
        self.bus.emit(RunUpdate(run.id, run.status, run.category, followed.prompt or run.prompt, run.summary,
                                run.web_url, prs, run.created_at, self.wall()))
        if run.final:
            del self.active[run.id]
            self.bus.emit(RunFinished(run.id, run.category, run.summary or run.result or run.status, run.web_url,
                                      notify=run.id != self.focus_id))
        return True

    def _gone(self, followed: _Followed) -> None:
        """The service no longer knows the run: say so once and stop following it."""
        del self.active[followed.run_id]
        self.bus.emit(RunUpdate(followed.run_id, "NOT_FOUND", MISSING, followed.prompt,
                                "The service no longer knows this run.", updated_at=self.wall()))
        self.bus.emit(RunFinished(followed.run_id, MISSING, "The service no longer knows this run."))

    async def _follow_steps(self, followed: _Followed) -> bool:
        run_id = followed.run_id
        page = await self.client.get_logs(run_id, skip=followed.steps_seen, limit=100)
        for i, entry in enumerate(page.logs):
            self.bus.emit(RunStep(run_id, followed.steps_seen + i, entry.message_type, entry.text, entry.created_at))
        followed.steps_seen += len(page.logs)
        return bool(page.logs)
