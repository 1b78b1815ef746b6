"""The token usage tables — per turn, per session and per local day — and every read and write of them.

Each report Gemini sends (``desktop.live.usage``: per message, added up) is one write that adds its parts
to all three tables at once (one statement per part and table, committed together or not at all), so the
totals never disagree with each other.  Pruning removes old turns' rows with their turns, and a session's
row with the session; the daily rows are never pruned (a few rows a day), so "today" and every past day's
total stay whole whatever pruning removed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from desktop.live.usage import Usage

if TYPE_CHECKING:
    from desktop.state.access import StoreAccess

_ADD = "tokens = tokens + excluded.tokens"
ADD_TO_TURN = ("INSERT INTO turn_usage (session_id, turn_no, side, modality, tokens, updated_at) "
               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, turn_no, side, modality) "
               f"DO UPDATE SET {_ADD}, updated_at = excluded.updated_at")
ADD_TO_SESSION = ("INSERT INTO session_usage (session_id, side, modality, tokens) VALUES (?, ?, ?, ?) "
                  f"ON CONFLICT (session_id, side, modality) DO UPDATE SET {_ADD}")
ADD_TO_DAY = ("INSERT INTO daily_usage (day, side, modality, tokens) VALUES (?, ?, ?, ?) "
              f"ON CONFLICT (day, side, modality) DO UPDATE SET {_ADD}")


def local_day(at: float | None = None) -> str:
    """The local calendar day of wall-clock time ``at`` (now by default), as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.localtime(time.time() if at is None else at))


def _usage(rows: list[dict[str, Any]]) -> Usage:
    return Usage.from_parts((r["side"], r["modality"], r["tokens"]) for r in rows)


class TokenUsage:
    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    # ------------------------------------------------------------------ writes (queued)
    def add(self, session_id: str, turn_no: int, usage: Usage, at: float | None = None) -> None:
        """One report: its parts added to the turn's, the session's and the day's totals, in one write."""
        at = time.time() if at is None else at
        day = local_day(at)
        statements: list[tuple[str, Sequence[Any]]] = []
        for side, modality, tokens in usage.parts():
            statements += [(ADD_TO_TURN, [session_id, turn_no, side, modality, tokens, at]),
                           (ADD_TO_SESSION, [session_id, side, modality, tokens]),
                           (ADD_TO_DAY, [day, side, modality, tokens])]
        if statements:
            (sql, params), *rest = statements
            self.store.enqueue(sql, params, then=rest)

    # ------------------------------------------------------------------ reads
    def day(self, day: str) -> Usage:
        return _usage(self.store.query("SELECT side, modality, tokens FROM daily_usage WHERE day = ?", [day]))

    def session(self, session_id: str) -> Usage:
        return _usage(self.store.query("SELECT side, modality, tokens FROM session_usage WHERE session_id = ?",
                                       [session_id]))

    def turn(self, session_id: str, turn_no: int) -> Usage:
        return _usage(self.store.query("SELECT side, modality, tokens FROM turn_usage WHERE session_id = ? AND "
                                       "turn_no = ?", [session_id, turn_no]))
