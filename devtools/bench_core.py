"""What every bench section shares: a comparison row, the report, the fixtures, the median, and an emulator in a
child process.  A leaf: ``devtools.bench`` and its sections import it, it imports none of them."""

from __future__ import annotations

import contextlib
import functools
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop import __version__
from devtools.machine import machine_info

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


@dataclass
class Row:
    """One optimisation against its baseline (lower is better unless ``higher_is_better``)."""

    name: str
    unit: str
    baseline: float
    optimized: float
    baseline_label: str = "baseline"
    optimized_label: str = "optimized"
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float:
        if not self.optimized or not self.baseline:
            return 0.0
        return self.optimized / self.baseline if self.higher_is_better else self.baseline / self.optimized

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "baseline_label": self.baseline_label,
                "baseline": round(self.baseline, 3), "optimized_label": self.optimized_label,
                "optimized": round(self.optimized, 3), "ratio": round(self.ratio, 2), "note": self.note}


@dataclass
class Report:
    quick: bool
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {"version": __version__, "quick": self.quick, "machine": machine_info(),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started)),
                "seconds": round(time.time() - self.started, 1),
                "comparisons": [r.as_dict() for r in self.rows], "sections": self.sections}


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


# ---------------------------------------------------------------------------------------- servers
@contextlib.contextmanager
def emulator_process(*args: str) -> Any:
    """`gemini-codegen emulate ... --tls-cert --tls-key` in a child process with a fresh certificate; yields the
    URL it printed and a client context trusting that certificate; stopped by its pid."""
    from desktop.tls import client_ssl_context, make_self_signed_cert

    tmp = tempfile.TemporaryDirectory(prefix="gemini-codegen-bench-")
    cert, key = make_self_signed_cert(Path(tmp.name))
    proc = subprocess.Popen([sys.executable, "-m", "desktop", "emulate", *args, "--tls-cert", str(cert),
                             "--tls-key", str(key)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        url = None
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"emulator did not start: {err.strip()[-300:]}")
        yield url, client_ssl_context(cert)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        tmp.cleanup()


@functools.lru_cache(maxsize=1)
def fixture_turns() -> tuple[tuple[list[bytes], int], ...]:
    """The spoken fixtures and where the key is released in each, computed once (not on the loop per turn)."""
    from desktop.config import Settings
    from desktop.simulated_user import load_utterances

    names = ("create_pr", "status", "list_runs", "resume")
    return tuple(load_utterances([FIXTURES / f"{n}.wav" for n in names], Settings().tail_ms))


def bench_endpoints(url: str, tls: Any, key: str = "bench") -> Any:
    """The Live stand-in at ``url`` (trusted through ``tls``) as ``open_session``'s running endpoint; ``key``
    names the caller's connections in the stand-in's per-reply timings (``server_replies``)."""
    from desktop.live import protocol as p
    from desktop.session import Endpoints

    return Endpoints(p.live_url(url), key, True, tls)


async def server_replies(url: str, tls: Any, key: str) -> list[tuple[float, float]]:
    """The Live stand-in's own share of each reply to ``key``'s connections: (first audio sent at,
    ``time.monotonic()``; server ms), from ``desktop.live.emulator.REPLIES_PATH``."""
    import httpx

    from desktop.live.emulator import REPLIES_PATH

    base = url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    async with httpx.AsyncClient(verify=tls if tls is not None else True, trust_env=False, timeout=10) as http:
        response = await http.get(base + REPLIES_PATH, params={"key": key})
        response.raise_for_status()
        return [(float(at), float(ms)) for at, ms in response.json()]


def client_added_ms(turn: Any, replies: list[tuple[float, float]], start: float, end: float) -> float | None:
    """What the client added to ``turn`` (activityEnd -> first reply audio): the whole minus the stand-in's
    measured share of the reply it sent between ``start`` and ``end`` (``time.monotonic()``) and minus the tool
    calls' own time; None when either is unknown."""
    whole = turn.timings_ms.get("activity_end_to_first_audio", turn.timings_ms.get("speech_end_to_first_audio"))
    server = [ms for at, ms in replies if start <= at <= end]
    if whole is None or not server:
        return None
    return max(0.0, whole - server[-1] - turn.tool_ms)


def chain_profile(denoise_level: int, chunk_ms: int) -> Any:
    """A quality profile pinned to the chain ``desktop.input_chain`` builds from the default settings (webrtc
    noise suppression at ``denoise_level`` with AGC, 10 ms VAD frames, the meter at 30 Hz), ``chunk_ms`` of
    audio per Live message and no compression: what the end-to-end turns have always measured."""
    from desktop.quality import QualityProfile

    return QualityProfile("bench", "webrtc", denoise_level, True, chunk_ms, 10, 10, 30, 1, 60, True)
