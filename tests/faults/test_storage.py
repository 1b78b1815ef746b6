"""Items 8, 9 and 10 (and the data folder of item 15): a full disk, a read-only folder or a database from a newer
version never hides or moves the history; writes the disk refused are saved when it takes them again."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from desktop.state import schema
from desktop.state.store import DB_NAME
from tests.faults.conftest import limit_file_size, wav
from tests.folders import read_only_folder


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _no_moved_files(data_dir: Path) -> None:
    assert [p.name for p in data_dir.iterdir() if ".corrupt-" in p.name] == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs: a disk that really fills up (ENOSPC)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("mounting a small tmpfs needs CAP_SYS_ADMIN here (the file-size-limit case runs anyway): "
                    + done.stderr.decode(errors="replace").strip())
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte; returns the filler (delete it to free space)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


DISKS = [
    ("fills up mid-session (a real tmpfs: ENOSPC)", "tmpfs"),
    ("is already full when the app starts (a file-size limit: EFBIG, SQLite's 'disk I/O error')", "rlimit"),
]


@pytest.mark.parametrize("when, how", DISKS, ids=[d[1] for d in DISKS])
def test_item08_a_full_disk_keeps_the_file_and_saves_the_turns_when_space_returns(app, history_kept, reliability,
                                                                                  when, how, request):
    preexec = None
    filler: list[Path] = []
    if how == "tmpfs":
        mount = request.getfixturevalue("small_tmpfs")
        shutil.copy(app.data_dir / DB_NAME, mount / DB_NAME)
        shutil.rmtree(app.data_dir)
        app.data_dir = mount
    else:
        preexec = limit_file_size(4096)  # no file of the app's may grow past 4 KB: the database cannot grow
    phase: list[str] = []

    def watch(stdout: str, process: psutil.Process) -> None:
        if how == "tmpfs" and not phase and '"state": "ready"' in stdout:
            filler.append(_fill(app.data_dir))  # the disk fills up under the running session
            phase.append("full")
        elif phase[-1:] != ["freed"] and "kept in memory" in stdout:  # the app said so: space returns
            if filler:
                filler[0].unlink()
            else:
                process.rlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            phase.append("freed")

    if how == "rlimit":
        phase.append("full")
    result = app.run("run", "--wav", wav("status.wav"), "--offline", "--fast", "--json", "--then", "and now?",
                     env=app.env(), preexec=preexec, watch=watch, timeout=60)
    assert result.rc == 0, result.stderr[-3000:]
    assert phase == ["full", "freed"], result.stdout[-3000:]
    told = [e for e in result.events if e["event"] == "ErrorEvent" and e["kind"] == "storage"]
    assert len(told) == 1 and "kept in memory" in told[0]["message"], told
    _no_moved_files(app.data_dir)
    turns = app.history()
    assert [t["user_text"] for t in turns[2:]][::-1] == history_kept  # the old history, in the same file
    assert turns[0]["user_text"] == "and now?" and len(turns) == 5  # the session's turns, saved after all
    saved = [e["message"] for e in result.events if e["event"] == "Notice" and "saved again" in e["message"]]
    reliability(8, f"the disk {when}; space returns a moment later",
                f"the file is kept (not 'damaged', not moved): `{told[0]['message'].replace(str(app.data_dir), 'DATA')}` "
                "The refused writes wait in memory (at most 64 MB) and are written on the next retry"
                + (f": `{saved[0].replace(str(app.data_dir), 'DATA')}`" if saved else " (or at exit)"), result)


def test_item09_a_read_only_data_folder_shows_its_history(app, history_kept, reliability):
    db = app.data_dir / DB_NAME
    before = _sha(db)
    with read_only_folder(app.data_dir):
        shown = app.run("history", "--json")
        session = app.run("run", "--wav", wav("status.wav"), "--offline", "--fast", "--json", timeout=60)
    assert shown.rc == 0, shown.stderr
    assert [json.loads(line)["user_text"] for line in shown.stdout.splitlines()][::-1] == history_kept
    assert "cannot be written" in shown.stderr and "shown as it is" in shown.stderr
    assert session.rc == 0, session.stderr[-2000:]
    assert _sha(db) == before
    _no_moved_files(app.data_dir)
    reliability(9, "`history` (and a `run`) with an existing database in a read-only folder",
                "opened read-only: the history is shown; a session still runs, its turns held in memory and "
                "saved if the folder becomes writable; the file is untouched", shown)


def test_item10_a_database_from_a_newer_version_is_refused_untouched(app, history_kept, reliability):
    import sqlite3

    db = app.data_dir / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", [schema.LATEST + 3])
    conn.commit()
    conn.close()
    before = _sha(db)
    shown = app.run("history")
    session = app.run("run", "--wav", wav("status.wav"), "--offline", "--fast", "--json", timeout=60)
    line = shown.one_line_error()
    assert shown.rc == 1 and f"newer version of the app (schema {schema.LATEST + 3}" in line, line
    assert "left untouched" in line and "--data-dir" in line
    assert session.rc == 0
    told = [e for e in session.events if e["event"] == "ErrorEvent" and e["kind"] == "storage"]
    assert told and "left untouched" in told[0]["message"]
    assert _sha(db) == before
    _no_moved_files(app.data_dir)
    shown_line = line.removeprefix("gemini-codegen: error: ").replace(str(app.data_dir), "DATA")
    reliability(10, "`history` on a database written by a newer version",
                f"refused, nothing moved or migrated: `{shown_line}`; a `run` "
                "keeps its history in memory and says so", shown)


def test_item15_a_data_folder_that_is_a_file_is_said_plainly(app, reliability, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    result = app.run("history", env=app.env(GEMINI_CODEGEN_DATA_DIR=str(blocker)))
    line = result.one_line_error()
    assert result.rc == 2 and "is a file, not a folder" in line and "--data-dir" in line, line
    assert blocker.read_text() == "a file where the data folder should be"
    reliability(15, "a data folder that is a file",
                f"`{line.removeprefix('gemini-codegen: error: ').replace(str(tmp_path), 'TMP')}`", result)
