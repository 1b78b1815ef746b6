"""Voice activity detection: webrtcvad frames wrapped in a hysteresis state machine.

webrtcvad (aggressiveness ``mode`` 0-3) classifies 10, 20 or 30 ms frames as voiced or not.  Single
frames flicker, so ``VoiceActivityDetector`` runs the machine QUIET -> STARTING -> SPEAKING -> STOPPING:

* QUIET -> STARTING on a voiced frame; STARTING -> SPEAKING once ``start_ms`` of the audio since then is
  at least ``start_ratio`` voiced (otherwise back to QUIET after ``start_ms``);
* SPEAKING -> STOPPING on an unvoiced frame; STOPPING -> QUIET once ``stop_ms`` pass without voice
  (a voiced frame returns to SPEAKING).

A frame counts as voiced when webrtcvad says so and it is louder than ``min_dbfs``; webrtcvad's first
``warmup_ms`` after creation are ignored (it reports speech on them even for digital silence).

Events carry the boundary's own time, not the moment it was confirmed: ``speech_start.at`` is the start of
the first voiced frame, ``speech_end.at`` the end of the last voiced one, on the caller's clock (the
``t`` passed to ``process``: the capture time of the end of the frame, perf_counter or seconds into a
file); ``confirmed_at`` is the ``t`` at which the machine decided.  Pure logic, no I/O.

Usage::

    vad = VoiceActivityDetector(mode=2)
    for i, frame in enumerate(frames):           # 10 ms PCM16 frames, 16 kHz mono
        ev = vad.process(frame, (i + 1) * 0.010)
        if ev: print(ev.kind, ev.at)
    for ev in vad.finish(): ...                  # closes an open segment at the end of a file
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
import webrtcvad

from audio.frames import FRAME_BYTES, FRAME_MS, RATE

SPEECH_START = "speech_start"
SPEECH_END = "speech_end"


class VadState(Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class VadEvent:
    kind: str  # SPEECH_START | SPEECH_END
    at: float  # when the speech really started / ended (caller's clock)
    confirmed_at: float  # when the detector decided (caller's clock)


@dataclass(frozen=True, slots=True)
class VadOptions:
    mode: int = 2
    frame_ms: int = 10  # webrtcvad analysis frame: 10, 20 or 30 ms
    start_ms: int = 200
    start_ratio: float = 0.7
    stop_ms: int = 250
    min_dbfs: float = -60.0  # frames quieter than this are never speech (webrtcvad calls hiss speech)
    warmup_ms: int = 100  # webrtcvad flags its first frames as speech while it adapts: ignore them

    def __post_init__(self) -> None:
        if not 0 <= self.mode <= 3:
            raise ValueError(f"VAD mode must be 0-3, got {self.mode}")
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"VAD frame must be 10, 20 or 30 ms, got {self.frame_ms}")
        if self.start_ms < self.frame_ms or self.stop_ms < self.frame_ms:
            raise ValueError("start_ms and stop_ms must be at least one VAD frame")


class VoiceActivityDetector:
    def __init__(self, options: VadOptions | None = None, *, mode: int | None = None):
        opts = options or VadOptions()
        if mode is not None:
            opts = replace(opts, mode=mode)
        self.options = opts
        self._vad = webrtcvad.Vad(opts.mode)
        self._group = opts.frame_ms // FRAME_MS
        self._frame_s = opts.frame_ms / 1000
        self._start_n = -(-opts.start_ms // opts.frame_ms)
        self._stop_n = -(-opts.stop_ms // opts.frame_ms)
        self._buf = bytearray()
        self.state = VadState.QUIET
        self._seen = 0  # analysis frames since STARTING / STOPPING began
        self._voiced = 0
        self._onset = 0.0
        self._last_voiced_end: float | None = None
        self._unvoiced_since: int | None = None  # analysis frames since the last voiced one (None: no voice yet)
        self._last_t = 0.0
        self._warmup_left = -(-opts.warmup_ms // opts.frame_ms)
        # mean square of a frame at min_dbfs, in sample units squared
        self._min_power = (32768.0 * 10 ** (opts.min_dbfs / 20)) ** 2

    @property
    def speaking(self) -> bool:
        """True while a confirmed speech segment is open (SPEAKING or STOPPING)."""
        return self.state in (VadState.SPEAKING, VadState.STOPPING)

    @property
    def trailing_silence_s(self) -> float:
        """Audio (seconds) processed since the last voiced frame (``inf`` before any voice), counted in
        frames, so it holds whatever pace the frames come at.  The push-to-talk gate reads it at the key
        release: a person who stopped talking a moment ago is done, one still mid-word is not."""
        if self._unvoiced_since is None:
            return float("inf")
        return self._unvoiced_since * self._frame_s

    def reset(self) -> None:
        self._buf.clear()
        self.state = VadState.QUIET
        self._seen = self._voiced = 0

    def process(self, frame: bytes, t: float) -> VadEvent | None:
        """Feed one 10 ms frame whose last sample was captured at ``t``; returns an event or None."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"expected a {FRAME_MS} ms frame of {FRAME_BYTES} bytes, got {len(frame)}")
        self._last_t = t
        if self._group > 1:
            self._buf += frame
            if len(self._buf) < FRAME_BYTES * self._group:
                return None
            frame = bytes(self._buf)
            self._buf.clear()
        voiced = self._vad.is_speech(frame, RATE)
        if self._warmup_left > 0:
            self._warmup_left -= 1
            voiced = False
        elif voiced:
            x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
            voiced = float(np.dot(x, x)) >= self._min_power * x.size
        if voiced:
            self._unvoiced_since = 0
        elif self._unvoiced_since is not None:
            self._unvoiced_since += 1
        return self._step(voiced, t)

    def _step(self, voiced: bool, t: float) -> VadEvent | None:
        state = self.state
        if state is VadState.QUIET:
            if voiced:
                self.state, self._seen, self._voiced = VadState.STARTING, 1, 1
                self._onset, self._last_voiced_end = t - self._frame_s, t
                return self._maybe_start(t)
            return None
        if state is VadState.STARTING:
            self._seen += 1
            if voiced:
                self._voiced += 1
                self._last_voiced_end = t
            return self._maybe_start(t)
        if state is VadState.SPEAKING:
            if voiced:
                self._last_voiced_end = t
            else:
                self.state, self._seen = VadState.STOPPING, 1
                return self._maybe_stop(t)
            return None
        # STOPPING
        if voiced:
            self.state = VadState.SPEAKING
            self._last_voiced_end = t
            return None
        self._seen += 1
        return self._maybe_stop(t)

    def _maybe_start(self, t: float) -> VadEvent | None:
        if self._seen < self._start_n:
            return None
        if self._voiced >= self.options.start_ratio * self._seen:
            self.state = VadState.SPEAKING
            return VadEvent(SPEECH_START, self._onset, t)
        self.state = VadState.QUIET  # too sparse: a click or a burst of noise
        return None

    def _maybe_stop(self, t: float) -> VadEvent | None:
        if self._seen < self._stop_n:
            return None
        self.state = VadState.QUIET
        return VadEvent(SPEECH_END, self._voiced_end(), t)

    def _voiced_end(self) -> float:
        return self._last_t if self._last_voiced_end is None else self._last_voiced_end

    def finish(self) -> list[VadEvent]:
        """End of input: closes a confirmed segment that is still open."""
        if self.speaking:
            self.state = VadState.QUIET
            return [VadEvent(SPEECH_END, self._voiced_end(), self._last_t)]
        self.reset()
        return []


def segments(events: list[VadEvent]) -> list[tuple[float, float]]:
    """Pair speech_start / speech_end events into (start, end) intervals."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for ev in events:
        if ev.kind == SPEECH_START:
            start = ev.at
        elif ev.kind == SPEECH_END and start is not None:
            out.append((start, ev.at))
            start = None
    return out
