"""A laptop that hears itself, for headless hands-free runs: the engine plays its replies into a
``SimulatedRoom`` and hears the room's microphone (the speaker's echo, and the person when they talk).

Time is the room's: each ``tick`` plays 10 ms and feeds the engine the microphone's 10 ms, as fast as the
machine goes.  The far end (the Live stand-in, like Gemini) streams a reply faster than real time, so a
real speaker never runs dry in the middle of one; while a reply is still arriving a tick therefore waits
(bounded) for its audio rather than play a gap no device would play.  Used by the hands-free tests and the
bench's barge-in section.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from desktop.engine import SessionEngine
from desktop.events import EngineState
from devtools.room import SimulatedRoom

AHEAD_MS = 20  # reply audio the speaker has queued before a tick plays, while the reply streams in
WAIT_S = 0.25  # at most this long (wall clock) for more of it; then the stream has paused (a tool call)


class SimulatedLaptop:
    def __init__(self, engine: SessionEngine, room: SimulatedRoom):
        self.engine = engine
        self.room = room
        self._paused_at: int | None = None  # the stream paused with this much received: play on

    @property
    def clock(self) -> float:
        return self.room.time_s

    async def tick(self, near: bytes | None = None) -> None:
        """10 ms: the speaker plays, the microphone hears the echo (plus ``near``, the person), the engine
        gets the frame (dated by the engine's own clock, as a capture callback's frame is)."""
        engine, room = self.engine, self.room
        if self._streaming() and room.received_bytes != self._paused_at:
            deadline = time.monotonic() + WAIT_S
            while self._streaming() and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            if self._streaming():
                self._paused_at = room.received_bytes
        engine.feed_frame(room.tick(near))
        await asyncio.sleep(0)  # let the engine's tasks run, as the loop does between capture callbacks

    def _streaming(self) -> bool:
        """A reply is arriving and the speaker is about to run out of it."""
        return (self.engine.reply_pending and self.engine.state is EngineState.SPEAKING
                and self.room.buffer.buffered_ms < AHEAD_MS)

    async def play_out(self, max_ticks: int = 2000) -> None:
        """Tick until the reply in progress (if any) has been received and played to the end."""
        for _ in range(max_ticks):
            await self.tick()
            if not self.engine.reply_pending and not self.room.busy:
                return

    async def talk(self, frames: Sequence[bytes], *, until: Callable[[], bool] | None = None,
                   max_ticks: int = 2000) -> None:
        """The person says ``frames`` (16 kHz PCM16, 10 ms each) into the room, then the room keeps going
        until ``until()`` holds (e.g. their turn was sent)."""
        for frame in frames:
            await self.tick(frame)
        for _ in range(max_ticks):
            if until is None or until():
                return
            await self.tick()
