"""Push-to-talk gate: a rolling pre-roll before the key press and a short tail after the release.

Audio outside activityStart..activityEnd is discarded by Gemini, and people start talking a moment before
their key is fully down: the gate keeps the last ``preroll_ms`` of audio and hands it over right after the
press; after the release it keeps the turn open for ``tail_ms`` so the last word is not clipped.
Pure logic, no I/O: ``push(frame)`` says what to do with each frame.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from audio.frames import frames_for_ms


class GateState(Enum):
    IDLE = "idle"
    OPEN = "open"
    TAIL = "tail"


class PushToTalkGate:
    def __init__(self, preroll_ms: int = 300, tail_ms: int = 200):
        self.preroll: deque[bytes] = deque(maxlen=max(1, frames_for_ms(preroll_ms)) if preroll_ms else 1)
        self._keep_preroll = preroll_ms > 0
        self.tail_frames = frames_for_ms(tail_ms)
        self.state = GateState.IDLE
        self._tail_left = 0

    def press(self) -> list[bytes]:
        """Open the turn; returns the pre-roll frames to send right after activityStart."""
        frames = list(self.preroll) if self._keep_preroll and self.state is GateState.IDLE else []
        self.preroll.clear()
        self.state = GateState.OPEN
        return frames

    def release(self) -> bool:
        """Start the tail; returns True when the turn is already over (no tail configured)."""
        if self.state is not GateState.OPEN:
            return False
        if self.tail_frames == 0:
            self.state = GateState.IDLE
            return True
        self.state = GateState.TAIL
        self._tail_left = self.tail_frames
        return False

    def push(self, frame: bytes) -> tuple[bool, bool]:
        """Feed one frame. Returns (send_it, turn_ended_after_it)."""
        if self.state is GateState.IDLE:
            if self._keep_preroll:
                self.preroll.append(frame)
            return False, False
        if self.state is GateState.TAIL:
            self._tail_left -= 1
            if self._tail_left <= 0:
                self.state = GateState.IDLE
                return True, True
        return True, False
