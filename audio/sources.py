"""File and synthetic audio sources, so the whole engine can run headless.

A source yields the pipeline's 10 ms frames (16 kHz mono PCM16) either as fast as possible or paced to
real time against absolute deadlines (no drift from sleep jitter).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np

from audio.frames import FRAME_BYTES, FRAME_MS, RATE
from audio.wavfile import read_wav_file


def read_wav(path: str | Path) -> bytes:
    """Read a PCM WAV (8/16/24/32-bit or float, any rate and channels) as 16 kHz mono PCM16, mixing down
    and resampling with soxr when needed."""
    audio = read_wav_file(path)
    samples = audio.samples
    if audio.channels > 1:
        samples = samples.mean(axis=1).astype(np.int16)
    else:
        samples = samples[:, 0]
    if audio.rate != RATE:
        import soxr

        samples = soxr.resample(samples, audio.rate, RATE, quality="HQ").astype(np.int16)
    return samples.astype("<i2").tobytes()


def split_frames(pcm: bytes) -> list[bytes]:
    """10 ms frames; a short last frame is padded with silence."""
    frames = [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1] + b"\0" * (FRAME_BYTES - len(frames[-1]))
    return frames


def silence(ms: int) -> list[bytes]:
    return [b"\0" * FRAME_BYTES] * (ms // FRAME_MS)


def tone(ms: int, freq: float = 440.0, amplitude: int = 3000) -> list[bytes]:
    t = np.arange(ms * RATE // 1000) / RATE
    pcm = (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()
    return split_frames(pcm)


class WavSource:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.frames = split_frames(read_wav(path))

    @property
    def seconds(self) -> float:
        return len(self.frames) * FRAME_MS / 1000

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.frames)


async def paced(frames: list[bytes], realtime: bool = True, start: float | None = None, block: int = 1
                ) -> AsyncIterator[tuple[bytes, float]]:
    """Yield (frame, capture_time) at real-time pace (or at once), capture_time on perf_counter.
    ``block`` frames arrive together, as from a capture callback of ``block`` x 10 ms."""
    t0 = time.perf_counter() if start is None else start
    for i, frame in enumerate(frames):
        due = t0 + (i + 1) * FRAME_MS / 1000  # a frame exists once its last sample was captured
        if realtime:
            if i % block == 0:
                delay = t0 + (i + block) * FRAME_MS / 1000 - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield frame, min(due, time.perf_counter())
        else:
            if i % 50 == 49:
                await asyncio.sleep(0)
            yield frame, time.perf_counter()
