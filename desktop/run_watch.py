"""What `gemini-codegen run --follow` waits for: the run the session started to end, and Gemini to tell it.

``RunWatch`` listens on the bus for the runs tool calls start, their ``RunFinished`` and the ``RunReport``
that tells their end (and the update turn Gemini speaks it in), then prints what was said: Gemini's words
when it spoke the update, the news itself when it was only shown.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from desktop.events import EventBus, RunFinished, RunReport, ToolCallFinished, TurnFinished
from desktop.terminal_text import plain

FOLLOW_TIMEOUT_S = 120.0
TOLD_TIMEOUT_S = 30.0  # after the run ends: for Gemini to tell it (the reporter waits for a quiet moment)


@dataclass
class Told:
    """How the end of the followed run was told: Gemini's words when spoken, else the news as shown."""

    report: RunReport
    transcript: str = ""

    def print(self, as_json: bool) -> None:
        report = self.report
        if as_json:
            print(json.dumps({"event": "RunUpdateTold", "run_ids": list(report.run_ids), "spoken": report.spoken,
                              "transcript": self.transcript, "text": report.text}), flush=True)
        elif report.spoken:
            print(f"run update, spoken: {plain(self.transcript)}", flush=True)
        else:
            print(f"run update, shown ({plain(report.why_not_spoken)}): {plain(report.text)}", flush=True)


class RunWatch:
    """The CodeGen runs the session's tool calls start, which of them have finished, and how that was told."""

    def __init__(self, bus: EventBus) -> None:
        self.started: list[int] = []
        self.finished: dict[int, int] = {}  # run id -> reports seen when it finished (its end is told later)
        self.reports: list[RunReport] = []
        self.turns: dict[int, TurnFinished] = {}
        self.changed = asyncio.Event()
        bus.on(ToolCallFinished, self._tool_finished)
        bus.on(RunFinished, self._run_finished)
        bus.on(RunReport, self._seen)
        bus.on(TurnFinished, self._seen)

    def _tool_finished(self, ev: ToolCallFinished) -> None:
        if ev.name in ("create_agent_run", "resume_run") and not ev.error:
            run_id = ev.result.get("run_id")
            if isinstance(run_id, int):
                self.started.append(run_id)

    def _run_finished(self, ev: RunFinished) -> None:
        self.finished.setdefault(ev.run_id, len(self.reports))
        self.changed.set()

    def _seen(self, ev: RunReport | TurnFinished) -> None:
        if isinstance(ev, RunReport):
            self.reports.append(ev)
        else:
            self.turns[ev.turn_id] = ev
        self.changed.set()

    async def _until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return done()
        return True

    def told(self, run_id: int) -> Told | None:
        """How ``run_id``'s end was told, once it has been (spoken: once Gemini finished saying it)."""
        report = next((r for r in self.reports[self.finished[run_id]:] if run_id in r.run_ids), None)
        if report is None:
            return None
        if not report.spoken:
            return Told(report)
        turn = self.turns.get(report.turn_id) if report.turn_id is not None else None
        return Told(report, turn.assistant_text) if turn is not None else None

    async def follow(self, as_json: bool = False) -> Told | None:
        """Keep the session open until the last started run finishes (its progress prints as events) and its
        end has been told (Gemini has spoken it, or it was shown); print that."""
        if not self.started:
            print("--follow: no CodeGen run was started in this session", file=sys.stderr)
            return None
        run_id = self.started[-1]
        if not await self._until(lambda: run_id in self.finished, FOLLOW_TIMEOUT_S):
            print(f"--follow: run {run_id} had not finished after {FOLLOW_TIMEOUT_S:g} s", file=sys.stderr)
            return None
        if not await self._until(lambda: self.told(run_id) is not None, TOLD_TIMEOUT_S):
            print(f"--follow: run {run_id} ended but was not told within {TOLD_TIMEOUT_S:g} s", file=sys.stderr)
            return None
        told = self.told(run_id)
        if told is not None:
            told.print(as_json)
        return told
