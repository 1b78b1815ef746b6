"""Records the engine's event stream into the store: turns, tool calls, CodeGen runs and metric summaries.

Subscribed to the ``EventBus``, it runs on the engine's loop thread, so it only builds rows and queues them
(``Store.enqueue``); the store's writer thread does the disk work.  A turn's end asks for an early flush.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from desktop.events import (
    ErrorEvent,
    EventBus,
    MetricsSnapshot,
    RunFinished,
    RunStep,
    RunUpdate,
    ToolCallFinished,
    TurnFinished,
)
from desktop.state.store import Store

INSERT_TURN = ("INSERT INTO turns (session_id, turn_no, started_at, finished_at, user_text, assistant_text, "
               "timings, interrupted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_TOOL_CALL = ("INSERT INTO tool_calls (session_id, turn_no, call_id, name, args, result, duration_ms, error, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
UPSERT_RUN = (
    "INSERT INTO runs (id, status, category, prompt, summary, web_url, pull_requests, created_at, updated_at, "
    "first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
    "category = excluded.category, prompt = coalesce(nullif(excluded.prompt, ''), runs.prompt), "
    "summary = coalesce(nullif(excluded.summary, ''), runs.summary), "
    "web_url = coalesce(nullif(excluded.web_url, ''), runs.web_url), "
    "pull_requests = CASE WHEN excluded.pull_requests = '[]' THEN runs.pull_requests "
    "ELSE excluded.pull_requests END, created_at = coalesce(nullif(excluded.created_at, ''), runs.created_at), "
    "updated_at = excluded.updated_at")
FINISH_RUN = (
    "INSERT INTO runs (id, status, category, summary, web_url, pull_requests, updated_at, first_seen) "
    "VALUES (?, ?, ?, ?, ?, '[]', ?, ?) ON CONFLICT(id) DO UPDATE SET category = excluded.category, "
    "summary = coalesce(nullif(excluded.summary, ''), runs.summary), "
    "web_url = coalesce(nullif(excluded.web_url, ''), runs.web_url), updated_at = excluded.updated_at")
INSERT_STEP = ("INSERT OR IGNORE INTO run_steps (run_id, idx, message_type, text, created_at) "
               "VALUES (?, ?, ?, ?, ?)")
UPSERT_METRIC = ("INSERT OR REPLACE INTO metric_summaries (session_id, stage, recorded_at, count, p50_ms, p95_ms, "
                 "p99_ms, max_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _json(value: Any) -> str:
    return json.dumps(dict(value) if hasattr(value, "items") else value, default=str, separators=(",", ":"))


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
        self.store.enqueue("INSERT OR IGNORE INTO sessions (id, started_at, model, offline) VALUES (?, ?, ?, ?)",
                           [self.session_id, time.time(), self.model, int(self.offline)])
        self._detach = bus.subscribe(self)
        return self

    def _storage_problem(self, message: str) -> None:
        """Called on the writer thread: hand the message to the loop thread as an ErrorEvent."""
        bus, loop = self._bus, self._loop
        if bus is None:
            return
        event = ErrorEvent("storage", message, "Free some disk space or choose another --data-dir.")
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
        started = ev.started_at or now
        self.store.enqueue(INSERT_TURN, [self.session_id, ev.turn_id, started, now, ev.user_text,
                                         ev.assistant_text, _json(ev.timings_ms), int(ev.interrupted)])
        self.store.flush_soon()

    def _tool_call(self, ev: ToolCallFinished) -> None:
        self.store.enqueue(INSERT_TOOL_CALL, [self.session_id, ev.turn_id, ev.call_id, ev.name, _json(ev.args),
                                              _json(ev.result), ev.duration_ms, ev.error, time.time()])

    def _run_update(self, ev: RunUpdate) -> None:
        prs = json.dumps([{"title": p.title, "url": p.url, "branch": p.branch} for p in ev.pull_requests])
        self.store.enqueue(UPSERT_RUN, [ev.run_id, ev.status, ev.category, ev.prompt, ev.summary, ev.web_url, prs,
                                        ev.created_at, ev.updated_at or time.time(), time.time()])

    def _run_finished(self, ev: RunFinished) -> None:
        now = time.time()
        self.store.enqueue(FINISH_RUN, [ev.run_id, ev.category, ev.category, ev.summary, ev.web_url, now, now])

    def _run_step(self, ev: RunStep) -> None:
        self.store.enqueue(INSERT_STEP, [ev.run_id, ev.index, ev.message_type, ev.text, ev.created_at])

    def _metrics(self, ev: MetricsSnapshot) -> None:
        now = time.time()
        for stage, s in ev.stages.items():
            self.store.enqueue(UPSERT_METRIC, [self.session_id, stage, now, s.count, s.p50_ms, s.p95_ms,
                                               s.p99_ms, s.max_ms])

    _handlers: dict[type, Callable[[Recorder, Any], None]] = {
        TurnFinished: _turn,
        ToolCallFinished: _tool_call,
        RunUpdate: _run_update,
        RunFinished: _run_finished,
        RunStep: _run_step,
        MetricsSnapshot: _metrics,
    }

    def close(self, timeout: float = 10.0) -> bool:
        """Stop listening, mark the session ended and wait for everything to reach the disk."""
        if self._detach is not None:
            self._detach()
            self._detach = None
        if self._storage_problem in self.store.problem_handlers:
            self.store.problem_handlers.remove(self._storage_problem)
        self.store.enqueue("UPDATE sessions SET ended_at = ? WHERE id = ?", [time.time(), self.session_id])
        return self.store.flush(timeout)
