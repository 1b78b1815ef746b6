"""The local state store: one SQLite file (WAL), a write-behind writer and a read connection.

Writes (``enqueue``) go to an in-memory queue that a worker thread drains every 250 ms, or at once when
asked (``flush_soon``, at turn end), in one transaction; the worker owns the write connection, so the
engine's asyncio loop never waits for the disk.  Reads (``query``, ``search``) use a second connection (WAL
lets them run beside the writer).  A corrupt or foreign file at the path is moved aside and kept; a
read-only directory or a full disk leaves the store working in memory, with a message saying so.  Secret
values are replaced before anything is queued, so they can never reach the file.

What is read and written lives with its tables: ``store.turns`` (``desktop.state.turns``), ``store.runs``
(``desktop.state.runs``) and ``store.api_cache`` (``desktop.state.api_cache``).  The store itself keeps the
file healthy: pruning, statistics, recovery.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from desktop.metrics import Metrics
from desktop.redaction import Redactor
from desktop.state import schema
from desktop.state.api_cache import ApiCache
from desktop.state.pruning import Pruner, PruneReport, PruneRules, merge_search_index
from desktop.state.runs import Runs
from desktop.state.turns import Turns

log = logging.getLogger(__name__)

DB_NAME = "state.db"
FLUSH_INTERVAL_S = 0.25
BUSY_TIMEOUT_MS = 5000
SQLITE_HEADER = b"SQLite format 3\x00"
STORAGE_ERRORS = ("full", "readonly", "read-only", "disk i/o", "unable to open", "no such file", "malformed",
                  "not a database")


class StoreError(RuntimeError):
    """The database cannot be used (the message says why and what happens instead)."""


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > schema.MAX_STORED_TEXT:
        return value[:schema.MAX_STORED_TEXT] + " [...]"
    return value


def data_dir_for(settings) -> Path:
    """Settings.data_dir, else $GEMINI_CODEGEN_DATA_DIR, else the platform data directory."""
    from desktop.config import ENV_NAMES, default_data_dir

    chosen = getattr(settings, "data_dir", None) or os.environ.get(ENV_NAMES["data_dir"])
    return Path(chosen).expanduser() if chosen else default_data_dir()




@dataclass(frozen=True, slots=True)
class _Write:
    sql: str
    params: tuple[Any, ...]
    on_commit: Callable[[], None] | None = None  # called on the writer thread once the write is committed


class _Task:
    """A function run on the writer thread with its connection (pruning, barriers)."""

    def __init__(self, fn: Callable[[sqlite3.Connection], Any] | None) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


def _connect(target: str | Path, *, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(str(target), isolation_level=None, check_same_thread=False, uri=uri)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _file_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a usable database of ours (None: it is, or there is none)."""
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        return None
    if not head:
        return None
    if not head.startswith(SQLITE_HEADER):
        return "it is not an SQLite database"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            if app_id != schema.APPLICATION_ID and tables:
                return "it belongs to another application"
            if "schema_version" in tables:
                version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
                if version > schema.LATEST:
                    return f"it was written by a newer version of the app (schema {version})"
            problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0] if path.stat().st_size < 64 << 20 else "ok"
            if problem != "ok":
                return f"it is damaged ({problem})"
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"it is damaged ({exc})"
    return None


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(kept.with_name(kept.name + suffix))
    path.replace(kept)
    return kept


def _prepare(conn: sqlite3.Connection, *, wal: bool) -> None:
    if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect before the first table
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    schema.migrate(Database(conn))


class Store:
    """Open with ``Store.open(path)`` or ``open_store(settings)``; ``message`` says if something was off."""

    def __init__(self, path: Path | None, *, metrics: Metrics | None = None, secrets: Iterable[str] = (),
                 rules: PruneRules | None = None, idle_prune_after_s: float = 30.0,
                 prune_every_s: float = 3600.0, start: bool = True) -> None:
        self.path = path
        self.metrics = metrics
        self.scrub = Redactor(secrets)
        self.rules = rules or PruneRules()
        self.idle_prune_after_s = idle_prune_after_s
        self.prune_every_s = prune_every_s
        self.message: str | None = None  # shown to the user once (moved-aside file, read-only disk)
        self.moved_to: Path | None = None
        self.in_memory = path is None
        self.problem_handlers: list[Callable[[str], None]] = []
        self._queue: deque[_Write | _Task] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._read_lock = threading.Lock()
        self._last_write = time.monotonic()
        self._last_prune = time.monotonic() - prune_every_s  # the first idle spell prunes
        self._closed = False
        self._since_checkpoint = 0
        self.batches_committed = 0
        self._merge_pending = True
        if path is None:
            self._use_memory()
        else:
            self._open_file(path)
        self._thread = threading.Thread(target=self._writer_loop, name="state-store-writer", daemon=True)
        self.turns = Turns(self)
        self.runs = Runs(self)
        self.api_cache = ApiCache(self)
        if start:
            self._thread.start()

    @classmethod
    def open(cls, path: str | Path | None, **kwargs: Any) -> Store:
        return cls(Path(path) if path is not None else None, **kwargs)

    # ------------------------------------------------------------------ opening
    def _open_file(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            problem = _file_problem(path)
            if problem:
                self.moved_to = _move_aside(path)
                self.message = (f"The history database {path} could not be used ({problem}); it was moved to "
                                f"{self.moved_to} and a fresh one was started.")
                log.warning("%s", self.message)
            self._write_conn = _connect(path)
            _prepare(self._write_conn, wal=True)
            # checkpoints run after a batch (outside its transaction), not inside a commit
            self._write_conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._read_conn = _connect(path)
            self._read_conn.execute("PRAGMA query_only = ON")
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.message = (f"Cannot write the history database in {path.parent} ({reason}); history is kept in "
                            f"memory for this session only. Choose another place with --data-dir or "
                            f"GEMINI_CODEGEN_DATA_DIR.")
            log.warning("%s", self.message)
            self._use_memory()

    def _use_memory(self) -> None:
        conn = _connect(":memory:")
        _prepare(conn, wal=False)
        self._write_conn = self._read_conn = conn
        self.in_memory = True

    def _fall_back_to_memory(self, exc: sqlite3.Error) -> None:
        """The disk refused a write (full, read-only): keep going in memory and tell the user once."""
        message = (f"Cannot write the history database {self.path} ({exc}); from now on history is kept in "
                   f"memory for this session only.")
        log.warning("%s", message)
        with self._read_lock:
            old = (self._write_conn, self._read_conn)
            self._use_memory()
            # the rows that new ones refer to (this session) stayed in the file
            self._write_conn.execute("PRAGMA foreign_keys = OFF")
        for conn in old:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self.message = message
        for handler in tuple(self.problem_handlers):
            handler(message)

    # ------------------------------------------------------------------ writing
    def enqueue(self, sql: str, params: Sequence[Any] = (), *, on_commit: Callable[[], None] | None = None) -> None:
        """Queue one write (never blocks on the disk). Secret values are replaced here, and every text value
        is bounded (``schema.MAX_STORED_TEXT``): a server cannot make a row too big to store."""
        scrub = self.scrub
        values = tuple(_bounded(scrub(p)) for p in params) if scrub.secrets else tuple(_bounded(p) for p in params)
        self._queue.append(_Write(sql, values, on_commit))

    def flush_soon(self) -> None:
        """Write what is queued now rather than at the next 250 ms tick (turn end)."""
        self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed; False if that took longer than ``timeout``."""
        try:
            self._call(None, timeout)
        except StoreError:
            return False
        return True

    def _call(self, fn: Callable[[sqlite3.Connection], Any] | None, timeout: float = 60.0) -> Any:
        task = _Task(fn)
        if not self._thread.is_alive():
            self._run_batch()  # closed or not started: do it on this thread
            self._run_task(task)
        else:
            self._queue.append(task)
            self._wake.set()
            if not task.done.wait(timeout):
                raise StoreError(f"the database did not answer within {timeout:.0f} s")
        if task.error is not None:
            raise task.error
        return task.result

    def _writer_loop(self) -> None:
        pruning = None
        while True:
            self._wake.wait(0 if pruning is not None and not self._queue else FLUSH_INTERVAL_S)
            self._wake.clear()
            had_work = bool(self._queue)
            try:
                self._run_batch()
            except Exception:  # the writer must outlive any single bad batch
                log.exception("the history writer hit an unexpected error; the batch was dropped")
            if self._stop and not self._queue:
                break
            if had_work:
                self._last_write = time.monotonic()
                self._merge_pending = True
                continue
            if self._merge_pending and pruning is None:
                try:
                    self._merge_pending = merge_search_index(self._write_conn)
                except sqlite3.Error as exc:
                    log.warning("search index merge failed: %s", exc)
                    self._merge_pending = False
            if pruning is None and self._idle_prune_due():
                self._last_prune = time.monotonic()
                pruning = Pruner(self._write_conn, self.rules, metrics=self.metrics).steps()
            if pruning is not None:
                try:
                    next(pruning)
                except StopIteration:
                    pruning = None
                except sqlite3.Error as exc:
                    log.warning("pruning stopped: %s", exc)
                    pruning = None

    def _idle_prune_due(self) -> bool:
        now = time.monotonic()
        return (now - self._last_write >= self.idle_prune_after_s and now - self._last_prune >= self.prune_every_s)

    def _run_batch(self) -> None:
        """Commit every queued write in one transaction, then answer the queued tasks in order."""
        writes: list[_Write] = []
        tasks: list[_Task] = []
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, _Write):
                writes.append(item)
            else:
                if writes:
                    self._commit(writes)
                    writes = []
                tasks.append(item)
                self._run_task(item)
        if writes:
            self._commit(writes)

    def _run_task(self, task: _Task) -> None:
        try:
            if task.fn is not None:
                task.result = task.fn(self._write_conn)
        except BaseException as exc:  # handed to the waiting caller
            task.error = exc
        finally:
            task.done.set()

    def _commit(self, writes: list[_Write]) -> None:
        if self.in_memory:  # one connection serves readers too: keep them out of the half-written batch
            with self._read_lock:
                self._commit_batch(writes)
        else:
            self._commit_batch(writes)

    def _commit_batch(self, writes: list[_Write]) -> None:
        conn = self._write_conn
        t0 = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for w in writes:
                    conn.execute(w.sql, w.params)
                conn.execute("COMMIT")
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                self._commit_one_by_one(writes)
        except sqlite3.DatabaseError as exc:  # full or read-only disk, I/O error, a file damaged under us
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if self.in_memory or not any(s in str(exc).lower() for s in STORAGE_ERRORS):
                log.warning("could not save %d item(s) to the history database: %s", len(writes), exc)
                return
            self._fall_back_to_memory(exc)
            self._commit(writes)
            return
        dt = time.perf_counter() - t0
        self.batches_committed += 1
        self._checkpoint_if_needed()
        for w in writes:
            if w.on_commit is not None:
                w.on_commit()
        if self.metrics is not None:
            per_item = dt / len(writes)
            for _ in writes:
                self.metrics.observe_s("store.write", per_item)

    def _checkpoint_if_needed(self) -> None:
        if self.in_memory:
            return
        self._since_checkpoint += 1
        if self._since_checkpoint < 16:
            return
        self._since_checkpoint = 0
        t0 = time.perf_counter()
        self._write_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if self.metrics is not None:
            self.metrics.observe_s("store.checkpoint", time.perf_counter() - t0)

    def _commit_one_by_one(self, writes: list[_Write]) -> None:
        conn = self._write_conn
        conn.execute("BEGIN IMMEDIATE")
        for w in writes:
            try:
                conn.execute("SAVEPOINT one")
                conn.execute(w.sql, w.params)
                conn.execute("RELEASE one")
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK TO one")
                conn.execute("RELEASE one")
                log.warning("skipped one history item: %s", exc)
        conn.execute("COMMIT")

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued and close both connections."""
        if self._closed:
            return
        self._closed = True
        self._stop = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            self._run_batch()
        with self._read_lock:
            for conn in {id(c): c for c in (self._read_conn, self._write_conn)}.values():
                try:
                    conn.close()
                except sqlite3.Error:
                    pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, on the read connection (timed as ``store.read``)."""
        t0 = time.perf_counter()
        with self._read_lock:
            rows = list(Database(self._read_conn).query(sql, params))
        if self.metrics is not None:
            self.metrics.observe_s("store.read", time.perf_counter() - t0)
        return rows

    def search(self, table: str, text: str, limit: int) -> list[dict[str, Any]]:
        """Full-text search of ``table``'s index, best match first; ``text`` is quoted, never FTS syntax."""
        t0 = time.perf_counter()
        with self._read_lock:
            rows = list(Database(self._read_conn).table(table).search(text, limit=limit, quote=True))
        if self.metrics is not None:
            self.metrics.observe_s("store.read", time.perf_counter() - t0)
        return rows

    # ------------------------------------------------------------------ maintenance
    def prune(self, dry_run: bool = False, rules: PruneRules | None = None) -> PruneReport:
        """One full pruning pass, chunk by chunk, on the writer thread."""
        return self._call(lambda conn: Pruner(conn, rules or self.rules, metrics=self.metrics).run(dry_run))

    def stats(self) -> dict[str, Any]:
        tables = ("sessions", "turns", "tool_calls", "runs", "run_steps", "api_cache", "metric_summaries")
        rows = {t: self.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}
        oldest_sql = {"turns": "SELECT min(finished_at) AS t FROM turns",
                      "tool_calls": "SELECT min(created_at) AS t FROM tool_calls",
                      "runs": "SELECT min(updated_at) AS t FROM runs",
                      "api_cache": "SELECT min(fetched_at) AS t FROM api_cache"}
        oldest = {t: self.query(sql)[0]["t"] for t, sql in oldest_sql.items()}
        size = 0
        if not self.in_memory and self.path is not None:
            size = sum(p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + "-wal"))
                       if p.exists())
        with self._read_lock:
            version = schema.current_version(Database(self._read_conn))
        items = [t for t in oldest.values() if t is not None]
        return {"path": None if self.in_memory else str(self.path), "in_memory": self.in_memory,
                "size_bytes": size, "schema_version": version, "rows": rows, "oldest": oldest,
                "oldest_item": min(items) if items else None}


def open_store(settings, *, metrics: Metrics | None = None, **kwargs: Any) -> Store:
    """The store for ``settings``: data dir, secrets to keep out and pruning rules all from there."""
    path = data_dir_for(settings) / DB_NAME
    return Store(path, metrics=metrics, secrets=settings.secrets(), rules=PruneRules.from_settings(settings),
                 **kwargs)
