"""The local state store: one SQLite file (WAL), a write-behind writer and a read connection.

Writes (``enqueue``) go to an in-memory queue that a worker thread drains every 250 ms, or at once when
asked (``flush_soon``, at turn end), in one transaction; the worker owns the write connection, so the
engine's asyncio loop never waits for the disk.  Reads (``query``, ``search``) use a second connection (WAL
lets them run beside the writer).  A corrupt or foreign file at the path is moved aside and kept, and a
fresh one started.  A full disk is not corruption (``health``): the file stays where it is, the writes it
refused wait in memory (``backlog``) and are written when the disk takes them again, and the user is told
both times.  A database in a read-only folder is opened read-only (its history is shown) with this
session's writes held the same way; a database written by a newer version is refused untouched
(``NewerDatabase``).  Secret values are replaced before anything is queued, so they can never reach the
file.

One bad value costs that value only.  Text is stored with code points UTF-8 cannot hold (a lone surrogate
from a transcript) replaced by U+FFFD.  A statement SQLite refuses for its own reasons (an integer past 64
bits, a constraint) makes the writer roll the batch back and write it again statement by statement, each
under a savepoint: the bad one is skipped, logged and counted (``lost``), the rest committed.  The writer
never leaves a transaction open after an error.

What is read and written lives with its tables: ``store.turns`` (``desktop.state.turns``), ``store.runs``
(``desktop.state.runs``), ``store.api_cache`` (``desktop.state.api_cache``) and ``store.usage``
(``desktop.state.usage``).  The store itself keeps the
file healthy: pruning, statistics, recovery.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from desktop.metrics import Metrics
from desktop.private_files import create_private, private_dir, secure_folder
from desktop.redaction import Redactor
from desktop.state import health, schema
from desktop.state.api_cache import ApiCache
from desktop.state.backlog import Backlog
from desktop.state.health import inspect
from desktop.state.pruning import Pruner, PruneReport, PruneRules, merge_search_index
from desktop.state.runs import Runs
from desktop.state.turns import Turns
from desktop.state.usage import TokenUsage

if TYPE_CHECKING:
    from desktop.config import Settings

log = logging.getLogger(__name__)

DB_NAME = "state.db"
FLUSH_INTERVAL_S = 0.25
BUSY_TIMEOUT_MS = 5000
# SQLite result codes about the disk or the file (held and retried), as against bugs in a statement (dropped):
# PERM, BUSY, LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB
DISK_ERROR_CODES = frozenset({3, 5, 6, 8, 10, 11, 13, 14, 26})


class StoreError(RuntimeError):
    """The database cannot be used (the message says why and what happens instead)."""


class NewerDatabase(StoreError):
    """The file was written by a newer version of the app: it is left untouched."""


_SURROGATES = re.compile("[\\ud800-\\udfff]")


def valid_text(text: str) -> str:
    """``text`` with the code points UTF-8 cannot hold (lone surrogates, e.g. '\\ud800') replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def _bounded(value: Any) -> Any:
    """A value as it is stored: text bounded (``schema.MAX_STORED_TEXT``) and valid UTF-8."""
    if isinstance(value, str):
        if len(value) > schema.MAX_STORED_TEXT:
            value = value[:schema.MAX_STORED_TEXT] + " [...]"
        return valid_text(value)
    return value


def _disk_error(exc: BaseException) -> bool:
    """A refusal by the disk or the file (held and retried), as against one by a statement or a value."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in DISK_ERROR_CODES


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def data_dir_for(settings: Settings) -> Path:
    """Settings.data_dir, else $GEMINI_CODEGEN_DATA_DIR, else the platform data directory."""
    from desktop.config import ENV_NAMES, default_data_dir

    chosen = getattr(settings, "data_dir", None) or os.environ.get(ENV_NAMES["data_dir"])
    return Path(chosen).expanduser() if chosen else default_data_dir()




@dataclass(frozen=True, slots=True)
class _Write:
    sql: str
    params: tuple[Any, ...]
    on_commit: Callable[[], None] | None = None  # called on the writer thread once the write is committed
    then: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # more statements of the same write (all or none)

    def execute(self, conn: sqlite3.Connection) -> None:
        conn.execute(self.sql, self.params)
        for sql, params in self.then:
            conn.execute(sql, params)


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


def fts_literal(text: str) -> str:
    """``text`` as an FTS5 query that finds its words literally: each whitespace-separated term becomes a
    quoted string (inner quotes doubled), so quotes, ``*``, ``(``, ``NEAR``, ``OR`` are searched, never syntax."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in text.split())


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
        self.read_only = False  # the file is shown but cannot be written now (writes wait in the backlog)
        self.unusable: str | None = None  # why no database file could be opened at the path (then in memory)
        self.problem_handlers: list[Callable[[str], None]] = []  # called (writer thread) when writes are refused
        self.recovery_handlers: list[Callable[[str], None]] = []  # ...and when the held writes are saved
        self._backlog = Backlog()
        self._queue: deque[_Write | _Task] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._read_lock = threading.Lock()
        self._last_write = time.monotonic()
        self._last_prune = time.monotonic() - prune_every_s  # the first idle spell prunes
        self._closed = False
        self._since_checkpoint = 0
        self.batches_committed = 0
        self._lost = 0  # writes skipped for a bad value or statement (not the disk's refusals: those are held)
        self._merge_pending = True
        if path is None:
            self._use_memory()
        else:
            self._open_file(path)
        self._thread = threading.Thread(target=self._writer_loop, name="state-store-writer", daemon=True)
        self.turns = Turns(self)
        self.runs = Runs(self)
        self.api_cache = ApiCache(self)
        self.usage = TokenUsage(self)
        if start:
            self._thread.start()

    @classmethod
    def open(cls, path: str | Path | None, **kwargs: Any) -> Store:
        return cls(Path(path) if path is not None else None, **kwargs)

    # ------------------------------------------------------------------ opening
    def _open_file(self, path: Path) -> None:
        try:
            private_dir(path.parent)  # 0700: the history is the user's alone
        except (FileExistsError, NotADirectoryError):
            self._memory_only("that path (or a folder above it) is a file, not a folder")
            return
        except OSError as exc:
            if not path.is_file():
                self._memory_only(exc.strerror or str(exc))
                return
        verdict = inspect(path)
        if verdict is not None and verdict.kind == "newer":
            raise NewerDatabase(f"The history database {path} {verdict.reason.removeprefix('it ')}; it was left "
                                f"untouched. Use the newer version of the app, or choose another folder with "
                                f"--data-dir.")
        secure_folder(path.parent, (path.name + "*",))  # an older install's 0644 files (the db, -wal, -shm)
        try:
            if verdict is not None and verdict.move_aside:
                self.moved_to = _move_aside(path)
                self.message = (f"The history database {path} could not be used ({verdict.reason}); it was moved "
                                f"to {self.moved_to} and a fresh one was started.")
                log.info("%s", self.message)  # shown to the user by whoever opened the store
            self._open_for_writing(path)
        except (OSError, sqlite3.Error) as exc:
            reason = health.describe(exc)
            if path.is_file() and path.stat().st_size > 0:
                self._open_read_only(path, reason)
            else:
                self._memory_only(reason)

    def _open_for_writing(self, path: Path) -> None:
        create_private(path)  # 0600 before SQLite makes it: its -wal and -shm files take the main file's mode
        conn = _connect(path)
        try:
            _prepare(conn, wal=True)
            # checkpoints run after a batch (outside its transaction), not inside a commit
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            read = _connect(path)
            read.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        self._write_conn, self._read_conn = conn, read
        self.read_only = False

    def _reopen_for_writing(self) -> None:
        """A read-only store tries to open its file for writing again (the folder may be writable now)."""
        assert self.path is not None
        old = self._read_conn
        with self._read_lock:
            self._open_for_writing(self.path)
        with contextlib.suppress(sqlite3.Error):
            old.close()

    def _open_read_only(self, path: Path, reason: str) -> None:
        """The file can be read but not written now: show it; hold this session's writes until it can be."""
        try:
            self._read_conn = health.open_read_only(path)
        except sqlite3.Error as exc:
            self._memory_only(f"{reason}; reading it failed too: {health.describe(exc)}")
            return
        self._write_conn = self._read_conn
        self.read_only = True
        self._backlog.reason = reason
        self.message = (f"The history database {path} cannot be written ({reason}). Its history is shown as it is; "
                        f"this session's history is kept in memory and saved when it can be written again.")
        log.info("%s", self.message)  # shown to the user by whoever opened the store

    def _memory_only(self, reason: str) -> None:
        self.unusable = reason
        self.message = (f"Cannot write the history database in {self.path.parent if self.path else '?'} ({reason}); "
                        f"history is kept in memory for this session only. Choose another place with --data-dir "
                        f"or GEMINI_CODEGEN_DATA_DIR.")
        log.info("%s", self.message)  # shown to the user by whoever opened the store
        self._use_memory()

    def _use_memory(self) -> None:
        conn = _connect(":memory:")
        _prepare(conn, wal=False)
        self._write_conn = self._read_conn = conn
        self.in_memory = True

    # ------------------------------------------------------------------ writing
    def enqueue(self, sql: str, params: Sequence[Any] = (), *, on_commit: Callable[[], None] | None = None,
                then: Sequence[tuple[str, Sequence[Any]]] = ()) -> None:
        """Queue one write (never blocks on the disk). Secret values are replaced here, and every text value
        is bounded (``schema.MAX_STORED_TEXT``) and made valid UTF-8: a server cannot make a row too big, or
        unfit, to store.  ``then``: more statements that are part of the same write (committed with it or not
        at all, e.g. pruning what the row replaces)."""
        self._queue.append(_Write(sql, self._values(params), on_commit,
                                  tuple((more, self._values(values)) for more, values in then)))

    def _values(self, params: Sequence[Any]) -> tuple[Any, ...]:
        scrub = self.scrub
        return tuple(_bounded(scrub(p)) for p in params) if scrub.secrets else tuple(_bounded(p) for p in params)

    def flush_soon(self) -> None:
        """Write what is queued now rather than at the next 250 ms tick (turn end)."""
        self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed; False if that took longer than ``timeout`` or the
        disk refused it (it is then held in memory: ``pending``)."""
        try:
            self._call(None, timeout)
        except StoreError:
            return False
        return not self._backlog

    @property
    def pending(self) -> int:
        """Writes the disk refused, waiting in memory to be saved."""
        return len(self._backlog)

    @property
    def lost(self) -> int:
        """Writes this store could not save and gave up on: a value or statement SQLite refused (skipped alone),
        or held writes dropped to stay inside the backlog's memory bound.  Not 0: history was lost."""
        return self._lost + self._backlog.dropped

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
                if self._backlog.due() or (self._stop and self._backlog):
                    self._commit([])  # the disk refused writes earlier: try them again
            except Exception:  # the writer must outlive any single bad batch
                log.exception("the history writer hit an unexpected error; the batch was dropped")
            if self._stop and not self._queue:
                break
            if had_work:
                self._last_write = time.monotonic()
                self._merge_pending = True
                continue
            if self._backlog or self.read_only:
                continue  # no maintenance while the disk refuses writes
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
            if task.fn is not None and self.read_only:
                raise StoreError(f"the history database cannot be written now ({self._backlog.reason})")
            if task.fn is not None:
                task.result = task.fn(self._write_conn)
        except BaseException as exc:  # handed to the waiting caller
            task.error = exc
        finally:
            task.done.set()

    def _commit(self, writes: list[_Write]) -> None:
        """Commit ``writes``; if the disk refused earlier ones, behind them, when the next retry is due."""
        backlog = self._backlog
        if backlog:
            backlog.add(writes)
            if not (backlog.due() or self._stop):
                return
            writes = backlog.take()
        elif not writes:
            return
        was_read_only = self.read_only
        try:
            if self.read_only:
                self._reopen_for_writing()
            if self.in_memory:  # one connection serves readers too: keep them out of the half-written batch
                with self._read_lock:
                    self._commit_batch(writes)
            else:
                self._commit_batch(writes)
        except (OSError, sqlite3.Error) as exc:
            self._refused(writes, exc)
            return
        if backlog.failures or backlog.dropped or was_read_only:
            self._recovered(len(writes))

    def _refused(self, writes: list[_Write], exc: BaseException) -> None:
        """The disk did not take ``writes``: keep them (and the file), retry later, tell the user once."""
        first = not self._backlog.failures and not self.read_only
        self._backlog.refused(writes, health.describe(exc))
        if not first:
            return
        message = (f"History cannot be saved right now: {self._backlog.reason}. It is kept in memory and written "
                   f"to {self.path} as soon as the disk takes it again.")
        log.info("%s", message)  # the handlers tell the user
        self.message = message
        for handler in tuple(self.problem_handlers):
            handler(message)

    def _recovered(self, written: int) -> None:
        dropped, self._backlog.dropped = self._backlog.dropped, 0
        self._lost += dropped
        self._backlog.saved()
        message = f"History is being saved again: {written} held item(s) written to {self.path}." + (
            f" {dropped} older item(s) could not be kept in memory meanwhile." if dropped else "")
        log.info("%s", message)  # the handlers tell the user
        self.message = message
        for handler in tuple(self.recovery_handlers):
            handler(message)

    def _rollback(self) -> None:
        conn = self._write_conn
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _commit_batch(self, writes: list[_Write]) -> None:
        """One transaction; raises for a disk problem (the caller holds the writes).  When a statement fails for
        its own reasons the batch is written again one statement at a time, and only the bad one is skipped.
        Whatever happens, no transaction is left open."""
        conn = self._write_conn
        t0 = time.perf_counter()
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for w in writes:
                    w.execute(conn)
                conn.execute("COMMIT")
            except Exception as exc:  # a bad value (OverflowError, UnicodeEncodeError), a constraint, the disk
                self._rollback()
                if _disk_error(exc) and not self.in_memory:
                    raise
                writes = self._commit_one_by_one(writes)
        except sqlite3.DatabaseError as exc:  # full or read-only disk, I/O error, a file damaged under us
            self._rollback()
            if _disk_error(exc) and not self.in_memory:
                raise
            self._lost += len(writes)
            log.warning("could not save %d item(s) to the history database: %s", len(writes), _why(exc))
            return
        except BaseException:
            self._rollback()
            raise
        dt = time.perf_counter() - t0
        self.batches_committed += 1
        try:
            self._checkpoint_if_needed()
        except sqlite3.Error as exc:  # the batch is committed; a checkpoint that failed runs again later
            log.debug("checkpoint failed: %s", exc)
        for w in writes:
            if w.on_commit is not None:
                w.on_commit()
        if self.metrics is not None and writes:
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

    def _commit_one_by_one(self, writes: list[_Write]) -> list[_Write]:
        """The batch again, each statement under its own savepoint: a statement that fails for its own reasons
        is rolled back alone, logged and counted in ``lost``; a disk error raises (the caller rolls back).
        Returns the writes committed."""
        conn = self._write_conn
        kept: list[_Write] = []
        conn.execute("BEGIN IMMEDIATE")
        for w in writes:
            conn.execute("SAVEPOINT one")
            try:
                w.execute(conn)
            except Exception as exc:
                conn.execute("ROLLBACK TO one")
                conn.execute("RELEASE one")
                if _disk_error(exc) and not self.in_memory:
                    raise
                self._lost += 1
                log.warning("one history item could not be saved and was skipped (%s); the rest were saved",
                            _why(exc))
                continue
            conn.execute("RELEASE one")
            kept.append(w)
        conn.execute("COMMIT")
        return kept

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
            self._commit([])
        if self._backlog:
            log.warning("%d history item(s) could not be saved to %s (%s).", len(self._backlog), self.path,
                        self._backlog.reason)
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
            rows = list(Database(self._read_conn).table(table).search(fts_literal(text), limit=limit))
        if self.metrics is not None:
            self.metrics.observe_s("store.read", time.perf_counter() - t0)
        return rows

    # ------------------------------------------------------------------ maintenance
    def prune(self, dry_run: bool = False, rules: PruneRules | None = None) -> PruneReport:
        """One full pruning pass, chunk by chunk, on the writer thread."""
        report: PruneReport = self._call(lambda conn: Pruner(conn, rules or self.rules, metrics=self.metrics).run(dry_run))
        return report

    def stats(self) -> dict[str, Any]:
        tables = ("sessions", "turns", "tool_calls", "runs", "run_steps", "api_cache", "metric_summaries",
                  "turn_usage", "session_usage", "daily_usage")
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


def open_store(settings: Settings, *, metrics: Metrics | None = None, **kwargs: Any) -> Store:
    """The store for ``settings``: data dir, secrets to keep out and pruning rules all from there."""
    path = data_dir_for(settings) / DB_NAME
    return Store(path, metrics=metrics, secrets=settings.secrets(), rules=PruneRules.from_settings(settings),
                 **kwargs)
