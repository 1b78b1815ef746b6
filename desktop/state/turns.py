"""The conversation tables — sessions, turns, tool calls and per-session metric summaries — and every
read and write of them.  Writes are queued on the store's write-behind writer (they never wait for the
disk); reads use the store's read connection."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.state.schema import MAX_STORED_TEXT

if TYPE_CHECKING:
    from desktop.events import StageSummary
    from desktop.state.access import StoreAccess

_TURN_COLUMNS = "session_id, turn_no, started_at, finished_at, user_text, assistant_text, timings, interrupted"
INSERT_TURN = f"INSERT INTO turns ({_TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_FAILED_TURN = f"INSERT INTO turns ({_TURN_COLUMNS}, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_TOOL_CALL = ("INSERT INTO tool_calls (session_id, turn_no, call_id, name, args, result, duration_ms, error, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
UPSERT_METRIC = ("INSERT OR REPLACE INTO metric_summaries (session_id, stage, recorded_at, count, p50_ms, p95_ms, "
                 "p99_ms, max_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


@dataclass(frozen=True, slots=True)
class TurnRecord:
    id: int
    session_id: str
    turn_no: int
    started_at: float
    finished_at: float
    user_text: str
    assistant_text: str
    timings_ms: dict[str, float]
    interrupted: bool
    error: str | None = None  # why the turn failed, when it did


def _turn(row: dict[str, Any]) -> TurnRecord:
    return TurnRecord(row["id"], row["session_id"], row["turn_no"], row["started_at"], row["finished_at"],
                      row["user_text"] or "", row["assistant_text"] or "", json.loads(row["timings"] or "{}"),
                      bool(row["interrupted"]), row.get("error"))


def compact_json(value: Any) -> str:
    """Compact JSON; a value too long to store whole becomes a valid JSON note with its start."""
    out = json.dumps(dict(value) if hasattr(value, "items") else value, default=str, separators=(",", ":"))
    if len(out) > MAX_STORED_TEXT:
        out = json.dumps({"truncated": True, "chars": len(out), "start": out[:MAX_STORED_TEXT // 2]})
    return out


class Turns:
    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    # ------------------------------------------------------------------ writes (queued)
    def start_session(self, session_id: str, *, model: str = "", offline: bool = False) -> None:
        self.store.enqueue("INSERT OR IGNORE INTO sessions (id, started_at, model, offline) VALUES (?, ?, ?, ?)",
                           [session_id, time.time(), model, int(offline)])

    def end_session(self, session_id: str) -> None:
        self.store.enqueue("UPDATE sessions SET ended_at = ? WHERE id = ?", [time.time(), session_id])

    def add(self, session_id: str, turn_no: int, *, started_at: float, finished_at: float, user_text: str,
            assistant_text: str, timings_ms: Mapping[str, float] | None = None, interrupted: bool = False,
            error: str | None = None) -> None:
        """One finished turn; ``error``: it failed, and why."""
        row = [session_id, turn_no, started_at, finished_at, user_text, assistant_text,
               compact_json(timings_ms or {}), int(interrupted)]
        if error:
            self.store.enqueue(INSERT_FAILED_TURN, [*row, error])
        else:
            self.store.enqueue(INSERT_TURN, row)

    def add_tool_call(self, session_id: str, turn_no: int, call_id: str, name: str, args: Mapping[str, Any],
                      result: Mapping[str, Any], duration_ms: float, error: str | None) -> None:
        self.store.enqueue(INSERT_TOOL_CALL, [session_id, turn_no, call_id, name, compact_json(args),
                                              compact_json(result), duration_ms, error, time.time()])

    def record_metrics(self, session_id: str, stages: Mapping[str, StageSummary]) -> None:
        now = time.time()
        for stage, s in stages.items():
            self.store.enqueue(UPSERT_METRIC, [session_id, stage, now, s.count, s.p50_ms, s.p95_ms, s.p99_ms,
                                               s.max_ms])

    # ------------------------------------------------------------------ reads
    def history(self, before_id: int | None = None, limit: int = 50) -> list[TurnRecord]:
        """The newest turns first, one page at a time: pass the last page's smallest id as ``before_id``."""
        if before_id is None:
            rows = self.store.query("SELECT * FROM turns ORDER BY id DESC LIMIT ?", [limit])
        else:
            rows = self.store.query("SELECT * FROM turns WHERE id < ? ORDER BY id DESC LIMIT ?", [before_id, limit])
        return [_turn(r) for r in rows]

    def search(self, text: str, limit: int = 20) -> list[TurnRecord]:
        """Full-text search over both transcripts, best match first (the text is quoted: never FTS syntax)."""
        if not text.strip():
            return []
        return [_turn(r) for r in self.store.search("turns", text, limit)]

    def session(self, session_id: str, limit: int = 500) -> list[TurnRecord]:
        """One session's turns in the order they happened (opening a search result)."""
        return [_turn(r) for r in self.store.query("SELECT * FROM turns WHERE session_id = ? ORDER BY id LIMIT ?",
                                                   [session_id, limit])]

    def tool_calls(self, session_id: str, turn_no: int) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT * FROM tool_calls WHERE session_id = ? AND turn_no = ? ORDER BY id",
                                [session_id, turn_no])
        for r in rows:
            r["args"], r["result"] = json.loads(r["args"] or "{}"), json.loads(r["result"] or "{}")
        return rows

    def metric_summaries(self, session_id: str) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM metric_summaries WHERE session_id = ? ORDER BY stage", [session_id])
