"""`gemini-codegen history`, `db stats`, `db prune`, `db bench` against a real file in tmp_path."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.state.store import DB_NAME, Store
from desktop.state.turns import INSERT_TURN
from devtools.bench_store import run_store_bench


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cli-data"
    with Store.open(d / DB_NAME) as store:
        store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('s', 0)")
        old = time.time() - 90 * 86400
        store.enqueue(INSERT_TURN, ["s", 1, old, old, "an old request about the login test", "ok", "{}", 0])
        for n in range(2, 6):
            store.enqueue(INSERT_TURN, ["s", n, time.time(), time.time(), f"request {n}", f"answer {n}", "{}", 0])
    return d


def test_history_lists_newest_first(data_dir: Path, capsys) -> None:
    assert main(["history", "--data-dir", str(data_dir), "--limit", "2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["turn_no"] for r in rows] == [5, 4]
    assert main(["history", "--data-dir", str(data_dir), "--before", str(rows[-1]["id"])]) == 0
    out = capsys.readouterr().out
    assert "request 3" in out and "request 5" not in out


def test_history_search(data_dir: Path, capsys) -> None:
    assert main(["history", "--data-dir", str(data_dir), "--search", "login"]) == 0
    out = capsys.readouterr().out
    assert "an old request about the login test" in out and "request 2" not in out
    assert main(["history", "--data-dir", str(data_dir), "--search", "nothing-like-this"]) == 0
    assert "no matching turns" in capsys.readouterr().out


def test_bad_limit_is_one_line(data_dir: Path, capsys) -> None:
    assert main(["history", "--data-dir", str(data_dir), "--limit", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "gemini-codegen: error: --limit must be at least 1"


def test_db_stats(data_dir: Path, capsys) -> None:
    assert main(["db", "stats", "--data-dir", str(data_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rows"]["turns"] == 5 and stats["path"] == str(data_dir / DB_NAME)
    assert stats["oldest_item"] < time.time() - 80 * 86400
    assert main(["db", "stats", "--data-dir", str(data_dir)]) == 0
    assert "turns" in capsys.readouterr().out


def test_db_prune_dry_run_then_for_real(data_dir: Path, capsys) -> None:
    assert main(["db", "prune", "--dry-run", "--data-dir", str(data_dir)]) == 0
    assert "would remove 1 rows: turns 1" in capsys.readouterr().out
    assert main(["db", "prune", "--data-dir", str(data_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"]["turns"] == 1
    assert main(["history", "--data-dir", str(data_dir), "--json", "--limit", "50"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_a_corrupt_file_is_reported_on_stderr(tmp_path: Path, capsys) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / DB_NAME).write_text("not a database " * 100)
    assert main(["db", "stats", "--data-dir", str(d)]) == 0
    err = capsys.readouterr().err
    assert "moved to" in err and ".corrupt-" in err


def test_bench_rejects_tiny_runs(capsys) -> None:
    assert main(["db", "bench", "--rows", "10"]) == 2
    assert "--rows must be at least 1000" in capsys.readouterr().err


def test_bench_small(tmp_path: Path) -> None:
    report = run_store_bench(3000, directory=tmp_path, reads=400, turns=100)
    assert report.read.count >= 400 and report.write.count == 200 and report.prune_chunk.count > 0
    assert report.pruned["turns"] > 0 and report.active_runs_kept
    assert list(tmp_path.iterdir()) == []  # the scratch database is gone
