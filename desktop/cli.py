"""The `gemini-codegen` command line.

Without a subcommand it opens the window.  Subcommands run headless and never import Qt.  Each feature
area registers its own subcommands (``register_cli``) from its own module; this file holds the shared
flags, `run`, `emulate live` and the error handling that turns known failures into one clear line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from audio import cli as audio_cli
from desktop import selftest, updates, voice_latency
from desktop.codegen import cli as codegen_cli
from desktop.commands import (
    EXIT_USAGE,
    UserError,
    add_tls_flags,
    common_parser,
    serve_emulator,
    settings_from_args,
    tls_from_args,
    window_flags,
)
from desktop.cost_meter import cost_line
from desktop.events import (
    AudioLevel,
    CostUpdate,
    ErrorEvent,
    EventBus,
    MetricsSnapshot,
    ProfileChanged,
    TurnFinished,
)
from desktop.live import conditions
from desktop.live.usage import Usage
from desktop.problems import BAD_INPUT, describe, one_line
from desktop.redaction import SECRETS, install_log_redaction
from desktop.run_watch import RunWatch
from desktop.shutdown import SIGNALS, exit_code, run_until_signal, signal_name
from desktop.state import cli as state_cli
from desktop.terminal_text import PlainFormatter, plain

if TYPE_CHECKING:
    from desktop.config import Settings

# Feature modules that add subcommands: each has ``register_cli(sub, common, groups)``.  The developer
# tools (bench, load test) add theirs when the ``devtools`` package is installed (a source checkout).
FEATURE_CLIS = (state_cli, audio_cli, selftest, codegen_cli, updates)
SIGNAL_EXIT_CODES = frozenset(exit_code(s) for s in SIGNALS)


def build_parser() -> argparse.ArgumentParser:
    common = common_parser(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="gemini-codegen", parents=[common_parser()],
        description="Push-to-talk voice assistant for developers: Gemini Live + CodeGen agent runs. "
                    "Without a command, opens the window.")
    parser.add_argument("--version", action=_Version, help="name the build (version, commit, platform) and exit")
    window_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="play a WAV file as one push-to-talk turn, headless")
    run.add_argument("--wav", required=True, help="16-bit PCM WAV (any rate/channels; resampled to 16 kHz mono)")
    run.add_argument("--json", action="store_true", help="one JSON object per line")
    run.add_argument("--fast", action="store_true", help="send the audio as fast as possible (not real time)")
    run.add_argument("--press-at", type=float, metavar="S",
                     help="seconds into the WAV when the key goes down (default: after the pre-roll)")
    run.add_argument("--release-at", type=float, metavar="S",
                     help="seconds into the WAV when the key comes up (default: 150 ms after the last word)")
    run.add_argument("--then", action="append", default=[], metavar="TEXT",
                     help="a typed follow-up turn after the spoken one (repeatable), e.g. --then yes")
    run.add_argument("--denoise", choices=["auto", "webrtc", "rnnoise", "off"],
                     help="noise suppression before the VAD and Gemini (default auto: the quality profile's)")
    run.add_argument("--vad-mode", type=int, choices=range(4), metavar="{0-3}",
                     help="local VAD first-stage aggressiveness, 0 (least) to 3 (most); default 3")
    run.add_argument("--metrics-port", type=int, metavar="PORT",
                     help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics (0 = any free port)")
    run.add_argument("--metrics-jsonl", metavar="FILE", help="append a metrics snapshot (JSON) every second to FILE")
    run.add_argument("--follow", action="store_true",
                     help="after the turns, follow the CodeGen run they started until it ends (at most 120 s)")
    run.add_argument("--power-source", metavar="SOURCE",
                     help="battery reading: auto (default) or fake:PERCENT,PLUGGED, e.g. fake:20,false")
    run.add_argument("--quality-profile", choices=["auto", "performance", "balanced", "saver"],
                     help="quality profile (default auto: chosen from the battery)")
    run.set_defaults(handler=cmd_run)

    emulate = sub.add_parser("emulate", help="run a local stand-in server on loopback")
    emulate_sub = emulate.add_subparsers(dest="service", metavar="SERVICE", required=True)
    live = emulate_sub.add_parser("live", help="local Gemini Live server")
    live.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    live.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"])
    live.add_argument("--model-delay", type=float, default=0.4, help="seconds before the first reply (default 0.4)")
    live.add_argument("--speedup", type=float, default=4.0, help="how much faster than real time replies stream")
    live.add_argument("--api-key", help="accept only this key (default: any non-empty key)")
    add_tls_flags(live, "wss://")
    live.add_argument("--fault", action="append", default=[], help="fault for the first connection (repeatable)")
    conditions.add_flags(live)
    live.add_argument("--no-deflate", action="store_true",
                      help="decline permessage-deflate (as a server without compression does)")
    live.set_defaults(handler=cmd_emulate_live)

    groups = {"emulate": emulate_sub}
    for feature in FEATURE_CLIS:
        feature.register_cli(sub, common, groups)
    try:
        from devtools import cli as devtools_cli
    except ImportError:  # an installed app: the developer tools are not part of it
        pass
    else:
        devtools_cli.register_cli(sub, common, groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # what is still buffered goes now, while a closed pipe can still end us quietly
        return code
    except BrokenPipeError:  # the reader went away (`db stats | head`): stop quietly, as other tools do
        return quiet_broken_pipe()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_lines = logging.StreamHandler()  # on stderr, without control sequences (a log may quote a server)
    log_lines.setFormatter(PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(args, "log_level", None) or "WARNING", handlers=[log_lines])
    install_log_redaction()
    handler = getattr(args, "handler", None)
    try:
        if handler is None:
            return open_window(args)
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except UserError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except Exception as exc:  # known failure classes become one line; unknown ones keep their traceback
        problem = describe(exc)
        if problem is None:
            raise
        print_error(one_line(problem))
        return EXIT_USAGE if problem.kind in BAD_INPUT else 1


def print_error(message: str) -> None:
    """One line on stderr, without secrets (a server may have echoed the key into the message) and without
    control sequences (it may carry a service's words)."""
    print(f"gemini-codegen: error: {plain(SECRETS.log_text(message))}", file=sys.stderr, flush=True)


EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a tool ended by SIGPIPE


def quiet_broken_pipe() -> int:
    """Stdout's reader has gone: point stdout at /dev/null, so the interpreter's last flush of what is still
    buffered raises nothing (the signal itself stays ignored: sockets must keep failing with EPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (captured in-process): nothing to protect
        pass
    return EXIT_BROKEN_PIPE


def open_window(args: argparse.Namespace) -> int:
    """The desktop window (offline demo without credentials, or with --offline).  Qt is imported only here."""
    from ui.app import display_problem

    problem = display_problem()
    if problem:
        print(f"gemini-codegen: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from ui.app import main as window_main

    # the keyring is read behind the window's first frame, on the engine thread
    return window_main(settings_from_args(args, use_keyring=False), exit_after_ms=args.exit_after_ms)


class _Version(argparse.Action):
    """``--version``: which build this is (asks git only when run from a checkout, only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        from desktop import buildinfo

        print(buildinfo.current().line())
        parser.exit()


# ------------------------------------------------------------------------------------------- run
def _event_record(ev: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"event": type(ev).__name__}
    if dataclasses.is_dataclass(ev):
        for f in dataclasses.fields(ev):
            value = getattr(ev, f.name)
            rec[f.name] = value.as_dict() if isinstance(value, Usage) else dict(value) if hasattr(value, "items") \
                else value
    return rec


def _print_event(ev: Any, as_json: bool, t0: float) -> None:

    if isinstance(ev, AudioLevel | MetricsSnapshot):
        return
    rec = _event_record(ev)
    if as_json:
        rec["t_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
        print(json.dumps(rec, default=str), flush=True)
        return
    body = ", ".join(f"{k}={v!r}" for k, v in rec.items() if k != "event")
    print(plain(f"{time.perf_counter() - t0:7.3f}s  {rec['event']:<18} {body}"), flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from audio.sources import WavSource

    settings = settings_from_args(args)
    source = WavSource(args.wav)
    for flag in ("press_at", "release_at"):
        value = getattr(args, flag, None)
        if value is not None and not 0 <= value <= source.seconds:
            raise UserError(f"--{flag.replace('_', '-')} {value:g} is outside the WAV (0-{source.seconds:g} s)")
    if args.press_at is not None and args.release_at is not None and args.release_at < args.press_at:
        raise UserError("--release-at must not come before --press-at")
    from desktop.engine import typed_too_long

    for text in args.then:  # refused here, before anything is sent
        if (too_long := typed_too_long(text)) is not None:
            raise UserError(f"--then: {too_long}")
    rc = asyncio.run(run_until_signal(_run(settings, source.frames, args)))
    if rc in SIGNAL_EXIT_CODES:  # the session was closed and the turn in flight saved, marked interrupted
        print(f"gemini-codegen: stopped by {signal_name(rc - 128)}", file=sys.stderr, flush=True)
    return rc


async def _run(settings: Settings, frames: list[bytes], args: argparse.Namespace) -> int:
    from desktop.live.wire import network_line
    from desktop.metrics import Metrics
    from desktop.session import network_summary, open_session
    from desktop.simulated_user import speak_frames

    bus, metrics = EventBus(), Metrics()
    t0 = time.perf_counter()
    finished: list[TurnFinished] = []
    profile: list[ProfileChanged] = []
    costs: list[CostUpdate] = []
    bus.subscribe(lambda ev: _print_event(ev, args.json, t0))
    bus.on(TurnFinished, finished.append)
    bus.on(ProfileChanged, profile.append)
    bus.on(CostUpdate, costs.append)
    runs = RunWatch(bus)
    wait_s = settings.turn_timeout_s + 30
    async with open_session(settings, bus=bus, metrics=metrics) as session:
        engine = session.engine
        await speak_frames(engine, frames, realtime=not args.fast, press_at=_frame_at(args.press_at),
                           release_at=_frame_at(args.release_at), feed=session.audio.feed)
        turn = await engine.wait_turn(wait_s)
        for text in args.then:
            if turn is None or engine.failure is not None:
                break
            await engine.send_text(text)
            turn = await engine.wait_turn(wait_s)
        if getattr(args, "follow", False) and engine.failure is None:
            await runs.follow(args.json)
        network = network_summary(engine)
    failure = engine.failure
    failed = [f for f in finished if f.error]
    lost = session.store.lost if session.store is not None else 0  # history the store could not save
    ok = bool(finished) and turn is not None and not failed and failure is None and not lost
    problem = _run_problem(failure, failed, lost, ok, wait_s)
    snap = metrics.snapshot()
    timings = {name: {"count": s.count, "p50_ms": round(s.p50_ms, 2), "max_ms": round(s.max_ms, 2)}
               for name, s in snap.stages.items()}
    voice = voice_latency.of_turn(finished[0].timings_ms) if finished else {}
    summary = {"event": "Summary", "ok": ok, "turns": len(finished), "failed_turns": len(failed),
               "lost_history_items": lost, "error": problem, "voice_latency_ms": voice, "stages": timings,
               "counters": {k: v for k, v in snap.counters.items() if v},
               "profile": profile[-1].profile if profile else None,
               "profile_reason": profile[-1].reason if profile else None, "network": network,
               "usage": engine.usage.as_dict(), "estimated_cost": _estimated_cost(costs[-1] if costs else None,
                                                                                 settings)}
    if args.json:
        print(json.dumps(SECRETS(summary)), flush=True)
    else:
        _print_run_summary(summary, network_line(snap.counters), costs[-1] if costs else None)
    if problem:
        print_error(problem)
    return 0 if ok else 1


def _run_problem(failure: ErrorEvent | None, failed: list[TurnFinished], lost: int, ok: bool,
                 wait_s: float) -> str | None:
    """What went wrong in a ``run``, as one line (None: nothing)."""
    if failure is not None:  # the session ended: a wrong key, quota, a server that keeps dropping us
        return f"{failure.message} {failure.action}".strip()
    if failed:
        return failed[-1].error
    if lost:
        return f"{lost} history item(s) could not be saved (the log says why); the rest of the history was kept."
    return None if ok else f"no complete turn within {wait_s:g} s."


def _print_run_summary(summary: dict[str, Any], network_text: str | None, cost: CostUpdate | None) -> None:
    """A ``run``'s summary for a person: the headline latency and its split, the stages, the profile, the
    network and the estimated cost."""
    from desktop.live.wire import human_bytes

    voice, network = summary["voice_latency_ms"], summary["network"]
    if "speech_end_to_first_sound" in voice:
        print(f"\nend of speech -> first sound: {voice['speech_end_to_first_sound']:.0f} ms (key held / "
              f"VAD decision {voice['turn_end_wait']:.0f} + client before "
              f"{voice['client_before']:.0f} + service {voice['service']:.0f} + client after "
              f"{voice['client_after']:.0f}); key release -> activityEnd "
              f"{voice.get('release_to_activity_end', float('nan')):.1f} ms")
    print("\nper-stage timings (ms):")
    for name, s in summary["stages"].items():
        print(f"  {name:<34} n={s['count']:<4} p50={s['p50_ms']:>9.2f}  max={s['max_ms']:>9.2f}")
    if summary["profile"]:
        print(plain(f"quality profile: {summary['profile']} ({summary['profile_reason']})"))
    if network_text:
        rates = (network or {}).get("bytes_per_minute", {})
        named = (("up_per_minute_of_user_speech", "up per minute you talk"),
                 ("down_per_minute_of_reply_speech", "down per minute Gemini talks"),
                 ("both_per_minute_of_conversation", "both ways per minute of conversation"))
        print(network_text)
        if rates:
            print("  " + ", ".join(f"{human_bytes(rates[k])} {what}" for k, what in named if k in rates)
                  + " (TLS estimate)")
    if cost is not None:
        print(cost_line(cost))
    print("result:", "turn completed" if summary["ok"] else "failed")


def _estimated_cost(cost: CostUpdate | None, settings: Settings) -> dict[str, Any] | None:
    """The estimated price of this session's and today's tokens, and the price table it came from."""
    if cost is None:
        return None
    return {"session_usd": round(cost.session_usd, 6), "today_usd": round(cost.today_usd, 6),
            "today_tokens": cost.today.total_tokens, "day": cost.day, "prices_date": cost.prices_date,
            "prices_source": settings.prices.source}


def _frame_at(seconds: float | None) -> int | None:
    """Seconds into the WAV -> the index of the 10 ms frame that starts there."""
    return None if seconds is None else round(seconds * 100)


# ------------------------------------------------------------------------------------ emulate live
def cmd_emulate_live(args: argparse.Namespace) -> int:
    from desktop.live.emulator import LiveEmulator

    tls, notes = tls_from_args(args, "emulator")
    emu = LiveEmulator(args.host, args.port, model_delay_s=args.model_delay, speedup=args.speedup,
                       api_key=args.api_key, tls=tls, conditions=conditions.from_args(args),
                       deflate=not args.no_deflate)
    try:
        emu.inject(*args.fault)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return serve_emulator(emu, "Gemini Live", args.host, args.port, notes)
