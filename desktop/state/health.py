"""Is the file at the database path ours, usable, damaged, or written by a newer version?  And is an
error from SQLite about the file's contents or about the disk?

The difference matters: a damaged or foreign file is moved aside (kept) and a fresh one started, but a
full disk, a read-only folder or an I/O error says nothing about the file, which must then be left exactly
where and as it is.  SQLite's result codes tell them apart (``SQLITE_CORRUPT`` / ``SQLITE_NOTADB`` against
``SQLITE_FULL``, ``SQLITE_IOERR``, ``SQLITE_READONLY``, ``SQLITE_CANTOPEN``...).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from desktop.state import schema

SQLITE_HEADER = b"SQLite format 3\x00"
CORRUPT, NOTADB = 11, 26  # SQLite primary result codes that mean the contents are bad
QUICK_CHECK_MAX_BYTES = 64 << 20  # larger files open without a full quick_check (it reads every page)


@dataclass(frozen=True)
class Verdict:
    """What is wrong with the file: ``kind`` damaged | foreign | newer | unavailable; ``reason`` in words."""

    kind: str
    reason: str

    @property
    def move_aside(self) -> bool:
        return self.kind in ("damaged", "foreign")


def is_corruption(exc: sqlite3.Error) -> bool:
    """The error is about the file's contents (damaged, not a database), not about the disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (CORRUPT, NOTADB)
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def describe(exc: BaseException) -> str:
    """A disk problem in words: "the disk is full", "the folder is read-only", or SQLite's own text."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if code is not None else None
    if primary == 13:  # SQLITE_FULL
        return "the disk is full"
    if primary == 8:  # SQLITE_READONLY
        return "the database or its folder is read-only"
    if primary == 14:  # SQLITE_CANTOPEN
        return "the database file cannot be opened or created there"
    if primary == 10:  # SQLITE_IOERR: full disk, file size limit, failing device
        return "the disk refused to write (disk I/O error: full, over a size limit, or failing)"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def inspect(path: Path) -> Verdict | None:
    """Why the file at ``path`` cannot be used as our database as it is (None: it can, or there is none).
    Reads only; never changes the file."""
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Verdict("unavailable", exc.strerror or str(exc))
    if not head:
        return None
    if not head.startswith(SQLITE_HEADER):
        return Verdict("damaged", "it is not an SQLite database")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            if app_id != schema.APPLICATION_ID and tables:
                return Verdict("foreign", "it belongs to another application")
            if "schema_version" in tables:
                version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
                if version > schema.LATEST:
                    return Verdict("newer", f"it was written by a newer version of the app (schema {version}; "
                                            f"this version knows up to {schema.LATEST})")
            if path.stat().st_size < QUICK_CHECK_MAX_BYTES:
                problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
                if problem != "ok":
                    return Verdict("damaged", f"it is damaged ({problem})")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if is_corruption(exc):
            return Verdict("damaged", f"it is damaged ({exc})")
        return Verdict("unavailable", describe(exc))
    return None


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read connection to a database whose folder cannot be written (no -wal/-shm can be made there)."""
    errors = []
    for query in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(f"file:{path}?{query}", uri=True, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error as exc:
            errors.append(exc)
            conn.close()
    raise errors[-1]
