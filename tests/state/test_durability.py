"""kill -9 in the middle of writing: the file stays sound and holds every batch that was committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

WRITER = textwrap.dedent("""
    import sys, time
    from desktop.state.store import Store
    from desktop.state.turns import INSERT_TURN
    store = Store.open(sys.argv[1])
    store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
    n = 0
    while True:
        for _ in range(50):
            store.enqueue(INSERT_TURN, ["s", n, 1.0, 2.0, "keep writing " * 20, "ok " * 50, "{}", 0])
            n += 1
        store.flush()
        print(n, flush=True)  # every turn up to n is committed
        for _ in range(30):  # queued but never flushed when the kill comes
            store.enqueue(INSERT_TURN, ["s", n, 1.0, 2.0, "unflushed", "", "{}", 0])
            n += 1
        store.flush_soon()
""")


def test_kill_9_loses_at_most_the_unflushed_batch(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    committed = 0
    deadline = time.monotonic() + 30
    try:
        while committed < 2000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert committed >= 2000, "the writer did not get going"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT count(*) FROM turns").fetchone()[0]
        assert rows >= committed
        # whatever made it in came in whole batches, in order, with no holes
        assert conn.execute("SELECT max(turn_no) FROM turns").fetchone()[0] == rows - 1
        assert conn.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'keep'").fetchone()[0] > 0
    finally:
        conn.close()
