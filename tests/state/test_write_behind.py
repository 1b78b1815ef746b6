"""The engine's side of the queue never waits for the disk, even while another process holds the write lock."""

from __future__ import annotations

import sqlite3
import time

from desktop.state.store import Store
from desktop.state.turns import INSERT_TURN


def test_enqueue_does_not_wait_for_a_locked_database(store: Store) -> None:
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    assert store.flush()
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing: our writer thread has to wait
    try:
        t0 = time.perf_counter()
        for n in range(2000):
            store.enqueue(INSERT_TURN, ["s", n, 1.0, 2.0, "queued while locked", "", "{}", 0])
        store.flush_soon()
        queued_s = time.perf_counter() - t0
        assert queued_s < 1.0  # generous: the benchmark measures the real numbers
        # readers are not blocked either (WAL): they see the last committed state
        assert store.turns.history() == []
    finally:
        other.execute("COMMIT")
        other.close()
    assert store.flush()
    assert len(store.turns.history(limit=5000)) == 2000


def test_one_turn_end_commits_everything_queued_in_one_batch(store: Store) -> None:
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    for n in range(10):
        store.enqueue(INSERT_TURN, ["s", n, 1.0, 2.0, "x", "", "{}", 0])
    batches_before = store.batches_committed
    store.flush_soon()  # what the recorder does on TurnFinished
    end = time.monotonic() + 5
    while len(store.turns.history()) < 10 and time.monotonic() < end:
        time.sleep(0.005)
    assert len(store.turns.history()) == 10
    assert store.batches_committed == batches_before + 1  # eleven writes, one transaction
