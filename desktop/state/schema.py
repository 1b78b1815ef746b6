"""The database schema as a list of versioned migrations.

``schema_version`` holds one row per applied migration.  Each migration is a small function over a
sqlite-utils ``Database`` and is idempotent (``if_not_exists`` everywhere), so a process killed halfway
through one simply runs it again on the next start; the version row is written only after it completed.
``PRAGMA application_id`` marks the file as ours, so a foreign SQLite file at our path is recognised.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlite_utils import Database

from desktop.codegen.api import FINAL, sql_list

APPLICATION_ID = 0x47434431  # "GCD1"
MAX_STORED_TEXT = 65_536  # characters of any one text field written (a turn's side is capped lower, by the engine)


def _v1_sessions_turns_tools_cache(db: Database) -> None:
    db.table("sessions").create({"id": str, "started_at": float, "ended_at": float, "model": str, "offline": int},
                          pk="id", if_not_exists=True)
    db.table("turns").create({"id": int, "session_id": str, "turn_no": int, "started_at": float, "finished_at": float,
                        "user_text": str, "assistant_text": str, "timings": str, "interrupted": int},
                       pk="id", foreign_keys=[("session_id", "sessions", "id")], if_not_exists=True)
    db.table("turns").create_index(["session_id"], if_not_exists=True)
    db.table("turns").create_index(["finished_at"], if_not_exists=True)
    db.table("tool_calls").create({"id": int, "session_id": str, "turn_no": int, "call_id": str, "name": str,
                             "args": str, "result": str, "duration_ms": float, "error": str, "created_at": float},
                            pk="id", if_not_exists=True)
    db.table("tool_calls").create_index(["session_id", "turn_no"], if_not_exists=True)
    db.table("tool_calls").create_index(["created_at"], if_not_exists=True)
    db.table("api_cache").create({"key": str, "body": bytes, "etag": str, "fetched_at": float, "expires_at": float},
                           pk="key", if_not_exists=True)
    db.table("api_cache").create_index(["fetched_at"], if_not_exists=True)


def _v2_runs(db: Database) -> None:
    db.table("runs").create({"id": int, "status": str, "category": str, "prompt": str, "summary": str, "web_url": str,
                       "pull_requests": str, "created_at": str, "updated_at": float, "first_seen": float},
                      pk="id", if_not_exists=True)
    db.table("runs").create_index(["category", "updated_at"], if_not_exists=True)
    db.table("runs").create_index(["updated_at"], if_not_exists=True)
    db.table("run_steps").create({"run_id": int, "idx": int, "message_type": str, "text": str, "created_at": str},
                           pk=("run_id", "idx"), foreign_keys=[("run_id", "runs", "id")], if_not_exists=True)


def _v3_metric_summaries(db: Database) -> None:
    db.table("metric_summaries").create({"session_id": str, "stage": str, "recorded_at": float, "count": int,
                                   "p50_ms": float, "p95_ms": float, "p99_ms": float, "max_ms": float},
                                  pk=("session_id", "stage"), foreign_keys=[("session_id", "sessions", "id")],
                                  if_not_exists=True)


def _v4_transcript_search(db: Database) -> None:
    if "turns_fts" not in db.table_names():
        db.table("turns").enable_fts(["user_text", "assistant_text"], create_triggers=True, tokenize="porter")


def _v5_search_index_merges_when_idle(db: Database) -> None:
    """No index merging inside write transactions; the store merges in small steps when idle instead."""
    db.execute("INSERT INTO turns_fts (turns_fts, rank) VALUES ('automerge', 0)")
    db.execute("INSERT INTO turns_fts (turns_fts, rank) VALUES ('crisismerge', 256)")


def _v6_turn_errors(db: Database) -> None:
    """A failed turn (no answer in time, connection reset) keeps why it failed."""
    turns = db.table("turns")
    if "error" not in turns.columns_dict:
        turns.add_column("error", str)


def _v7_runs_reported(db: Database) -> None:
    """Whether the user was told a run's outcome (spoken or shown), so a restart reports it once, never twice.
    Runs that had already ended count as reported: an upgrade does not read out old news."""
    runs = db.table("runs")
    if "reported" not in runs.columns_dict:
        runs.add_column("reported", int, not_null_default=0)
        db.execute(f"UPDATE runs SET reported = 1 WHERE category IN {sql_list(FINAL)}")


def _v8_token_usage(db: Database) -> None:
    """Tokens Gemini reported, by side (prompt | response) and modality: per turn (pruned with the turns), and
    added up per session and per local day (kept when turns are pruned, so the totals stay whole)."""
    part = {"side": str, "modality": str, "tokens": int}
    db.table("turn_usage").create({"session_id": str, "turn_no": int, **part, "updated_at": float},
                                  pk=("session_id", "turn_no", "side", "modality"), if_not_exists=True)
    db.table("turn_usage").create_index(["updated_at"], if_not_exists=True)
    db.table("session_usage").create({"session_id": str, **part}, pk=("session_id", "side", "modality"),
                                     if_not_exists=True)
    db.table("daily_usage").create({"day": str, **part}, pk=("day", "side", "modality"), if_not_exists=True)


MIGRATIONS: tuple[Callable[[Database], None], ...] = (
    _v1_sessions_turns_tools_cache,
    _v2_runs,
    _v3_metric_summaries,
    _v4_transcript_search,
    _v5_search_index_merges_when_idle,
    _v6_turn_errors,
    _v7_runs_reported,
    _v8_token_usage,
)
LATEST = len(MIGRATIONS)


def current_version(db: Database) -> int:
    if "schema_version" not in db.table_names():
        return 0
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: Database, target: int = LATEST) -> int:
    """Apply the migrations after the current version up to ``target``; returns the new version."""
    if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.table("schema_version").create({"version": int, "applied_at": float}, pk="version", if_not_exists=True)
    version = current_version(db)
    if version > LATEST:
        raise SchemaTooNew(f"the database has schema version {version}; this app knows up to {LATEST}")
    for number in range(version + 1, target + 1):
        MIGRATIONS[number - 1](db)
        db.execute("INSERT OR REPLACE INTO schema_version (version, applied_at) VALUES (?, ?)", [number, time.time()])
        version = number
    return version


class SchemaTooNew(RuntimeError):
    """The file was written by a newer version of the app."""
