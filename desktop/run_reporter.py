"""Tells the user about their CodeGen runs through the Live session: the I/O shell around desktop.run_updates.

On the engine loop, ``RunReporter`` feeds the pure ``RunUpdates`` with the bus (run updates from the tracker,
what tool results already told, the user's turns and the moments the conversation was busy) and with the
engine's ``activity()``; whenever that hands out a ``Report`` it either asks Gemini to say it -- a client
turn sent while the user is idle (``SessionEngine.announce``; why this and not a late NON_BLOCKING function
response with a ``scheduling`` hint: see desktop.run_updates) -- or shows it only.  Either way a ``RunReport``
event puts it in the conversation, linked to the run cards, and the store remembers the runs as reported,
so a restart tells them once, never twice.  Runs a previous session did not report, or left going and that
ended while the app was closed, are told once the user first talks (or shown, when that news is old).

Timings (``Metrics``): ``run_update.news_to_speech`` from the tracker seeing the change to Gemini's first
audio of the report, and ``run_update.prompt_to_speech`` from the client turn to that audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from desktop.codegen.api import RunCategory
from desktop.events import (
    EngineState,
    EventBus,
    RunReport,
    RunUpdate,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TranscriptDelta,
    TurnFinished,
)
from desktop.metrics import Metrics
from desktop.run_updates import Activity, Policy, Report, RunUpdates

if TYPE_CHECKING:
    from desktop.config import Settings
    from desktop.engine import SessionEngine
    from desktop.state.runs import RunRecord
    from desktop.state.store import Store

log = logging.getLogger(__name__)
CHECK_S = 0.1  # while news waits, how often the conversation is looked at again (key, VAD and playback end)


def policy_for(settings: Settings) -> Policy:
    return Policy(speak=settings.speak_run_updates, max_age_s=settings.run_update_max_age_s)


class RunReporter:
    def __init__(self, bus: EventBus, policy: Policy | None = None, *, store: Store | None = None,
                 metrics: Metrics | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, check_s: float = CHECK_S) -> None:
        self.bus, self.store, self.metrics = bus, store, metrics or Metrics()
        self.updates = RunUpdates(policy or Policy())
        self.clock, self.wall, self.check_s = clock, wall, check_s
        self.engine: SessionEngine | None = None
        self.reports = 0
        self._last_seen: dict[int, float] = {}  # runs followed again after a restart: last seen (wall clock)
        self._speaking: tuple[int, float, float] | None = None  # (turn id, news seen at, prompt sent at)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # subscribed at once: no run update from a tracker started after this is missed
        self._unsubscribe = [bus.on(RunUpdate, self._on_run_update), bus.on(ToolCallStarted, self._on_busy),
                             bus.on(ToolCallFinished, self._on_tool_finished), bus.on(TurnFinished, self._on_busy),
                             bus.on(StateChanged, self._on_state), bus.on(TranscriptDelta, self._on_transcript)]

    # ------------------------------------------------------------------ lifecycle
    async def restore(self) -> None:
        """What a previous session left: runs it followed (their end is news from while the app was closed)
        and ended runs nobody was told about.  Before the run tracker starts."""
        if self.store is None:
            return
        store = self.store
        active, unreported = await asyncio.to_thread(lambda: (store.runs.active(), store.runs.unreported()))
        for run in active:
            self._last_seen[run.run_id] = run.updated_at
            self.updates.restore(run.run_id, [p.url for p in run.pull_requests])
        for run in unreported:
            self.updates.restore(run.run_id)
            self.updates.observe(_as_update(run), self.clock(), last_seen=self._ago(run.updated_at))
        if unreported:
            self._wake.set()

    def set_policy(self, policy: Policy) -> None:
        """Settings changed (speak run updates on/off, their age limit): from the next report on."""
        self.updates.policy = policy
        self._wake.set()

    def speak_through(self, engine: SessionEngine) -> None:
        """Start telling, through ``engine`` (its loop is the running one)."""
        self.engine = engine
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="run-reporter")

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ the bus (engine loop)
    def _ago(self, wall_time: float) -> float:
        """A wall-clock moment on this reporter's clock."""
        return self.clock() - max(0.0, self.wall() - wall_time)

    def _on_run_update(self, ev: RunUpdate) -> None:
        seen = self._last_seen.pop(ev.run_id, None)
        if self.updates.observe(ev, self.clock(), last_seen=self._ago(seen) if seen is not None else None):
            self._wake.set()

    def _on_tool_finished(self, ev: ToolCallFinished) -> None:
        """What a tool result showed the user: its runs' pull requests are known, a final status was said."""
        self.updates.busy(self.clock())
        told: list[int] = []
        for run in _runs_in(ev.result):
            run_id, urls = run.get("run_id"), [str(p.get("url", "")) for p in run.get("pull_requests") or ()]
            if not isinstance(run_id, int):
                continue
            if RunCategory.parse(run.get("category")).final:
                self.updates.told(run_id, urls)
                told.append(run_id)
            else:
                self.updates.seed(run_id, urls)
        if told and self.store is not None:
            self.store.runs.mark_reported(told)

    def _on_busy(self, ev: object) -> None:
        self.updates.busy(self.clock())
        self._wake.set()

    def _on_transcript(self, ev: TranscriptDelta) -> None:
        if ev.role == "user" and ev.text.strip():  # typed, or heard: the user has talked in this session
            self.updates.user_talked()

    def _on_state(self, ev: StateChanged) -> None:
        if ev.state is EngineState.LISTENING:
            self.updates.user_talked()
        if ev.state is not EngineState.READY:
            self.updates.busy(self.clock())
        speaking = self._speaking
        engine = self.engine
        if (ev.state is EngineState.SPEAKING and speaking is not None and engine is not None
                and engine.turn is not None and engine.turn.id == speaking[0]):
            now = self.clock()
            self.metrics.observe_s("run_update.news_to_speech", now - speaking[1])
            self.metrics.observe_s("run_update.prompt_to_speech", now - speaking[2])
            self._speaking = None
        self._wake.set()

    # ------------------------------------------------------------------ telling
    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.check_s if self.updates.pending else None)
            self._wake.clear()
            try:
                await self.tell()
            except Exception:
                log.exception("a run update could not be told")

    async def tell(self) -> Report | None:
        """Hand out what may be told now, if anything (the loop calls it; tests may too)."""
        engine = self.engine
        activity = engine.activity() if engine is not None else Activity(session_ready=False)
        report = self.updates.take(activity, self.clock())
        if report is None:
            return None
        turn_id = None
        if report.spoken and engine is not None:
            sent_at = self.clock()
            turn_id = await engine.announce(report.prompt)
            self._speaking = (turn_id, min(n.seen_at for n in report.news), sent_at)
        self.reports += 1
        self.bus.emit(RunReport(report.run_ids, report.text, report.spoken, turn_id, report.why_not_spoken))
        if self.store is not None and report.final_run_ids:
            self.store.runs.mark_reported(report.final_run_ids)
        return report


def _runs_in(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    runs = result.get("runs")
    if isinstance(runs, list):
        return [r for r in runs if isinstance(r, Mapping)]
    return [result] if "run_id" in result else []


def _as_update(run: RunRecord) -> RunUpdate:
    return RunUpdate(run.run_id, run.status, run.category, run.prompt, run.summary, run.web_url, run.pull_requests,
                     run.created_at, run.updated_at)


@contextlib.asynccontextmanager
async def run_reports(settings: Settings, bus: EventBus, store: Store | None,
                      metrics: Metrics | None = None) -> AsyncIterator[RunReporter]:
    """A reporter on ``bus``, restored from ``store``; enter it before the run tracker starts, then call
    ``speak_through(engine)`` once the engine runs."""
    reporter = RunReporter(bus, policy_for(settings), store=store, metrics=metrics)
    try:
        await reporter.restore()
        yield reporter
    finally:
        await reporter.stop()
