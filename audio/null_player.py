"""Headless playback: a player whose "device" is a clock, so the headless engine measures what a person hears.

``NullPlayer`` implements the engine's ``Player`` protocol without a sound card.  It behaves like
``SpeakerPlayer``'s device side without running a timer: a device callback takes one ``block_ms`` block
every ``block_ms`` from the moment the player was created, and a reply starts playing once ``start_ms`` of
it is buffered (or the turn ended first).  The first sample of a reply is therefore handed to the device
at the first block boundary after that point; ``on_first_sample(played_at)`` (perf_counter seconds) is
called with that time as soon as it is known, on the caller's thread.  ``busy`` says whether the device
would still be playing what was written, at real-time pace.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from audio.echo import FarEndReference

OUTPUT_RATE = 24000


class NullPlayer:
    def __init__(self, *, block_ms: int = 10, start_ms: int = 20, rate: int = OUTPUT_RATE):
        self.block_s = block_ms / 1000
        self.rate = rate
        self.start_bytes = rate * start_ms // 1000 * 2
        self.bytes_written = 0
        self.flushes = 0
        self.on_first_sample: Callable[[float], None] | None = None
        self.reference: FarEndReference | None = None  # nothing is heard, so nothing echoes
        self._t0 = time.perf_counter()
        self._turn_bytes = 0
        self._started = False
        self._playing_until = 0.0  # perf_counter when the device would have played everything started

    @property
    def busy(self) -> bool:
        return time.perf_counter() < self._playing_until

    def write(self, pcm: bytes) -> None:
        self.bytes_written += len(pcm)
        if self._started:
            self._playing_until += len(pcm) / 2 / self.rate
            return
        self._turn_bytes += len(pcm)
        if self._turn_bytes >= self.start_bytes:
            self._start()

    def flush(self) -> None:
        self.flushes += 1
        self._turn_bytes, self._started = 0, False
        self._playing_until = 0.0

    def end_of_turn(self) -> None:
        if not self._started and self._turn_bytes:
            self._start()  # a reply shorter than start_ms plays once the turn is complete
        self._turn_bytes, self._started = 0, False

    def set_jitter_ms(self, jitter_ms: int) -> None:
        """The jitter target only matters after an underrun, which a clock never has."""

    def prepare(self) -> None:
        """A clock needs no stream started."""

    def close(self) -> None:
        pass

    def _start(self) -> None:
        self._started = True
        now = time.perf_counter()
        played = self._t0 + math.ceil((now - self._t0) / self.block_s) * self.block_s
        self._playing_until = max(self._playing_until, played) + self._turn_bytes / 2 / self.rate
        if self.on_first_sample is not None:
            self.on_first_sample(played)
