"""Local data stays the user's: private folders and files whatever the umask (and an older install fixed on
start), settings that cannot stop the app from starting, a turn saved when a signal stops the app, and cache
ages that a clock jump cannot extend."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop.config import ConfigError, Settings, check_settings, load_settings, save_settings
from desktop.state.store import DB_NAME, Store
from tests.faults.conftest import FAKE_KEY, ROOT, wav
from tests.faults.peers import LivePeer, accept_setup, drain, until_turn_sent

USER_WORDS = "what is the status of my login fix"


def _umask(mask: int):
    def apply() -> None:
        os.umask(mask)

    return apply


def _modes(*folders: Path) -> dict[Path, int]:
    """Every folder and file under ``folders`` (themselves included) with its permission bits."""
    out: dict[Path, int] = {}
    for top in folders:
        if not top.exists():
            continue
        out[top] = stat.S_IMODE(top.stat().st_mode)
        for path in top.rglob("*"):
            with_mode = path.lstat()
            out[path] = stat.S_IMODE(with_mode.st_mode)
    return out


def _not_private(modes: dict[Path, int]) -> dict[str, str]:
    return {str(p): oct(m) for p, m in modes.items() if m & 0o077}


def _describe(modes: dict[Path, int]) -> str:
    folders = sorted({oct(m) for p, m in modes.items() if p.is_dir()})
    files = sorted({oct(m) for p, m in modes.items() if not p.is_dir()})
    return (f"{len(modes)} paths: folders {'/'.join(f.removeprefix('0o') for f in folders)}, "
            f"files {'/'.join(f.removeprefix('0o') for f in files)}")


# ------------------------------------------------------------------------------------------ file modes
def test_everything_the_app_writes_is_private_under_umask_022(app, threat):
    """A real run of the command with the usual umask 022: the data folder, the history database with its
    -wal and -shm, the demo's saved runs, the metrics file and the settings file are the user's alone."""
    old = os.umask(0o022)
    try:
        save_settings(Settings(voice="Puck", tail_ms=250), app.config_dir / "settings.toml")  # what Save writes
    finally:
        os.umask(old)
    seen: dict[Path, int] = {}

    def watch(_out: str, _proc) -> None:  # while it runs: the -wal and -shm files exist only then
        for path, mode in _modes(app.data_dir, app.config_dir).items():
            seen[path] = seen.get(path, 0) | mode

    result = app.run("run", "--offline", "--wav", wav("create_pr.wav"), "--fast", "--then", "yes",
                     "--metrics-jsonl", str(app.data_dir / "metrics" / "session.jsonl"), preexec=_umask(0o022),
                     watch=watch, timeout=60)
    assert result.rc == 0, result.stderr[-2000:]
    for path, mode in _modes(app.data_dir, app.config_dir).items():
        seen[path] = seen.get(path, 0) | mode
    names = {p.name for p in seen}
    assert {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", "codegen-demo.json", "session.jsonl", "metrics",
            "settings.toml"} <= names, sorted(names)
    assert not _not_private(seen), _not_private(seen)
    assert all(m == 0o700 for p, m in seen.items() if p.is_dir())
    assert all(m == 0o600 for p, m in seen.items() if p.is_file())
    threat("local data", "transcripts, prompts, settings, metrics on disk",
           "another account on the machine reads the files (umask 022 makes them 0644, folders 0755)",
           "one module (desktop.private_files) makes every folder 0700 and creates every file 0600 before "
           "anything is written; SQLite's -wal/-shm inherit the database's 0600",
           f"{_describe(seen)}, during and after a run with umask 022 ({', '.join(sorted(names))})")


def test_an_older_install_with_0755_and_0644_is_fixed_on_start(app, seeded_db, threat):
    data, config = app.data_dir, app.config_dir
    tls = config / "emulator-tls"
    for folder in (data, config, tls):
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    shutil.copy(seeded_db, data / DB_NAME)
    (data / "codegen-demo.json").write_text(json.dumps({"next_id": 1001, "runs": []}))
    (config / "settings.toml").write_text('model = "gemini-3.8-live"\n')
    (tls / "emulator-cert.pem").write_text("cert")
    (tls / "emulator-key.pem").write_text("key")
    mine = data / "my-notes.txt"  # a file of the user's own in the folder: not the app's to change
    mine.write_text("mine")
    for path in (data / DB_NAME, data / "codegen-demo.json", config / "settings.toml", tls / "emulator-cert.pem",
                 tls / "emulator-key.pem", mine):
        path.chmod(0o644)
    before = _modes(data, config)
    result = app.run("run", "--offline", "--wav", wav("status.wav"), "--fast", timeout=60)
    assert result.rc == 0, result.stderr[-2000:]
    after = _modes(data, config)
    assert stat.S_IMODE(mine.stat().st_mode) == 0o644
    after.pop(mine)
    assert not _not_private(after), _not_private(after)
    fixed = sum(1 for p, m in before.items() if m & 0o077 and p != mine)
    assert fixed == 8  # 3 folders, the database, the demo's runs, the settings, the certificate and its key
    threat("local data", "an existing install's files",
           "an install made before this rule keeps its 0755 folders and 0644 database, settings and keys",
           "at start the data and config folders and the files the app keeps there (by name) lose group and "
           "other access; files of the user's own in a folder they chose are left alone",
           f"{fixed} paths 0755/0644 before, after one run: {_describe(after)}; the user's own file still 0644")


# ------------------------------------------------------------------------------------------ settings
def test_settings_refuses_a_bad_value_in_the_dialog_with_the_field_named(qtbot, threat):
    from PySide6.QtCore import Qt

    from desktop.config import settings_path
    from ui.settings_dialog import SettingsDialog

    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    refused = []
    for field, value, words in (("live_url", "https://generativelanguage.googleapis.com", "Live endpoint:"),
                                ("codegen_url", "wss://api.codegen.com", "CodeGen API URL:"),
                                ("live_url", "wss://127.0.0.1:99999", "Live endpoint:"),
                                ("model", "  ", "Model:")):
        getattr(dlg, field).setText(value)
        qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
        assert not dlg.error.isHidden() and dlg.error.text().startswith(words), dlg.error.text()
        assert not settings_path().exists()
        refused.append(dlg.error.text())
        getattr(dlg, field).setText(getattr(Settings(), field))
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert settings_path().exists() and dlg.result_settings is not None
    with pytest.raises(ConfigError) as info:  # and whatever else saves: the same checks
        save_settings(Settings(live_url="https://example.com"), settings_path())
    assert info.value.setting == "live_url"
    check_settings(Settings())
    threat("local data", "the settings file",
           "a value saved from Settings that the app cannot start with (an https:// Live URL) locks the user out",
           "every field is checked with the start-up checks before saving; a bad one is refused in the dialog "
           "with the field named, and nothing is written",
           f"{len(refused)} bad values refused, e.g. `{refused[0]}`; the settings file written only once all were "
           "valid")


def test_a_bad_value_already_in_the_file_never_stops_the_app(app, tmp_path, threat):
    elsewhere = tmp_path / "data-from-the-file"
    app.config_dir.mkdir(parents=True)
    (app.config_dir / "settings.toml").write_text(
        f'live_url = "https://example.com/live"\nvad_mode = 9\ndata_dir = "{elsewhere}"\n')
    env = app.env()
    env.pop("GEMINI_CODEGEN_DATA_DIR")  # the file's data_dir applies: the rest of the file still counts
    result = app.run("run", "--offline", "--wav", wav("status.wav"), "--fast", "--json", env=env, timeout=60)
    assert result.rc == 0, result.stderr[-2000:]
    warnings = result.error_lines
    assert "Traceback" not in result.stderr and len(warnings) == 2, result.stderr
    assert "setting 'live_url' from" in warnings[0] and "using the default (wss://" in warnings[0]
    assert "setting 'vad_mode' from" in warnings[1] and "using the default (3)" in warnings[1]
    notices = [e for e in result.events if e.get("event") == "Notice" and e.get("kind") == "settings"]
    assert len(notices) == 1 and "live_url" in notices[0]["message"]  # the window shows it as a banner
    assert (elsewhere / DB_NAME).exists()
    # the window starts too (offscreen), with the same one line each on stderr
    window = subprocess.run([sys.executable, "-m", "desktop", "--exit-after-ms", "300"], cwd=ROOT,
                            env={**env, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True, timeout=60)
    assert window.returncode == 0 and "Traceback" not in window.stderr, window.stderr[-2000:]
    assert sum("setting 'live_url' from" in line for line in window.stderr.splitlines()) == 1
    settings = load_settings({}, env={}, path=app.config_dir / "settings.toml", use_keyring=False)
    assert settings.live_url == Settings().live_url and settings.data_dir == str(elsewhere)
    threat("local data", "the settings file",
           "a bad value already in the file (an https:// Live URL, vad_mode 9) makes the window and every command "
           "exit 2 at start",
           "a bad value in the file is reported (one line on stderr, a banner in the window) and that setting "
           "falls back to its default; the rest of the file applies",
           f"`run` exit {result.rc}, window exit {window.returncode}; 2 warning lines, e.g. "
           f"`{warnings[0].replace(str(app.config_dir), 'CONFIG_DIR')}`; the file's data_dir used")


# ------------------------------------------------------------------------------------------ signals
async def _never_answers(ws) -> None:
    """Hears the turn, says what it heard (the user's words), then never replies."""
    from desktop.live import protocol as p

    await accept_setup(ws)
    await until_turn_sent(ws)
    await ws.send(p.server_content(input_text=USER_WORDS, input_finished=True).encode())
    await drain(ws)


def _history(data_dir: Path) -> tuple[list[dict], list[dict]]:
    conn = sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        turns = [dict(r) for r in conn.execute("SELECT * FROM turns ORDER BY id")]
        sessions = [dict(r) for r in conn.execute("SELECT * FROM sessions")]
    finally:
        conn.close()
    return turns, sessions


SIGNAL_CASES = [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]


@pytest.mark.parametrize("signum, code", SIGNAL_CASES, ids=[s.name for s, _ in SIGNAL_CASES])
def test_a_signal_mid_turn_saves_the_turn_and_closes_the_session(app, peers, threat, signum, code):
    peer = peers.call(LivePeer(_never_answers).start())
    sent: list[float] = []

    def watch(out: str, proc) -> None:
        if not sent and f'"text": "{USER_WORDS}"' in out:  # the app has the user's words: mid-turn
            sent.append(time.perf_counter())
            proc.send_signal(signum)

    result = app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--live-url", peer.url,
                     env=app.env(GEMINI_API_KEY=FAKE_KEY), watch=watch, timeout=60)
    peers.call(peer.stop())
    assert sent, result.stdout[-2000:]
    assert result.rc == code, (result.rc, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.error_lines == [f"gemini-codegen: stopped by {signum.name}"], result.stderr[-3000:]
    turns, sessions = _history(app.data_dir)
    assert [(t["user_text"], t["interrupted"]) for t in turns] == [(USER_WORDS, 1)]
    assert len(sessions) == 1 and sessions[0]["ended_at"] is not None
    threat("local data", "the turn in flight (the user's words) and the session's record",
           f"{signum.name} during a turn (Ctrl+C, kill, the terminal closing) loses the turn and leaves the "
           "session open",
           "the command's loop takes the signal: its task is cancelled, the session closes as on any exit, the "
           "turn in flight is saved marked interrupted",
           f"`run` exit {result.rc}, stderr `{result.error_lines[0]}`, no traceback; history: 1 turn with the "
           "user's words, interrupted=1; session ended_at set")


WINDOW = """
import sys
import ui.app

opened = ui.app.open_window


def open_and_type(*args, **kwargs):  # the user types a request once the session is up
    app, window = opened(*args, **kwargs)

    def type_request(_offline):
        window.text.setText(sys.argv[1])
        window.send_text()

    window.bridge.session_started.connect(type_request)
    return app, window


ui.app.open_window = open_and_type
from desktop.launch import main

raise SystemExit(main(sys.argv[2:]))
"""


def _never_answers_typed(typed: threading.Event):
    async def script(ws) -> None:
        """Reads the typed request and never replies."""
        await accept_setup(ws)
        while True:
            msg = json.loads(await ws.recv())
            if "clientContent" in msg or "text" in msg.get("realtimeInput", {}):
                typed.set()
                break
        await drain(ws)

    return script


@pytest.mark.parametrize("signum, code", SIGNAL_CASES, ids=[s.name for s, _ in SIGNAL_CASES])
def test_a_signal_to_the_window_mid_turn_closes_it_as_quit_does(app, peers, threat, signum, code):
    typed = threading.Event()
    peer = peers.call(LivePeer(_never_answers_typed(typed)).start())
    env = app.env(GEMINI_API_KEY=FAKE_KEY, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-c", WINDOW, USER_WORDS, "--live-url", peer.url], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert typed.wait(60), "the typed request never reached the service"  # the turn is in flight
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        peers.call(peer.stop())
    assert proc.returncode == code, (proc.returncode, err[-3000:])
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    turns, sessions = _history(app.data_dir)
    assert [(t["user_text"], t["interrupted"]) for t in turns] == [(USER_WORDS, 1)]
    assert len(sessions) == 1 and sessions[0]["ended_at"] is not None
    threat("local data", "the turn in flight (the user's words) and the session's record",
           f"{signum.name} to the window during a turn: a KeyboardInterrupt traceback (SIGINT) and the window "
           "keeps running, or the process dies with the turn unsaved",
           "the signal wakes the Qt loop through set_wakeup_fd and a QSocketNotifier (nothing polls); the window "
           "closes through its Quit path, the turn in flight is saved marked interrupted",
           f"window exit {proc.returncode}, no traceback; history: 1 turn with the typed words, interrupted=1; "
           "session ended_at set")


# ------------------------------------------------------------------------------------------ cache ages
class Clocks:
    """A wall clock that can jump, and a monotonic one that only moves forward."""

    def __init__(self) -> None:
        self.wall_s = 1_700_000_000.0
        self.mono_s = 1000.0

    def wall(self) -> float:
        return self.wall_s

    def mono(self) -> float:
        return self.mono_s

    def advance(self, seconds: float) -> None:
        self.wall_s += seconds
        self.mono_s += seconds


async def test_a_clock_jump_cannot_extend_a_cached_run(tmp_path, threat):
    from desktop.codegen.api import DONE, RUNNING
    from desktop.codegen.client import CodegenClient
    from tests.standins import client_tls, codegen_emulator

    clocks = Clocks()
    two_days = 2 * 86_400.0
    async with codegen_emulator(token="tok", org_id=1, step_s=1000) as emu:
        first, second = emu.seed("fix the flaky login test"), emu.seed("add a unit test")
        store = Store.open(tmp_path / DB_NAME)
        store.api_cache.wall = clocks.wall
        try:
            def client() -> CodegenClient:
                return CodegenClient(emu.url, "tok", 1, backend=store.api_cache, clock=clocks.mono, wall=clocks.wall,
                                     ssl_context=client_tls())

            async with client() as running:
                clocks.wall_s += two_days  # the clock runs two days ahead...
                for run in (first, second):  # ...both runs are cached RUNNING, stamped two days ahead
                    assert (await running.get_run(run.id)).category == RUNNING
                store.flush()
                clocks.wall_s -= two_days  # ...and comes back
                emu.step_s = 0  # meanwhile the service finished both runs
                clocks.advance(5.0)  # later than the 3 s an active run is cached for
                in_process = (await running.get_run(first.id)).category
            async with client() as restarted:  # a new process: the saved entry was stamped two days ahead
                persisted = (await restarted.get_run(second.id)).category
            asked = emu.stats.by_route["get"]
            key = f"codegen:{emu.url}:1:run:{first.id}"  # and the store itself does not serve such a row
            store.flush()
            store.enqueue("UPDATE api_cache SET fetched_at = ? WHERE key = ?", [clocks.wall_s + two_days, key])
            store.flush()
            stamped_ahead = store.api_cache.load(key)
        finally:
            store.close()
    assert in_process == DONE and persisted == DONE and asked == 4
    assert stamped_ahead is None
    threat("local data", "the cached state of a run",
           "the clock runs 2 days ahead and comes back: a cached RUNNING is served for 48 h while the service "
           "says COMPLETE",
           "in-process cache ages also on the monotonic clock (a wall-clock jump cannot extend them); a saved "
           "entry stamped in the future is dropped and fetched again",
           "injected clocks (+2 days, cache two RUNNING runs, -2 days, +5 s): the same process asked again and got "
           "COMPLETE; a new process did not serve the future-stamped entry and got COMPLETE; the store does not "
           "return a row fetched 2 days ahead")
