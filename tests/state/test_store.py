"""The store on a real file: write-behind, paging, search, the response cache, bad files, bad disks."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from desktop.config import Settings
from desktop.state.store import DB_NAME, Store, StoreError, data_dir_for, open_store
from desktop.state.turns import INSERT_TURN
from tests.folders import read_only_folder


def _turn(store: Store, n: int, user: str = "hello", assistant: str = "hi") -> None:
    store.enqueue(INSERT_TURN, ["s", n, 1.0, 2.0, user, assistant, "{}", 0])


def _wait(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def test_pragmas(store: Store) -> None:
    conn = store._read_conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert store._write_conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_writes_are_queued_then_committed_by_the_timer(store: Store) -> None:
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    _turn(store, 1)
    # nobody asked for a flush: the 250 ms tick writes it
    assert _wait(lambda: len(store.turns.history()) == 1)
    assert store.metrics.stage("store.write").count == 2


def test_history_pages_newest_first(store: Store) -> None:
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    for n in range(1, 126):
        _turn(store, n, user=f"request {n}")
    assert store.flush()
    page1 = store.turns.history(limit=50)
    assert [t.turn_no for t in page1[:3]] == [125, 124, 123] and len(page1) == 50
    page2 = store.turns.history(before_id=page1[-1].id, limit=50)
    page3 = store.turns.history(before_id=page2[-1].id, limit=50)
    assert len(page2) == 50 and len(page3) == 25 and page3[-1].turn_no == 1
    assert store.turns.history(before_id=page3[-1].id) == []


def test_full_text_search(store: Store) -> None:
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    _turn(store, 1, "open a pull request that fixes the flaky login test", "starting a run for that")
    _turn(store, 2, "what is the weather", "I only know about code")
    _turn(store, 3, "status of my runs", "the login fix is still running")
    assert store.flush()
    assert {t.turn_no for t in store.turns.search("login")} == {1, 3}
    assert [t.turn_no for t in store.turns.search("weather")] == [2]
    assert {t.turn_no for t in store.turns.search("fixes")} == {1, 3}  # porter stemming: fixes ~ fix
    assert store.turns.search('"unbalanced quote AND (') == []  # user text is quoted, never an FTS syntax error
    assert store.turns.search("   ") == []


def test_response_cache_round_trip(store: Store) -> None:
    assert store.api_cache.load("GET /runs/1") is None
    store.api_cache.save("GET /runs/1", b'{"status":"running"}', '"v1"', None)
    assert store.api_cache.load("GET /runs/1") == (b'{"status":"running"}', '"v1"', None)  # before the flush, too
    assert store.flush()
    assert store.api_cache._pending == {}
    store.api_cache.save("GET /runs/1", b'{"status":"done"}', '"v2"', 1234.5)
    assert store.flush()
    assert store.api_cache.load("GET /runs/1") == (b'{"status":"done"}', '"v2"', 1234.5)
    assert store.metrics.stage("store.read").count >= 2


def test_data_dir_precedence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GEMINI_CODEGEN_DATA_DIR", str(tmp_path / "env"))
    assert data_dir_for(Settings()) == tmp_path / "env"
    assert data_dir_for(Settings(data_dir=str(tmp_path / "flag"))) == tmp_path / "flag"
    monkeypatch.delenv("GEMINI_CODEGEN_DATA_DIR")
    from desktop.config import default_data_dir

    assert data_dir_for(Settings()) == default_data_dir()


@pytest.mark.parametrize("content", [b"this is a text file, not a database\n" * 50,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_corrupt_file_is_moved_aside(db_path: Path, content: bytes) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(content)
    with Store.open(db_path) as store:
        assert store.moved_to is not None and store.moved_to.read_bytes() == content  # kept, not deleted
        assert ".corrupt-" in store.moved_to.name
        assert str(store.moved_to) in (store.message or "")
        assert not store.in_memory
        store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
        _turn(store, 1)
        assert store.flush() and len(store.turns.history()) == 1


def test_a_foreign_database_is_moved_aside(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    other = sqlite3.connect(db_path)
    other.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    other.execute("INSERT INTO photos (path) VALUES ('a.jpg')")
    other.commit()
    other.close()
    with Store.open(db_path) as store:
        assert "another application" in (store.message or "")
        kept = sqlite3.connect(store.moved_to)
        assert kept.execute("SELECT path FROM photos").fetchall() == [("a.jpg",)]
        kept.close()


def test_our_own_file_is_reopened_not_moved(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
        _turn(store, 1)
    with Store.open(db_path) as store:
        assert store.message is None and len(store.turns.history()) == 1
    assert [p.name for p in db_path.parent.iterdir() if ".corrupt-" in p.name] == []


@pytest.mark.skipif(shutil.which("chattr") is None or os.geteuid() != 0,
                    reason="needs root and chattr to make a directory unwritable even for root")
def test_read_only_directory_keeps_working_in_memory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["chattr", "+i", str(ro)], check=True)
    try:
        with open_store(Settings(data_dir=str(ro))) as store:
            assert store.in_memory
            assert "Cannot write the history database" in (store.message or "")
            assert "memory" in store.message
            store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
            _turn(store, 1, "still recorded")
            assert store.flush() and [t.user_text for t in store.turns.history()] == ["still recorded"]
    finally:
        subprocess.run(["chattr", "-i", str(ro)], check=True)
    assert not (ro / DB_NAME).exists()


def test_read_only_path_without_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data directory should be")
    with open_store(Settings(data_dir=str(blocker / "sub"))) as store:
        assert store.in_memory and "Cannot write the history database" in (store.message or "")


def test_a_full_disk_keeps_the_file_holds_the_writes_and_saves_them_when_space_returns(store: Store) -> None:
    problems: list[str] = []
    recovered: list[str] = []
    store.problem_handlers.append(problems.append)
    store.recovery_handlers.append(recovered.append)
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    assert store.flush()
    pages = store._write_conn.execute("PRAGMA page_count").fetchone()[0]
    store._call(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}"))  # the disk is now "full"
    for n in range(200):
        _turn(store, n, user="x" * 2000)
    assert not store.flush() and store.pending == 200
    assert not store.in_memory and store.path is not None and store.path.exists()
    assert len(problems) == 1 and "the disk is full" in problems[0] and "kept in memory" in problems[0]
    assert store.turns.history() == []  # the file is as it was
    store._backlog.retry_at = 0  # space returns; the next retry writes the held turns
    store._call(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    for _ in range(200):
        if recovered:
            break
        time.sleep(0.02)
    assert store.pending == 0 and len(store.turns.history(limit=500)) == 200  # nothing lost
    assert len(recovered) == 1 and "200 held item(s) written" in recovered[0]


def test_close_flushes_and_is_idempotent(db_path: Path) -> None:
    store = Store.open(db_path)
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    _turn(store, 1)
    store.close()
    store.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM turns").fetchone()[0] == 1
    conn.close()


def test_stats(store: Store) -> None:
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    _turn(store, 1)
    assert store.flush()
    stats = store.stats()
    assert stats["rows"]["turns"] == 1 and stats["rows"]["sessions"] == 1
    assert stats["size_bytes"] > 0 and stats["oldest_item"] == 2.0


def test_a_database_from_a_newer_version_is_refused_untouched(db_path: Path) -> None:
    from desktop.state import schema
    from desktop.state.store import NewerDatabase

    with Store.open(db_path) as store:
        store.enqueue("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", [schema.LATEST + 1])
    before = db_path.read_bytes()
    with pytest.raises(NewerDatabase) as info:
        Store.open(db_path)
    assert f"schema {schema.LATEST + 1}" in str(info.value) and "left untouched" in str(info.value)
    assert db_path.read_bytes() == before
    assert [p.name for p in db_path.parent.iterdir() if ".corrupt-" in p.name] == []


def test_a_data_dir_that_is_a_file_is_said_plainly(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with open_store(Settings(data_dir=str(blocker))) as store:
        assert store.in_memory and "is a file, not a folder" in (store.message or "")


def test_a_read_only_folder_shows_its_history_and_holds_new_writes(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
        _turn(store, 1, "kept from before")
    with read_only_folder(db_path.parent), Store.open(db_path) as store:
        assert store.read_only and not store.in_memory
        assert "cannot be written" in (store.message or "") and "shown as it is" in store.message
        assert [t.user_text for t in store.turns.history()] == ["kept from before"]
        _turn(store, 2, "while read-only")
        assert not store.flush() and store.pending == 1
        with pytest.raises(StoreError):
            store.prune()
    assert [p.name for p in db_path.parent.iterdir() if ".corrupt-" in p.name] == []
