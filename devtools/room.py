"""A simulated laptop: the replies the speaker plays come back into the microphone through an echo path.

``SimulatedRoom`` is a player for the engine (the ``Player`` protocol over a jitter buffer, with the far-end
``reference`` the echo canceller reads) whose device is driven by the caller:
``tick(near)`` plays 10 ms (what a device callback would take), and returns the microphone frame for the
same 10 ms: the echo of everything played so far through ``EchoPath`` plus ``near`` (the person talking,
16 kHz PCM16, or None) plus a low noise floor.  Nothing runs by itself, so a test or the bench decides the
pace; ``time_s`` is the room's own clock (10 ms a tick) and ``flush_times`` says when playback was flushed.  Used to show hands-free and voice barge-in working through laptop speakers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import soxr

from audio.echo import FarEndReference
from audio.echo_path import EchoPath
from audio.frames import FRAME_SAMPLES, RATE
from audio.playback import OUTPUT_RATE, JitterBuffer

BLOCK_BYTES = OUTPUT_RATE // 100 * 2  # 10 ms at 24 kHz


class SimulatedRoom:
    def __init__(self, path: EchoPath | None = None, *, jitter_ms: int = 60, noise_dbfs: float = -70.0,
                 seed: int = 0):
        self.path = path or EchoPath()
        self.buffer = JitterBuffer(OUTPUT_RATE, jitter_ms)
        self.reference = FarEndReference(OUTPUT_RATE)
        self.on_first_sample: Callable[[float], None] | None = None
        self._echo = self.path.stream(RATE)
        self._down = soxr.ResampleStream(OUTPUT_RATE, RATE, 1, dtype="float32", quality="HQ")
        self._pending = np.zeros(0, dtype=np.float64)
        self._rng = np.random.default_rng(seed)
        self._noise = 32768 * 10 ** (noise_dbfs / 20)
        self.ticks = 0  # 10 ms blocks played: the room's clock
        self.received_bytes = 0  # reply audio handed to the player
        self.flush_times: list[float] = []  # when (room clock, s) playback was flushed
        self.played_samples = 0  # reply samples (not silence) handed to the "device"

    @property
    def time_s(self) -> float:
        return self.ticks * 0.010

    @property
    def flushes(self) -> int:
        return len(self.flush_times)

    # ------------------------------------------------------------------ Player protocol
    def write(self, pcm: bytes) -> None:
        self.received_bytes += len(pcm)
        self.buffer.write(pcm)

    def flush(self) -> None:
        self.flush_times.append(self.time_s)
        self.buffer.flush()

    def end_of_turn(self) -> None:
        self.buffer.end_of_turn()

    def set_jitter_ms(self, jitter_ms: int) -> None:
        self.buffer.set_target_ms(jitter_ms)

    def prepare(self) -> None:
        """The room's device always runs (the caller ticks it)."""

    def close(self) -> None:
        """Nothing to release: the room has no device."""

    @property
    def busy(self) -> bool:
        return self.buffer.buffered_ms > 0

    # ------------------------------------------------------------------ the device and the microphone
    def tick(self, near: bytes | None = None) -> bytes:
        """Play 10 ms and return what the microphone hears in those 10 ms."""
        self.ticks += 1
        data = self.buffer.read(BLOCK_BYTES)
        self.reference.push(data)
        first = self.buffer.first_played
        if first is not None:
            self.buffer.first_played = None
            if self.on_first_sample is not None:
                self.on_first_sample(time.perf_counter())
        played = np.frombuffer(data, dtype="<i2")
        self.played_samples += int(np.count_nonzero(played))
        self._pending = np.concatenate([self._pending, self._down.resample_chunk(played.astype(np.float32))])
        if len(self._pending) < FRAME_SAMPLES:  # the resampler's start-up delay
            self._pending = np.concatenate([np.zeros(FRAME_SAMPLES - len(self._pending)), self._pending])
        x, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
        mic = self._echo.push(x) + self._rng.standard_normal(FRAME_SAMPLES) * self._noise
        if near is not None:
            mic = mic + np.frombuffer(near, dtype="<i2")
        return np.clip(np.round(mic), -32768, 32767).astype("<i2").tobytes()
