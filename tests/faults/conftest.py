"""The fault suite's tools: the real command in a child process with its time, CPU and memory measured, the
peers' loop thread, a data dir with history in it, and the collector behind docs/reliability.md."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.faults.peers import LoopThread
from tests.faults.reliability import Row, write_reliability_doc
from tests.standins import ca_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE_EVERY_S = 0.02
FAKE_KEY = "AIzaFAKE-fault-suite-key-0123456789abcdef"
FAKE_TOKEN = "cg-FAKE-fault-suite-token-9876543210"


@dataclass
class AppRun:
    """One run of ``gemini-codegen`` in a child process and what it cost."""

    args: list[str]
    rc: int
    stdout: str
    stderr: str
    seconds: float
    cpu_s: float
    peak_rss_mb: float  # the kernel's high-water mark since exec (VmHWM), read at every sample
    sampled_rss_mb: list[float] = field(default_factory=list)  # RSS sampled every 20 ms while it ran

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def events(self) -> list[dict[str, Any]]:
        """``--json`` output: one object per line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def one_line_error(self) -> str:
        """The single line on stderr (no traceback, no second line), asserted."""
        lines = self.error_lines
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{self.stderr[-3000:]}"
        return lines[0]


def app_env(data_dir: Path, config_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "CODEGEN_API_TOKEN", "CODEGEN_ORG_ID", "GEMINI_LIVE_URL", "CODEGEN_API_URL",
                        "GEMINI_MODEL") and not k.startswith("GEMINI_CODEGEN_")}
    env.update(GEMINI_CODEGEN_DATA_DIR=str(data_dir), GEMINI_CODEGEN_CONFIG_DIR=str(config_dir),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_app(args: list[str], env: dict[str, str], *, timeout: float = 60.0,
            preexec: Callable[[], None] | None = None,
            watch: Callable[[str, psutil.Process], None] | None = None) -> AppRun:
    """``python -m desktop ARGS`` with its RSS sampled every 20 ms; killed (by its pid) after ``timeout``.
    ``watch(stdout_so_far, process)`` is called at every sample (to act on what the app said).  Output goes
    through pipes (a file-size limit on the child must not hit its stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "desktop", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT, preexec_fn=preexec)
    out, err = _Reader(proc.stdout), _Reader(proc.stderr)
    ps = psutil.Process(proc.pid)
    samples: list[float] = []
    peak = 0.0
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            break
        try:
            samples.append(ps.memory_info().rss / 2**20)
            peak = max(peak, _high_water_mb(proc.pid), samples[-1])
        except (psutil.Error, OSError):
            pass
        if watch is not None:
            watch(out.text(), ps)
        time.sleep(SAMPLE_EVERY_S)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return AppRun(args, proc.returncode, out.finish(), err.finish(), seconds, rusage.ru_utime + rusage.ru_stime,
                  peak, samples)


class _Reader:
    """Drains one pipe of the child on a thread (so a chatty child never blocks on a full pipe)."""

    def __init__(self, pipe: Any) -> None:
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: Any) -> None:
        for chunk in iter(lambda: pipe.read1(65536), b""):
            self._chunks.append(chunk)
        pipe.close()

    def text(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def finish(self) -> str:
        self._thread.join(10)
        return self.text()


def _high_water_mb(pid: int) -> float:
    """The process's peak RSS since its exec (Linux VmHWM; ru_maxrss would include the forking parent's)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class App:
    """The command with this test's private data dir, config dir and the stand-ins' CA."""

    data_dir: Path
    config_dir: Path
    ca: Path

    def env(self, **extra: str) -> dict[str, str]:
        return app_env(self.data_dir, self.config_dir, GEMINI_CODEGEN_CA_FILE=str(self.ca), **extra)

    def run(self, *args: str, env: dict[str, str] | None = None, **kw: Any) -> AppRun:
        return run_app(list(args), env or self.env(), **kw)

    def history(self) -> list[dict[str, Any]]:
        """The turns in the data dir's database, newest first (read directly, read-only: nothing lost?)."""
        import sqlite3

        from desktop.state.store import DB_NAME

        conn = sqlite3.connect(f"file:{self.data_dir / DB_NAME}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in conn.execute("SELECT * FROM turns ORDER BY id DESC")]
        finally:
            conn.close()


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(tmp_path / "data", tmp_path / "config", ca_file(tmp_path / "ca"))


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> Path:
    """A history database with three turns, made once (copied into tests that need history to keep)."""
    from desktop.state.store import DB_NAME, Store

    path = tmp_path_factory.mktemp("seeded") / DB_NAME
    with Store.open(path) as store:
        store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('seed', 1)")
        for n in range(1, 4):
            store.enqueue("INSERT INTO turns (session_id, turn_no, started_at, finished_at, user_text, "
                          "assistant_text, timings, interrupted) VALUES ('seed', ?, ?, ?, ?, ?, '{}', 0)",
                          [n, 1000.0 + n, 1001.0 + n, f"seeded question {n}", f"seeded answer {n}"])
    return path


@pytest.fixture
def history_kept(app: App, seeded_db: Path) -> list[str]:
    """``app``'s data dir starts with the seeded history; returns the seeded user texts."""
    import shutil

    app.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(seeded_db, app.data_dir / seeded_db.name)
    return [f"seeded question {n}" for n in range(1, 4)]


@pytest.fixture
def peers() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


def wav(name: str) -> str:
    return str(FIXTURES / name)


def limit_file_size(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child may not grow any file past ``max_bytes`` (raised later with prlimit)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, resource.RLIM_INFINITY))

    return apply


# ------------------------------------------------------------------------------------ the report
_rows: list[Row] = []


@pytest.fixture
def reliability() -> Callable[..., None]:
    """``reliability(item, fault, behaviour, run)``: one row of docs/reliability.md."""

    def record(item: int, fault: str, behaviour: str, run: AppRun | None = None, *, seconds: float | None = None,
               peak_rss_mb: float | None = None, cpu_s: float | None = None, rc: int | None = None) -> None:
        _rows.append(Row(item, fault, behaviour,
                         rc if rc is not None else (run.rc if run else None),
                         seconds if seconds is not None else (run.seconds if run else None),
                         cpu_s if cpu_s is not None else (run.cpu_s if run else None),
                         peak_rss_mb if peak_rss_mb is not None else (run.peak_rss_mb if run else None)))

    return record


def pytest_sessionfinish(session, exitstatus) -> None:
    target = os.environ.get("GEMINI_CODEGEN_RELIABILITY_DOC")
    if target and _rows:
        write_reliability_doc(_rows, Path(target))
