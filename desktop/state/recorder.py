"""Records the engine's event stream into the store: turns, tool calls, token usage, CodeGen runs, run news
shown and metric summaries.

Subscribed to the ``EventBus``, it runs on the engine's loop thread, so it only hands each event to the
repository of its tables (``store.turns``, ``store.runs``), which queue the rows; the store's writer thread
does the disk work.  A turn's end asks for an early flush.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from desktop.events import (
    ErrorEvent,
    EventBus,
    MetricsSnapshot,
    Notice,
    RunFinished,
    RunReport,
    RunStep,
    RunUpdate,
    ToolCallFinished,
    TurnFinished,
    UsageReported,
)
from desktop.state.store import Store


class Recorder:
    """One recording session: ``attach(bus)`` starts it, ``close()`` ends it and flushes."""

    def __init__(self, store: Store, *, model: str = "", offline: bool = False) -> None:
        self.store = store
        self.session_id = uuid.uuid4().hex
        self.model = model
        self.offline = offline
        self._detach: Callable[[], None] | None = None
        self._bus: EventBus | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, bus: EventBus) -> Recorder:
        self._bus = bus
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self.store.problem_handlers.append(self._storage_problem)
        self.store.recovery_handlers.append(self._storage_recovered)
        self.store.turns.start_session(self.session_id, model=self.model, offline=self.offline)
        self._detach = bus.subscribe(self)
        return self

    def _storage_problem(self, message: str) -> None:
        """Called on the writer thread: hand the message to the loop thread as an ErrorEvent."""
        self._post(ErrorEvent("storage", message, "Free some disk space or choose another --data-dir."))

    def _storage_recovered(self, message: str) -> None:
        self._post(Notice(message, kind="storage"))

    def _post(self, event: Any) -> None:
        bus, loop = self._bus, self._loop
        if bus is None:
            return
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(bus.emit, event)
        else:
            bus.emit(event)

    def __call__(self, ev: Any) -> None:
        handler = self._handlers.get(type(ev))
        if handler is not None:
            handler(self, ev)

    def _turn(self, ev: TurnFinished) -> None:
        now = time.time()
        self.store.turns.add(self.session_id, ev.turn_id, started_at=ev.started_at or now, finished_at=now,
                             user_text=ev.user_text, assistant_text=ev.assistant_text, timings_ms=ev.timings_ms,
                             interrupted=ev.interrupted, error=ev.error)
        self.store.flush_soon()

    def _usage(self, ev: UsageReported) -> None:
        self.store.usage.add(self.session_id, ev.turn_id, ev.report)

    def _tool_call(self, ev: ToolCallFinished) -> None:
        self.store.turns.add_tool_call(self.session_id, ev.turn_id, ev.call_id, ev.name, ev.args, ev.result,
                                       ev.duration_ms, ev.error)

    def _run_update(self, ev: RunUpdate) -> None:
        self.store.runs.upsert(ev.run_id, ev.status, ev.category, prompt=ev.prompt, summary=ev.summary,
                               web_url=ev.web_url, pull_requests=ev.pull_requests, created_at=ev.created_at,
                               updated_at=ev.updated_at or None)

    def _run_finished(self, ev: RunFinished) -> None:
        self.store.runs.finish(ev.run_id, ev.category, summary=ev.summary, web_url=ev.web_url)

    def _run_report(self, ev: RunReport) -> None:
        """Run news shown without being spoken is Gemini's side of the history too (a spoken one is its turn)."""
        if not ev.spoken:
            now = time.time()
            self.store.turns.add(self.session_id, 0, started_at=now, finished_at=now, user_text="",
                                 assistant_text=ev.text)

    def _run_step(self, ev: RunStep) -> None:
        self.store.runs.add_step(ev.run_id, ev.index, ev.message_type, ev.text, ev.created_at)

    def _metrics(self, ev: MetricsSnapshot) -> None:
        self.store.turns.record_metrics(self.session_id, ev.stages)

    _handlers: dict[type, Callable[[Recorder, Any], None]] = {
        TurnFinished: _turn,
        ToolCallFinished: _tool_call,
        RunUpdate: _run_update,
        RunFinished: _run_finished,
        RunStep: _run_step,
        RunReport: _run_report,
        MetricsSnapshot: _metrics,
        UsageReported: _usage,
    }

    def close(self, timeout: float = 10.0) -> bool:
        """Stop listening, mark the session ended and wait for everything to reach the disk."""
        if self._detach is not None:
            self._detach()
            self._detach = None
        if self._storage_problem in self.store.problem_handlers:
            self.store.problem_handlers.remove(self._storage_problem)
        if self._storage_recovered in self.store.recovery_handlers:
            self.store.recovery_handlers.remove(self._storage_recovered)
        self.store.turns.end_session(self.session_id)
        return self.store.flush(timeout)
