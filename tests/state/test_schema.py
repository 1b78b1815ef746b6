"""Migrations: from every earlier version to the latest, keeping the data; the result equals a fresh schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from desktop.state import schema
from desktop.state.store import Store

# Rows that each version can hold; inserted right after migrating to that version.
SAMPLE_ROWS = {
    1: [("INSERT INTO sessions (id, started_at) VALUES ('s1', 1.0)", ()),
        ("INSERT INTO turns (session_id, turn_no, started_at, finished_at, user_text, assistant_text, timings, "
         "interrupted) VALUES ('s1', 1, 1.0, 2.0, 'open a pull request for the flaky login test', 'starting it', "
         "'{}', 0)", ()),
        ("INSERT INTO api_cache (key, body, etag, fetched_at, expires_at) VALUES ('k', x'7b7d', 'e', 1.0, NULL)", ())],
    2: [("INSERT INTO runs (id, status, category, updated_at) VALUES (7, 'RUNNING', 'running', 3.0)", ()),
        ("INSERT INTO runs (id, status, category, updated_at) VALUES (8, 'COMPLETE', 'done', 2.0)", ()),
        ("INSERT INTO run_steps (run_id, idx, message_type, text) VALUES (7, 0, 'ACTION', 'cloned repo')", ())],
    3: [("INSERT INTO metric_summaries (session_id, stage, recorded_at, count, p50_ms, p95_ms, p99_ms, max_ms) "
         "VALUES ('s1', 'turn.total', 4.0, 3, 1.0, 2.0, 3.0, 4.0)", ())],
    8: [("INSERT INTO daily_usage (day, side, modality, tokens) VALUES ('2026-12-08', 'prompt', 'audio', 25)", ())],
}


def _schema_sql(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                                     "AND name != 'schema_version'")}


def _db(path: Path) -> Database:
    return Database(sqlite3.connect(path, isolation_level=None))


@pytest.mark.parametrize("start", range(schema.LATEST))
def test_migrates_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    db = _db(tmp_path / "old.db")
    assert schema.migrate(db, target=start) == start
    for version in range(1, start + 1):
        for sql, params in SAMPLE_ROWS.get(version, []):
            db.execute(sql, params)
    assert schema.current_version(db) == start

    assert schema.migrate(db) == schema.LATEST
    fresh = _db(tmp_path / "fresh.db")
    schema.migrate(fresh)
    assert _schema_sql(db) == _schema_sql(fresh)
    if start >= 1:
        # rows written before the migration are still there, and the search index covers them
        assert db.execute("SELECT count(*) FROM turns").fetchone()[0] == 1
        assert [r["id"] for r in db["turns"].search("flaky")] == [1]
    if start >= 2:
        assert db.execute("SELECT text FROM run_steps WHERE run_id = 7").fetchone()[0] == "cloned repo"
        # runs that had ended before runs were marked reported (v7) are not news after the upgrade; a going one
        # is (rows written after v7 keep what they were written with)
        assert dict(db.execute("SELECT id, reported FROM runs").fetchall()) == {7: 0, 8: 1 if start < 7 else 0}


def test_migrations_are_recorded_and_idempotent(tmp_path: Path) -> None:
    db = _db(tmp_path / "x.db")
    schema.migrate(db)
    before = _schema_sql(db)
    for fn in schema.MIGRATIONS:  # a crash between a migration and its version row: it runs again safely
        fn(db)
    assert _schema_sql(db) == before
    assert [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")] == \
        list(range(1, schema.LATEST + 1))
    assert db.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID


def test_store_opens_an_old_file_and_upgrades_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = _db(path)
    schema.migrate(db, target=1)
    for sql, params in SAMPLE_ROWS[1]:
        db.execute(sql, params)
    db.conn.close()
    with Store.open(path) as store:
        assert store.message is None
        assert store.stats()["schema_version"] == schema.LATEST
        assert [t.user_text for t in store.turns.history()] == ["open a pull request for the flaky login test"]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = _db(tmp_path / "new.db")
    schema.migrate(db)
    db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", [schema.LATEST + 1])
    with pytest.raises(schema.SchemaTooNew):
        schema.migrate(db)
