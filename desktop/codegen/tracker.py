"""Follows every active run with ONE list request per poll cycle and emits typed progress events.

Two cadences.  The run in focus -- the one the user just started, asked about or clicked -- is read every
``focus_s`` through its logs request, which carries the run's status and pull requests as well as its new
steps: one request, and a change shows within ``focus_s`` (freshness: a status change is on the card within
3.5 s p95 and spoken within 5 s, measured by `gemini-codegen bench --only run_updates`).  That lasts ``focus_for_s``
after the user last turned to the run, then it is followed like the others.  Every other run rides on one list
request whose interval adapts: ``fast_s`` for a while after a run starts, ``base_s`` after a change, growing
by ``backoff`` per unchanged cycle up to ``max_s`` (20 runs stay within 6 requests a minute); with no active
run the tracker waits without polling at all.  The quality profile's multiplier stretches the list interval
only: the run in focus is what the user waits to hear about.  Events: ``RunUpdate`` (status/summary/pull
requests changed), ``RunStep`` (a new log step of the focused run), ``RunFinished`` (done or failed).  A run
the service answers 404 for (deleted, another organisation, a demo whose saved runs were removed) is reported
once as ``MISSING`` and no longer followed, rather than silently dropped.  Clock and sleep are injectable, so
tests and the benchmark run minutes of simulated time in a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from desktop.codegen.api import MISSING, LogPage, Run
from desktop.codegen.client import CodegenClient, CodegenError
from desktop.events import EventBus, PullRequest, RunFinished, RunStep, RunUpdate

log = logging.getLogger(__name__)


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
    # the run in focus: its logs (status, pull requests, new steps) this often; None = no cadence of its own
    # (the list then goes fast while the focused run changes, and fetches its logs: the earlier schedule)
    focus_s: float | None = 3.0
    focus_for_s: float = 600.0  # ... for this long after the user last turned to it
    fast_s: float = 3.0  # the list, right after a run starts
    fast_for_s: float = 10.0  # how long "right after a start" lasts
    base_s: float = 12.0  # after a change
    max_s: float = 60.0  # nothing has changed for a while
    backoff: float = 1.5


@dataclass
class _Followed:
    run_id: int
    prompt: str = ""
    signature: tuple[str, str, tuple[PullRequest, ...]] | None = None  # status, summary, pull requests
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
    multiplier: float = 1.0  # the quality profile's polling multiplier (x1 / x2 / x4 on battery), list only
    focus_polls: int = 0
    _fast_until: float = 0.0
    _focus_until: float = 0.0
    _list_at: float = 0.0  # when the next list request is due (clock)
    _focus_at: float = 0.0  # when the focused run's next read is due
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
        self._list_fast()
        if focus:
            self.focus(run_id)
        self._wake.set()

    def focus(self, run_id: int | None) -> None:
        """The run the user is looking at (its steps are followed, it is read often); None = none."""
        self.focus_id = run_id
        if run_id is None:
            return
        if self.intervals.focus_s:
            self._focus_until = self.clock() + self.intervals.focus_for_s
            self._focus_at = self.clock()
        else:
            self._list_fast()
        self._wake.set()

    def _list_fast(self) -> None:
        self._fast_until = self.clock() + self.intervals.fast_for_s
        self.interval = self.intervals.fast_s
        self._list_at = self.clock()

    @property
    def focus_cadence(self) -> bool:
        """The run in focus is read on its own cadence now."""
        return (bool(self.intervals.focus_s) and self.focus_id in self.active
                and self.clock() < self._focus_until)

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
            now = self.clock()
            focus = self.focus_cadence
            try:
                if focus and now >= self._focus_at:
                    self._focus_at = now + (self.intervals.focus_s or 0.0)
                    await self.poll_focus()
                if now >= self._list_at:
                    changed = await self.poll_once()
                    self.interval = self._next_interval(changed)
                    self._list_at = now + self.interval * self.multiplier
                self._last_error = ""
            except CodegenError as exc:
                self._list_at = max(self._list_at, now + self.interval * self.multiplier)  # not again at once
                if exc.message != self._last_error:  # say it once, not every cycle
                    self._last_error = exc.message
                    self.bus.emit(exc.event())
            except Exception:
                self._list_at = max(self._list_at, now + self.interval * self.multiplier)
                log.exception("run tracker poll failed")
            if self.active:
                due = min(self._list_at, self._focus_at) if self.focus_cadence else self._list_at
                await self._pause(max(0.0, due - self.clock()))

    def _next_interval(self, changed: bool) -> float:
        iv = self.intervals
        if changed and not iv.focus_s and self.focus_id in self.active:
            # the run the user watches is moving: keep up with it (without a focus cadence of its own)
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
        """One cycle: one list request for every active run (+ the focused run's logs, when they are not read on
        its own cadence, or when the list shows it ended).  True if anything changed."""
        if not self.active:
            return False
        self.polls += 1
        page = await self.client.list_runs(limit=self.page_size)
        seen = {run.id: run for run in page.items}
        changed = False
        focused = self.active.get(self.focus_id) if self.focus_id is not None else None
        if focused is not None:  # its steps here, unless read on its own cadence; before its RunFinished
            listed = seen.get(focused.run_id)
            if not self.focus_cadence or (listed is not None and listed.final):
                changed |= await self._follow_steps(focused)
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

    async def poll_focus(self) -> bool:
        """The focused run's logs request: its new steps, then its status and pull requests (the same page)."""
        followed = self.active.get(self.focus_id) if self.focus_id is not None else None
        if followed is None:
            return False
        self.focus_polls += 1
        page = await self._steps_page(followed)
        changed = bool(page.logs)
        return self._update(page.run) or changed

    def _update(self, run: Run) -> bool:
        followed = self.active.get(run.id)
        if followed is None:
            return False
        prs = tuple(PullRequest(p.title, p.url, p.head_branch_name) for p in run.pull_requests)
        summary = run.summary
        if followed.signature is not None:  # a response without them (e.g. a logs page) keeps what was seen
            summary, prs = summary or followed.signature[1], prs or followed.signature[2]
        signature = (run.status, summary, prs)
        if signature == followed.signature:
            return False
        followed.signature = signature
        self.bus.emit(RunUpdate(run.id, run.status, run.category, followed.prompt or run.prompt, summary,
                                run.web_url, prs, run.created_at, self.wall()))
        if run.final:
            del self.active[run.id]
            self.bus.emit(RunFinished(run.id, run.category, summary or run.result or run.status, run.web_url))
        return True

    def _gone(self, followed: _Followed) -> None:
        """The service no longer knows the run: say so once and stop following it."""
        del self.active[followed.run_id]
        self.bus.emit(RunUpdate(followed.run_id, "NOT_FOUND", MISSING, followed.prompt,
                                "The service no longer knows this run.", updated_at=self.wall()))
        self.bus.emit(RunFinished(followed.run_id, MISSING, "The service no longer knows this run."))

    async def _follow_steps(self, followed: _Followed) -> bool:
        return bool((await self._steps_page(followed)).logs)

    async def _steps_page(self, followed: _Followed) -> LogPage:
        run_id = followed.run_id
        page = await self.client.get_logs(run_id, skip=followed.steps_seen, limit=100)
        for i, entry in enumerate(page.logs):
            self.bus.emit(RunStep(run_id, followed.steps_seen + i, entry.message_type, entry.text, entry.created_at))
        followed.steps_seen += len(page.logs)
        return page
