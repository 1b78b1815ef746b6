"""Push-to-talk gate: a rolling pre-roll before the key press, and a turn that ends when the person is done.

Audio outside activityStart..activityEnd is discarded by Gemini, and people start talking a moment before
their key is fully down: the gate keeps the last ``preroll_ms`` of audio and hands it over right after the
press.  At the release the gate asks how long the person has been silent (the VAD's trailing silence):

* silent for at least ``settle_ms`` already: the turn ends at once (nothing is left to say, and every
  frame up to the release has been sent);
* still mid-word: the turn stays open until the VAD has heard ``settle_ms`` of silence after the last
  word, and never longer than ``tail_ms`` (a word that goes on past the tail is cut there);
* no VAD (``trailing_silence_s=None``): a fixed ``tail_ms`` after the release.

Pure logic, no I/O: ``push(frame, trailing_silence_s)`` says what to do with each frame.
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
    def __init__(self, preroll_ms: int = 300, tail_ms: int = 200, settle_ms: int = 60):
        self.preroll: deque[bytes] = deque(maxlen=max(1, frames_for_ms(preroll_ms)) if preroll_ms else 1)
        self._keep_preroll = preroll_ms > 0
        self.tail_frames = frames_for_ms(tail_ms)
        self.settle_s = settle_ms / 1000
        self.state = GateState.IDLE
        self._tail_left = 0

    def press(self) -> list[bytes]:
        """Open the turn; returns the pre-roll frames to send right after activityStart."""
        frames = list(self.preroll) if self._keep_preroll and self.state is GateState.IDLE else []
        self.preroll.clear()
        self.state = GateState.OPEN
        return frames

    def _settled(self, trailing_silence_s: float | None) -> bool:
        return trailing_silence_s is not None and trailing_silence_s >= self.settle_s

    def release(self, trailing_silence_s: float | None = None) -> bool:
        """The key came up.  Returns True when the turn is over now (the person already stopped talking,
        or no tail is configured); otherwise the tail runs in ``push``."""
        if self.state is not GateState.OPEN:
            return False
        if self.tail_frames == 0 or self._settled(trailing_silence_s):
            self.state = GateState.IDLE
            return True
        self.state = GateState.TAIL
        self._tail_left = self.tail_frames
        return False

    def push(self, frame: bytes, trailing_silence_s: float | None = None) -> tuple[bool, bool]:
        """Feed one frame (with the VAD's trailing silence after it, when there is a VAD).
        Returns (send_it, turn_ended_after_it)."""
        if self.state is GateState.IDLE:
            if self._keep_preroll:
                self.preroll.append(frame)
            return False, False
        if self.state is GateState.TAIL:
            self._tail_left -= 1
            if self._tail_left <= 0 or self._settled(trailing_silence_s):
                self.state = GateState.IDLE
                return True, True
        return True, False
