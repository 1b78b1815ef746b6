"""`gemini-codegen selftest`: prove an installed app works, headless, in a few seconds.

Starts the bundled emulators on loopback, plays the bundled spoken request through the whole pipeline
(gate, denoise, VAD, Live client, tool call to the CodeGen API), confirms the run by a typed "yes", and
checks every step; then loads each native library of the audio stack and runs one frame through it
(``audio.native``: those a packaged app was built with must all work).  Prints one line per check and
exits non-zero when any fails; ``--json`` adds which build this is and each library's result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.assets import asset
from desktop.terminal_text import plain

if TYPE_CHECKING:
    from audio.native import Probe


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


async def _selftest() -> list[Check]:
    from audio.sources import WavSource
    from desktop.config import Settings
    from desktop.events import ErrorEvent, EventBus, ToolCallFinished, TurnFinished
    from desktop.session import open_session
    from desktop.simulated_user import speak_frames

    events: list[Any] = []
    bus = EventBus()
    bus.subscribe(events.append)
    checks: list[Check] = []
    frames = WavSource(asset("demo", "request.wav")).frames
    with tempfile.TemporaryDirectory(prefix="gemini-codegen-selftest-") as data_dir:
        settings = Settings(offline=True, data_dir=data_dir)
        t0 = time.perf_counter()
        async with open_session(settings, bus=bus, model_delay_s=0.05) as session:
            engine = session.engine
            checks.append(Check("session", True, f"connected to the local Live emulator in "
                                                 f"{(time.perf_counter() - t0) * 1e3:.0f} ms"))
            await speak_frames(engine, frames, realtime=False, feed=session.audio.feed)
            first = await engine.wait_turn(20)
            checks.append(Check("spoken turn", first is not None and "pull request" in (first.user_text or "").lower(),
                                f"heard: {first.user_text!r}" if first else "no reply within 20 s"))
            if first is not None:
                checks.append(Check("spoken reply", bool(first.assistant_text) and engine.metrics.stage(
                    "live.speech_end_to_first_audio").count > 0, f"said: {first.assistant_text!r}"))
                await engine.send_text("yes")
                await engine.wait_turn(20)
    calls = [e for e in events if isinstance(e, ToolCallFinished)]
    created = [c for c in calls if c.name == "create_agent_run" and c.error is None and c.result.get("run_id")]
    checks.append(Check("CodeGen tool", bool(created),
                        f"run {created[0].result['run_id']} created after confirmation" if created else
                        f"tool calls: {[(c.name, c.error) for c in calls]}"))
    turns = [e for e in events if isinstance(e, TurnFinished)]
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    checks.append(Check("no errors", not errors and len(turns) >= 2,
                        f"{len(turns)} turns" if not errors else "; ".join(e.message for e in errors)))
    return checks


def native_check(probes: list[Probe], bundled: tuple[str, ...]) -> Check:
    """Every required library works, and so does every optional one the build carries."""
    bad = [p for p in probes if p.ok is False or (p.ok is None and p.name in bundled)]
    if bad:
        return Check("native libs", False, "; ".join(f"{p.name}: {p.detail}" for p in bad))
    working = [p.name for p in probes if p.ok]
    missing = [p.name for p in probes if p.ok is None]
    return Check("native libs", True, ", ".join(working) + (f" (not installed: {', '.join(missing)})" if missing
                                                              else ""))


def cmd_selftest(args: argparse.Namespace) -> int:
    from audio.native import probe_all
    from desktop import buildinfo

    t0 = time.perf_counter()
    checks = asyncio.run(_selftest())
    build = buildinfo.current()
    probes = probe_all()
    checks.append(native_check(probes, build.components))
    elapsed = time.perf_counter() - t0
    ok = all(c.ok for c in checks)
    if args.json:
        print(json.dumps({"ok": ok, "seconds": round(elapsed, 2), "build": build.as_dict(),
                          "checks": [c.__dict__ for c in checks],
                          "native": [{"name": p.name, "ok": p.ok, "detail": p.detail} for p in probes]}))
    else:
        for c in checks:
            print(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<14} {plain(c.detail)}")
        print(f"selftest {'passed' if ok else 'FAILED'} in {elapsed:.1f} s")
    return 0 if ok else 1


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    s = sub.add_parser("selftest", parents=[common], help="check the app end to end against the bundled emulators")
    s.add_argument("--json", action="store_true", help="machine-readable result")
    s.set_defaults(handler=cmd_selftest)
