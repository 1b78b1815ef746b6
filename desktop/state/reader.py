"""The history, read without a session: a read-only connection to the store's file.

History and search are local, so they work before a session starts and when none can (Gemini unreachable,
no key, a session that failed).  ``HistoryReader(path)`` opens the file read-only when first asked (a file
that does not exist yet is an empty history, looked for again at the next read) and answers the same reads
as the session's ``Store`` (``reader.turns.history / search / session``).  It never writes, migrates or
recovers the file: that stays with the session's store.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop.state.store import BUSY_TIMEOUT_MS, fts_literal
from desktop.state.turns import Turns

log = logging.getLogger(__name__)


class HistoryReader:
    def __init__(self, path: Path):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self.turns = Turns(self)  # type: ignore[arg-type]  # the read half of a Store: query and search

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.path.exists():
                return None
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn = conn
        return self._conn

    def _rows(self, run: Any) -> list[dict[str, Any]]:
        from sqlite_utils import Database

        with self._lock:
            try:
                conn = self._connection()
                return [] if conn is None else list(run(Database(conn)))
            except sqlite3.Error as exc:  # a file without the tables yet, or one being replaced: no history now
                log.info("history not readable: %s", exc)
                self.close()
                return []

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._rows(lambda db: db.query(sql, params))

    def search(self, table: str, text: str, limit: int) -> list[dict[str, Any]]:
        return self._rows(lambda db: db.table(table).search(fts_literal(text), limit=limit))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
