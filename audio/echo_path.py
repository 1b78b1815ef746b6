"""A simulated acoustic echo path: what a laptop's microphone hears of its own speakers.

``EchoPath(delay_ms=40, reverb_ms=150, gain_db=-6)`` is a room impulse response: the direct sound after
``delay_ms`` (speaker -> microphone distance plus the devices' buffering), a few early reflections and a
diffuse tail that decays by 60 dB over ``reverb_ms`` (RT60), scaled so the echo's energy is ``gain_db``
relative to what the speaker played.  A small laptop speaker has no bass: the played signal is high-passed
at ``speaker_hz`` first.  Deterministic for a given ``seed``; numpy only.  Used by the echo-cancellation
tests, ``gemini-codegen audio aec --simulate`` and the bench.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.frames import FRAME_SAMPLES, RATE


@dataclass(frozen=True, slots=True)
class EchoPath:
    delay_ms: float = 40.0
    reverb_ms: float = 150.0
    gain_db: float = -6.0
    speaker_hz: float = 150.0
    seed: int = 0

    def impulse_response(self, rate: int = RATE) -> np.ndarray:
        """The speaker (high-passed at ``speaker_hz``) and the room, as one impulse response."""
        rng = np.random.default_rng(self.seed)
        d = int(self.delay_ms * rate / 1000)
        n_tail = max(1, int(self.reverb_ms * rate / 1000))
        h = np.zeros(d + n_tail + 1)
        h[d] = 1.0
        for _ in range(4):  # early reflections: desk, screen, walls
            k = d + int(rng.uniform(2, 15) * rate / 1000)
            h[k] += rng.uniform(-0.5, 0.5)
        t = np.arange(n_tail) / rate
        decay = np.exp(-6.91 * t / (self.reverb_ms / 1000))  # -60 dB at reverb_ms
        h[d + 1:d + 1 + n_tail] += 0.25 * rng.standard_normal(n_tail) * decay
        if self.speaker_hz > 0:
            h = _high_pass(h, self.speaker_hz, rate)
        scaled: np.ndarray = h * np.sqrt(10 ** (self.gain_db / 10) / float(np.sum(h * h)))
        return scaled

    def apply(self, played: np.ndarray, rate: int = RATE) -> np.ndarray:
        """The echo (float64, same length as ``played``) of a signal played by the speaker."""
        x = np.asarray(played, dtype=np.float64)
        h = self.impulse_response(rate)
        n = len(x) + len(h) - 1
        size = 1 << (n - 1).bit_length()
        return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:len(x)]

    def stream(self, rate: int = RATE) -> EchoStream:
        return EchoStream(self.impulse_response(rate))


class EchoStream:
    """The echo path frame by frame: ``push(played)`` returns the echo of everything played so far that
    reaches the microphone during this frame."""

    def __init__(self, h: np.ndarray):
        self.h = h
        self._history = np.zeros(len(h) - 1)

    def push(self, played: np.ndarray) -> np.ndarray:
        x = np.concatenate([self._history, np.asarray(played, dtype=np.float64)])
        y = np.convolve(x, self.h, mode="valid")
        self._history = x[len(x) - (len(self.h) - 1):]
        return y


def _high_pass(x: np.ndarray, hz: float, rate: int) -> np.ndarray:
    """Second-order Butterworth high-pass (bilinear transform), causal like a real speaker."""
    k = np.tan(np.pi * hz / rate)
    q = np.sqrt(2)
    norm = 1 / (1 + k * q + k * k)
    b0, b1, b2 = norm, -2 * norm, norm
    a1, a2 = 2 * (k * k - 1) * norm, (1 - k * q + k * k) * norm
    y = np.zeros_like(x)
    x1 = x2 = y1 = y2 = 0.0
    for i, v in enumerate(x.tolist()):
        out = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, v, y1, out
        y[i] = out
    return y


def mix(*signals: np.ndarray) -> bytes:
    """Sum float signals (padded to the longest, trimmed to whole 10 ms frames) into PCM16 bytes."""
    n = max(len(s) for s in signals)
    n -= n % FRAME_SAMPLES
    out = np.zeros(n)
    for s in signals:
        out[:min(n, len(s))] += s[:n]
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def laptop_microphone(played: bytes, noise_rms: float = 30.0, seed: int = 0) -> bytes:
    """What a laptop's microphone records while its speaker plays ``played`` (PCM16): the echo through the
    default ``EchoPath`` plus a faint room noise (``audio aec --simulate``)."""
    echo = EchoPath().apply(np.frombuffer(played, dtype="<i2"))
    return mix(echo, np.random.default_rng(seed).standard_normal(len(echo)) * noise_rms)
