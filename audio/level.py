"""Level meter: RMS and peak in dBFS per 10 ms frame, decimated for the UI.

``frame_level(frame)`` measures one PCM16 frame.  ``LevelMeter.push(frame)`` returns a ``Level`` at most
``max_hz`` times a second of audio (default 30; with 10 ms frames that is one report every 4 frames, 25/s):
the RMS over the frames since the last report and their highest peak, so a short click is never lost
between two UI updates.  Pure numpy, no I/O; ``desktop.engine`` turns a ``Level`` into an ``AudioLevel`` event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audio.frames import FRAME_MS

FULL_SCALE = 32768.0
FLOOR_DBFS = -96.0  # what digital silence reads as (16-bit range)


def to_dbfs(amplitude: float) -> float:
    """Amplitude in sample units -> dBFS, floored at -96."""
    if amplitude <= 0:
        return FLOOR_DBFS
    return max(FLOOR_DBFS, 20.0 * math.log10(amplitude / FULL_SCALE))


def frame_level(frame: bytes) -> tuple[float, float]:
    """(rms_dbfs, peak_dbfs) of one PCM16 frame."""
    x = np.frombuffer(frame, dtype="<i2")
    if not x.size:
        return FLOOR_DBFS, FLOOR_DBFS
    xf = x.astype(np.float32)
    peak = max(int(x.max()), -int(x.min()))
    return to_dbfs(math.sqrt(float(xf @ xf) / x.size)), to_dbfs(peak)


@dataclass(frozen=True, slots=True)
class Level:
    rms_dbfs: float
    peak_dbfs: float


class LevelMeter:
    __slots__ = ("every", "_n", "_pending", "last")

    def __init__(self, max_hz: float = 30.0):
        if max_hz <= 0:
            raise ValueError(f"max_hz must be positive, got {max_hz}")
        self.every = max(1, math.ceil(1000.0 / (FRAME_MS * max_hz)))
        self._n = 0
        self._pending = bytearray()  # the frames since the last report, measured together (cheaper)
        self.last: Level | None = None

    def push(self, frame: bytes) -> Level | None:
        self._pending += frame
        self._n += 1
        if self._n < self.every:
            return None
        self.last = Level(*frame_level(bytes(self._pending)))
        self._n = 0
        self._pending.clear()
        return self.last


@dataclass(frozen=True, slots=True)
class MicAssessment:
    """What ``gemini-codegen audio check`` reports about a few seconds of microphone audio."""

    seconds: float
    speech_dbfs: float  # loud frames (95th percentile of frame RMS)
    noise_floor_dbfs: float  # quiet frames (10th percentile)
    peak_dbfs: float
    snr_db: float
    advice: list[str]


def assess_recording(frames: list[bytes]) -> MicAssessment:
    if not frames:
        raise ValueError("no audio was recorded")
    levels = np.array([frame_level(f) for f in frames])
    rms, peaks = levels[:, 0], levels[:, 1]
    speech, floor = float(np.percentile(rms, 95)), float(np.percentile(rms, 10))
    peak = float(peaks.max())
    snr = speech - floor
    advice = []
    if peak >= -1.0:
        advice.append("clipping: lower the input gain")
    if speech < -40.0:
        advice.append("too quiet: speak closer to the microphone or raise the input gain")
    if floor > -55.0 and snr < 20.0:
        advice.append("noisy room: enable noise suppression (--denoise webrtc) or use a headset")
    if snr < 10.0 and speech >= -40.0:
        advice.append("speech barely stands out from the background: did you speak during the check?")
    if not advice:
        advice.append("good: level and background noise are fine")
    return MicAssessment(len(frames) * FRAME_MS / 1000, round(speech, 1), round(floor, 1), round(peak, 1),
                         round(snr, 1), advice)
