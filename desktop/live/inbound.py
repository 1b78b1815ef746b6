"""Bounds on what a Live server can make the client do (sans-I/O: counts and verdicts, no sockets).

Real Gemini messages are small: an audio chunk is 20-100 ms of 24 kHz PCM (a few KB of base64), a transcript
a few words, a tool call a few hundred bytes.  So:

* one message may be at most ``MAX_FRAME_BYTES`` (websockets refuses a larger frame from its length header,
  before reading it, and closes with 1009; the client reports that as a protocol error);
* one reply may be at most ``MAX_MESSAGES_PER_REPLY`` messages (about seven minutes of speech at the rate
  Gemini sends it); a flood beyond that cuts the reply off and resets the connection, saying what came;
* malformed messages are reported once and then counted; ``MAX_MALFORMED`` of them reset the connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop.live import protocol as p
from desktop.live.errors import LiveError

MAX_FRAME_BYTES = 1 << 20
MAX_MESSAGES_PER_REPLY = 20_000
MAX_MALFORMED = 20
RETRY = "Try again; if it keeps happening, report it with the log."

_KIND_NAMES = {p.AudioChunk: "audio chunks", p.InputTranscript: "transcript pieces",
               p.OutputTranscript: "transcript pieces", p.Usage: "usage reports"}


def oversized_frame(limit: int = MAX_FRAME_BYTES) -> LiveError:
    return LiveError("protocol", f"Gemini sent a message larger than {limit / 2**20:g} MB, the most one Live "
                                 f"message may carry; the reply was cut off and the connection reset.", RETRY,
                     fatal=False, turn_failed=True)


@dataclass
class InboundGuard:
    max_messages: int = MAX_MESSAGES_PER_REPLY
    max_malformed: int = MAX_MALFORMED
    messages: int = 0
    malformed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def reply_done(self) -> None:
        """A turnComplete: the next reply has its own budget."""
        self.messages = 0
        self.kinds.clear()

    def received(self, events: Sequence[Any]) -> LiveError | None:
        """Count one well-formed message; an error once the reply is over its budget."""
        self.messages += 1
        for ev in events:
            self.kinds[_KIND_NAMES.get(type(ev), "other messages")] += 1
        if self.messages <= self.max_messages:
            return None
        what = ", ".join(f"{n} {kind}" for kind, n in self.kinds.most_common())
        return LiveError("protocol", f"Gemini sent more than {self.max_messages} messages for one reply ({what}); "
                                     f"the reply was cut off and the connection reset.", RETRY,
                         fatal=False, turn_failed=True)

    def rejected(self) -> LiveError | None:
        """Count one malformed message; an error once there were too many on this connection."""
        self.malformed += 1
        if self.malformed < self.max_malformed:
            return None
        return LiveError("protocol", f"Gemini sent {self.malformed} malformed messages; the reply was cut off "
                                     f"and the connection reset.", RETRY, fatal=False, turn_failed=True)
