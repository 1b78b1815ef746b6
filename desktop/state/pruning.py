"""Pruning: by age, by total size and by count, in small chunks, then incremental vacuum.

Each chunk is one short write transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``) deleting at most
``chunk_rows`` rows; the chunk size adapts so a chunk holds the write lock for about 2 ms (well inside the
10 ms goal).  Runs still in progress (not ``RunCategory.final``) and their steps are never pruned (a run CodeGen
no longer knows, ``missing``, is over and is pruned like a finished one), nor is the daily token usage
(``daily_usage``, a few rows a day): a day's total stays whole when its turns go.
The ``Pruner`` is a generator of chunks, so the store's writer thread can interleave them with new writes.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop.codegen.api import FINAL, sql_list
from desktop.metrics import Metrics

if TYPE_CHECKING:
    from desktop.config import Settings

FINISHED_RUNS = f"category IN {sql_list(FINAL)}"  # done, failed, or no longer known to CodeGen
VACUUM_PAGES_PER_CHUNK = 64
FTS_MERGE_PAGES, MAX_FTS_MERGES, MERGE_EVERY_CHUNKS = 16, 1000, 8
SIZE_PASSES = 4
TARGET_CHUNK_S = 0.002
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 5, 4000


@dataclass(frozen=True, slots=True)
class PruneRules:
    max_age_days: float = 30.0
    max_mb: float = 200.0
    max_turns: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> PruneRules:
        return cls(float(settings.prune_max_age_days), float(settings.prune_max_mb), int(settings.prune_max_turns))


@dataclass
class PruneReport:
    deleted: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    longest_chunk_ms: float = 0.0
    longest_chunk: str = ""
    vacuumed_pages: int = 0
    fts_merges: int = 0
    longest_fts_merge_ms: float = 0.0
    dry_run: bool = False


def used_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * conn.execute("PRAGMA page_size").fetchone()[0])


def merge_search_index(conn: sqlite3.Connection, pages: int = FTS_MERGE_PAGES) -> bool:
    """One bounded step of search-index merging (its own transaction); True if there is more to do.

    The index never merges inside write transactions (``automerge`` is 0), so writes and pruning chunks stay
    short; this folds its small segments together when the app is idle.  A step that reaches the index's
    largest segment rewrites whole term lists, so it can take longer than a pruning chunk on a big index.
    """
    before = conn.total_changes
    conn.execute(f"INSERT INTO turns_fts (turns_fts, rank) VALUES ('merge', {pages})")
    return conn.total_changes - before >= 2


class Pruner:
    """One pruning pass over ``conn`` (a connection in autocommit mode, owned by the calling thread)."""

    def __init__(self, conn: sqlite3.Connection, rules: PruneRules, *, metrics: Metrics | None = None,
                 now: float | None = None, chunk_rows: int = 10) -> None:
        self.conn = conn
        self.rules = rules
        self.metrics = metrics
        self.now = time.time() if now is None else now
        self.chunk_rows = chunk_rows
        self.report = PruneReport()
        self.last_chunk_s = 0.0
        self._merge_more = True

    # ---- what goes
    @property
    def age_cutoff(self) -> float:
        return self.now - self.rules.max_age_days * 86400.0

    def _turn_bound_id(self) -> int:
        """Turns with id <= this go because of the count or size rule (0 = none)."""
        c = self.conn
        bound = 0
        row = c.execute("SELECT id FROM turns ORDER BY id DESC LIMIT 1 OFFSET ?", [self.rules.max_turns]).fetchone()
        if row:
            bound = row[0]
        used, limit = used_bytes(c), self.rules.max_mb * 1024 * 1024
        if used > limit:
            lo, hi = c.execute("SELECT min(id), max(id) FROM turns").fetchone()
            if lo is not None:
                share = 1.0 - 0.9 * limit / used  # aim a little under the limit
                bound = max(bound, lo - 1 + math.ceil((hi - lo + 1) * share))
        return bound

    def _cache_bound(self) -> float:
        """api_cache rows fetched before this go (age, and size when the cache alone is over the limit)."""
        cutoff = self.age_cutoff
        limit = self.rules.max_mb * 1024 * 1024
        total = self.conn.execute("SELECT coalesce(sum(length(body)), 0) FROM api_cache").fetchone()[0]
        if total > limit / 2:  # the cache may use at most half the budget
            keep = self.conn.execute(
                "SELECT fetched_at FROM (SELECT fetched_at, sum(length(body)) OVER (ORDER BY fetched_at DESC) AS s "
                "FROM api_cache) WHERE s > ? ORDER BY fetched_at DESC LIMIT 1", [limit / 2]).fetchone()
            if keep:
                cutoff = max(cutoff, keep[0] + 1e-6)
        return cutoff

    def _tasks(self) -> list[tuple[str, str, list[Any]]]:
        """(table, WHERE clause selecting rows to delete, parameters), in dependency order."""
        c = self.conn
        bound = self._turn_bound_id()
        age = self.age_cutoff
        tasks: list[tuple[str, str, list[Any]]] = [
            ("turns", "id <= ?", [bound]),
            ("turns", "finished_at < ?", [age]),
        ]
        # tool calls older than the oldest remaining turn belong to pruned turns
        row = c.execute("SELECT started_at FROM turns WHERE id > ? AND finished_at >= ? ORDER BY id LIMIT 1",
                        [bound, age]).fetchone()
        tool_cutoff = max(age, row[0]) if row and row[0] is not None and bound else age
        tasks.append(("tool_calls", "created_at < ?", [tool_cutoff]))
        tasks.append(("turn_usage", "updated_at < ?", [tool_cutoff]))
        idle_sessions = ("session_id IN (SELECT id FROM sessions s WHERE ended_at IS NOT NULL AND ended_at < ? "
                         "AND NOT EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.id))")
        tasks.append(("metric_summaries", idle_sessions, [age]))
        tasks.append(("session_usage", idle_sessions, [age]))
        tasks.append(("sessions", idle_sessions.replace("session_id IN", "id IN"), [age]))
        old_runs = f"SELECT id FROM runs WHERE {FINISHED_RUNS} AND updated_at < ?"
        tasks.append(("run_steps", f"run_id IN ({old_runs})", [age]))
        tasks.append(("runs", f"id IN ({old_runs})", [age]))
        tasks.append(("api_cache", "fetched_at < ?", [self._cache_bound()]))
        return tasks

    def plan(self) -> dict[str, int]:
        """How many rows each table would lose (a dry run)."""
        out: dict[str, int] = {}
        seen_turns = "0"
        for table, where, params in self._tasks():
            if table == "turns":  # the two turn rules overlap; count their union once
                params = list(params)
                if where.startswith("id"):
                    seen_turns = str(int(params[0]))
                    n = self.conn.execute(f"SELECT count(*) FROM turns WHERE {where}", params).fetchone()[0]
                else:
                    n = self.conn.execute(f"SELECT count(*) FROM turns WHERE {where} AND id > {seen_turns}",
                                          params).fetchone()[0]
            else:
                n = self.conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
            out[table] = out.get(table, 0) + n
        return out

    # ---- doing it
    def _chunk(self, sql: str, params: list[Any]) -> int:
        t0 = time.perf_counter()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            n = self.conn.execute(sql, params).rowcount
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._timed(time.perf_counter() - t0, f"{sql.split(' WHERE ')[0].lower()} ({self.chunk_rows} rows)")
        return n

    def _timed(self, dt: float, what: str) -> None:
        self.report.chunks += 1
        if dt * 1e3 > self.report.longest_chunk_ms:
            self.report.longest_chunk_ms = dt * 1e3
            self.report.longest_chunk = what
        if self.metrics is not None:
            self.metrics.observe_s("store.prune_chunk", dt)
        if dt > TARGET_CHUNK_S * 1.5:
            self.chunk_rows = max(MIN_CHUNK_ROWS, self.chunk_rows // 2)
        elif dt < TARGET_CHUNK_S / 2:
            self.chunk_rows = min(MAX_CHUNK_ROWS, self.chunk_rows * 2)
        self.last_chunk_s = dt

    def _merge_step(self) -> float:
        t0 = time.perf_counter()
        self._merge_more = merge_search_index(self.conn)
        dt = time.perf_counter() - t0
        self.report.fts_merges += 1
        self.report.longest_fts_merge_ms = max(self.report.longest_fts_merge_ms, dt * 1e3)
        if self.metrics is not None:
            self.metrics.observe_s("store.fts_merge", dt)
        return dt

    def steps(self) -> Iterator[float]:
        """Delete in chunks, then vacuum in chunks; yields each chunk's duration in seconds.

        The size rule works from an estimate, so a pass that leaves the file over the limit is repeated
        (at most ``SIZE_PASSES`` times) with a fresh estimate.
        """
        for _ in range(SIZE_PASSES):
            yield from self._delete_all()
            for _ in range(MAX_FTS_MERGES):  # fold the rest of the delete markers in
                yield self._merge_step()
                if not self._merge_more:
                    break
            yield from self._vacuum()
            remaining = self.conn.execute("SELECT count(*) FROM (SELECT 1 FROM turns LIMIT 1)").fetchone()[0]
            if used_bytes(self.conn) <= self.rules.max_mb * 1024 * 1024 or not remaining:
                break

    def _delete_all(self) -> Iterator[float]:
        for table, where, params in self._tasks():
            while True:
                sql = f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {where} LIMIT {self.chunk_rows})"
                n = self._chunk(sql, params)
                self.report.deleted[table] = self.report.deleted.get(table, 0) + n
                yield self.last_chunk_s
                if table == "turns" and self.report.chunks % MERGE_EVERY_CHUNKS == 0:
                    yield self._merge_step()  # keep the search index from piling up small segments
                if n == 0:
                    break

    def _vacuum(self) -> Iterator[float]:
        while self.conn.execute("PRAGMA freelist_count").fetchone()[0] > 0:
            before = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
            t0 = time.perf_counter()
            self.conn.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES_PER_CHUNK})").fetchall()
            self._timed(time.perf_counter() - t0, f"incremental vacuum ({VACUUM_PAGES_PER_CHUNK} pages)")
            after = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
            self.report.vacuumed_pages += before - after
            yield self.last_chunk_s
            if after >= before:
                break

    def run(self, dry_run: bool = False) -> PruneReport:
        if dry_run:
            self.report = PruneReport(deleted=self.plan(), dry_run=True)
            return self.report
        for _ in self.steps():
            pass
        return self.report
