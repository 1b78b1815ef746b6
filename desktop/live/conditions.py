"""How the Live stand-in misbehaves over a long session, and the command-line flags that set it.

The real service ends every connection after some minutes with a ``goAway`` and then cuts it, answers
WebSocket pings late (8-30 s seen in the field) while it generates, refuses resumption handles after about
two hours, refuses a resume while the session's previous connection is still open, slows down for a moment
when it compresses the context, and can drift slower over a session.  ``emulate live`` and the load test
take the same flags (``add_flags`` / ``from_args``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class Conditions:
    """Everything off by default."""

    goaway_every_s: float | None = None  # each connection gets a goAway this long after its setup ...
    goaway_time_left_s: float = 5.0  # ... and is cut this long after the goAway (1011 "Deadline expired.")
    pong_delay_s: tuple[float, float] | None = None  # while a reply is generated, pongs wait (uniform min..max)
    handle_ttl_s: float | None = None  # a resumption handle older than this is refused
    compress_every_turns: int | None = None  # context compression: every N turns of a session ...
    compress_delay_s: float = 1.0  # ... the reply starts this much later
    drift: float = 0.0  # replies later by this fraction of the model delay (0.5: +50 %) ...
    drift_after_turns: int = 0  # ... once a session has had this many turns


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 86400 seconds")
    return value


def _delay_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        lo, hi = _seconds(low), _seconds(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds, or MIN-MAX seconds (e.g. 8-30)") from None
    if hi < lo:
        raise argparse.ArgumentTypeError(f"{text!r}: MIN is above MAX")
    return lo, hi


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of turns")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 100")
    return value


def add_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("service conditions over time (the Live stand-in)")
    g.add_argument("--goaway-every", type=_seconds, metavar="S", help="goAway this long after each connection's setup")
    g.add_argument("--goaway-time-left", type=_seconds, default=5.0, metavar="S",
                   help="the goAway's timeLeft: the connection is cut this long after it (default 5)")
    g.add_argument("--pong-delay", type=_delay_range, metavar="S[-S]",
                   help="answer pings this late while a reply is generated, e.g. 8-30")
    g.add_argument("--handle-ttl", type=_seconds, metavar="S", help="refuse resumption handles older than this")
    g.add_argument("--compress-every", type=_count, metavar="N",
                   help="context compression every N turns of a session (a latency spike)")
    g.add_argument("--compress-delay", type=_seconds, default=1.0, metavar="S", help="the spike (default 1 s)")
    g.add_argument("--drift", type=_fraction, default=0.0, metavar="F",
                   help="replies later by F x the model delay (0.5: +50 %%) ...")
    g.add_argument("--drift-after", type=int, default=0, metavar="N", help="... after a session's first N turns")


def from_args(args: argparse.Namespace) -> Conditions:
    return Conditions(goaway_every_s=args.goaway_every, goaway_time_left_s=args.goaway_time_left,
                      pong_delay_s=args.pong_delay, handle_ttl_s=args.handle_ttl,
                      compress_every_turns=args.compress_every, compress_delay_s=args.compress_delay,
                      drift=args.drift, drift_after_turns=args.drift_after)


def to_flags(c: Conditions) -> list[str]:
    """The flags that recreate ``c`` (for an emulator started as a child process)."""
    out: list[str] = []
    if c.goaway_every_s is not None:
        out += ["--goaway-every", f"{c.goaway_every_s:g}", "--goaway-time-left", f"{c.goaway_time_left_s:g}"]
    if c.pong_delay_s is not None:
        out += ["--pong-delay", f"{c.pong_delay_s[0]:g}-{c.pong_delay_s[1]:g}"]
    if c.handle_ttl_s is not None:
        out += ["--handle-ttl", f"{c.handle_ttl_s:g}"]
    if c.compress_every_turns is not None:
        out += ["--compress-every", str(c.compress_every_turns), "--compress-delay", f"{c.compress_delay_s:g}"]
    if c.drift:
        out += ["--drift", f"{c.drift:g}", "--drift-after", str(c.drift_after_turns)]
    return out
