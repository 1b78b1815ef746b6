"""Microphone capture: a sounddevice raw input stream delivering exact 10 ms frames to the engine loop.

``MicCapture(loop, on_frame, on_error, device=None)`` opens an int16 mono PortAudio input stream with a
block size of 10 ms.  At 16 kHz each block is one pipeline frame; a device that cannot run at 16 kHz is
opened at its native rate and the blocks are resampled with soxr and re-cut into 160-sample frames on the
loop.  The PortAudio callback only copies the bytes and calls
``loop.call_soon_threadsafe(on_frame, frame, time.perf_counter())`` (the frame's capture time), or keeps
the block while held (below); it never blocks (beyond a lock held for a few list operations), logs or
allocates more than the copy.

Errors become one ``audio.devices.DeviceLost`` handed to ``on_error`` on the loop:
the stream stopping by itself (device unplugged), or no audio for ``stall_s`` while open (``start_timeout_s`` before the first frame: some backends,
e.g. ALSA's PulseAudio plugin, take a second or two to deliver the first block).  ``reopen()``
(or ``close()`` + ``open()``) starts again, e.g. when the user picks another device.  A missing PortAudio
library or no input device raises ``AudioUnavailable`` from ``open()`` with one line saying what to
install or connect.

For the window::

    cap = MicCapture(loop, engine.feed_frame, on_lost, device=settings.input_device)
    cap.open()        # on the engine loop thread; raises AudioUnavailable with a user-facing message
    ...
    cap.close()

Between turns nobody needs each frame: ``hold(keep_ms)`` makes the callback keep the newest blocks (about
``keep_ms``: the pre-roll) in a small ring under a lock and wake nobody (no ``call_soon_threadsafe``, so the
engine loop sleeps); ``wake()`` returns the kept audio as 10 ms frames with their capture times, oldest first,
and delivers to ``on_frame`` again.  The stream itself is never touched, so no audio is lost at the hand-over.
A hold is refused while delivered blocks are still queued on the loop (the frames would come out of order);
the caller asks again on a later frame.

The block size is fixed while a stream runs (PortAudio fixes it when the stream opens).  Switching sizes by
opening a second stream beside the running one was tried for idle wake-ups and dropped: the two streams'
latencies differ (tens of ms through a sound server), so the hand-over lost or repeated that much audio right
after a key press.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from audio.devices import (
    AudioUnavailable,
    Device,
    DeviceLost,
    device_label,
    find_device,
    load_sounddevice,
    plain_reason,
)
from audio.frames import FRAME_BYTES, FRAME_MS, RATE

FrameCallback = Callable[[bytes, float], None]  # (10 ms PCM16 frame, perf_counter capture time)
ErrorCallback = Callable[[DeviceLost], None]


def _checked_block(block_ms: int) -> int:
    if block_ms % FRAME_MS or not FRAME_MS <= block_ms <= 100:
        raise ValueError(f"capture block must be a multiple of {FRAME_MS} ms up to 100 ms, got {block_ms}")
    return block_ms


class MicCapture:
    def __init__(self, loop: asyncio.AbstractEventLoop, on_frame: FrameCallback,
                 on_error: ErrorCallback | None = None, *, device: str | int | None = None,
                 stall_s: float = 1.0, start_timeout_s: float = 5.0, device_rate: int | None = None,
                 block_ms: int = FRAME_MS):
        self.loop = loop
        self.on_frame = on_frame
        self.on_error = on_error
        self.device_spec = device
        self.stall_s = stall_s
        self.start_timeout_s = start_timeout_s
        self.device: Device | None = None
        self._label: tuple[str, str] | None = None  # (device name, its label), asked of the sound server once
        self.device_rate = device_rate  # None: 16 kHz when the device can, else its native rate
        # audio per callback: 10 ms frames are still delivered one by one, but a longer block (the saver
        # profile's 30 ms) wakes the process a third as often
        self.block_ms = _checked_block(block_ms)
        self.rate = RATE
        self.delivered = 0  # frames handed to ``on_frame``
        self.overflows = 0
        self._stream: Any = None
        self._last_frame_at = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._closing = False
        self._generation = 0  # frames and notices queued by a stream that has since been closed are dropped
        # the live stream's resampler with its pending samples (device rate != 16 kHz), by generation
        self._resamplers: dict[int, tuple[Any, bytearray]] = {}
        # held between turns: the newest (block, captured_at) kept by the callback, None while delivering
        self._lock = threading.Lock()
        self._kept: deque[tuple[bytes, float]] | None = None
        self._kept_frames = 0  # frames captured while held (counted by the callback)
        self._posted = 0  # blocks handed to the loop by the callback (under the lock)
        self._taken = 0  # of which the loop has taken (the rest are still queued)

    @property
    def frames(self) -> int:
        """Frames captured since the stream opened (delivered, or kept while held)."""
        return self.delivered + self._kept_frames

    @property
    def held(self) -> bool:
        return self._kept is not None

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    # ------------------------------------------------------------------ lifecycle
    @property
    def label(self) -> str:
        """The device as a person knows it (``device_label``: the sound server's name), worked out only when a
        message needs it and once per device: opening the stream (every unmute) asks the server nothing."""
        if self.device is None:
            return "the microphone"
        if self._label is None or self._label[0] != self.device.name:
            self._label = (self.device.name, device_label(self.device))
        return self._label[1]

    def open(self) -> None:
        """Open and start the stream (call on the loop's thread).  Raises ``AudioUnavailable``."""
        if self._stream is not None:
            return
        sd = load_sounddevice()
        self.device = find_device(self.device_spec, "input", sd)
        rate = self.device_rate or RATE
        try:
            sd.check_input_settings(device=self.device.index, channels=1, dtype="int16", samplerate=rate)
        except Exception:
            rate = int(self.device.default_rate)  # the device's own rate; resampled below
        self.rate = rate
        self._resamplers.clear()
        self._start_stream(sd)
        self._closing = False
        self.delivered = 0
        self._kept_frames = 0
        self._last_frame_at = time.perf_counter()
        self._arm_watchdog()

    def _start_stream(self, sd: Any) -> None:
        """A new stream at ``block_ms`` under a new generation, made the current one."""
        assert self.device is not None
        rate = self.rate
        self._generation += 1
        gen = self._generation
        if rate != RATE:
            import soxr

            self._resamplers[gen] = (soxr.ResampleStream(rate, RATE, 1, dtype="int16", quality="HQ"), bytearray())
        deliver = self._deliver_block
        call_soon = self.loop.call_soon_threadsafe
        perf = time.perf_counter
        lock = self._lock
        frames_per_block = self.block_ms // FRAME_MS

        def callback(indata: Any, frames: int, _time: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            block, now = bytes(indata), perf()
            with lock:
                kept = self._kept
                if kept is not None:  # held: keep it for the pre-roll, wake nobody
                    if gen == self._generation:
                        kept.append((block, now))
                        self._kept_frames += frames_per_block
                        self._last_frame_at = now
                    return
                self._posted += 1
            call_soon(deliver, gen, block, now)

        def finished() -> None:
            call_soon(self._stream_finished, gen)

        try:
            stream = sd.RawInputStream(samplerate=rate, blocksize=rate * self.block_ms // 1000, device=self.device.index,
                                       channels=1, dtype="int16", latency="low", callback=callback,
                                       finished_callback=finished)
            stream.start()
        except Exception as exc:  # PortAudioError and friends: the device refused to open
            self._resamplers.pop(gen, None)
            raise AudioUnavailable(f"the microphone “{self.label}” could not be opened: "
                                   f"{plain_reason(str(exc))}", str(exc)) from None
        self._stream = stream

    def close(self) -> None:
        self._closing = True
        with self._lock:
            self._kept = None
            self._generation += 1
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        stream, self._stream = self._stream, None
        self._resamplers.clear()
        if stream is not None:
            self._abort(stream)

    @staticmethod
    def _abort(stream: Any) -> None:
        try:
            stream.abort()
            stream.close()
        except Exception:  # the device is already gone; nothing left to release
            pass

    def reopen(self, device: str | int | None = None) -> None:
        if device is not None:
            self.device_spec = device
        self.close()
        self.open()

    # ------------------------------------------------------------------ on the loop
    def hold(self, keep_ms: int) -> bool:
        """Keep about the newest ``keep_ms`` in the callback and stop delivering (between turns).  False: not
        held, because the stream is closed or delivered blocks are still queued on the loop (ask again)."""
        if self._stream is None:
            return False
        with self._lock:
            if self._kept is None:
                if self._posted != self._taken:
                    return False
                self._kept = deque(maxlen=-(-keep_ms // self.block_ms) + 1)
        return True

    def wake(self) -> list[tuple[bytes, float]]:
        """Deliver to ``on_frame`` again; the frames kept while held (10 ms each, with their capture times)."""
        with self._lock:
            kept, self._kept = self._kept, None
        frames: list[tuple[bytes, float]] = []
        for block, captured_at in kept or ():
            frames += self._cut(self._generation, block, captured_at)
        return frames

    def _cut(self, gen: int, block: bytes, captured_at: float) -> list[tuple[bytes, float]]:
        """A block as 10 ms frames at 16 kHz with their capture times (the last captured at ``captured_at``)."""
        state = self._resamplers.get(gen)
        if state is None:
            frames = [block[i:i + FRAME_BYTES] for i in range(0, len(block) - FRAME_BYTES + 1, FRAME_BYTES)]
        else:
            resampler, pending = state
            pending += resampler.resample_chunk(np.frombuffer(block, dtype="<i2")).astype("<i2").tobytes()
            n = len(pending) // FRAME_BYTES
            frames = [bytes(pending[i * FRAME_BYTES:(i + 1) * FRAME_BYTES]) for i in range(n)]
            del pending[:n * FRAME_BYTES]
        n = len(frames)
        return [(frame, captured_at - (n - 1 - i) * FRAME_MS / 1000) for i, frame in enumerate(frames)]

    def _deliver_block(self, gen: int, block: bytes, captured_at: float) -> None:
        """A block posted by the callback; a closed stream's queued block is dropped."""
        self._taken += 1
        if gen != self._generation:
            return
        for frame, at in self._cut(gen, block, captured_at):
            self.delivered += 1
            self._last_frame_at = at
            self.on_frame(frame, at)

    def _arm_watchdog(self) -> None:
        self._watchdog = self.loop.call_later(self.stall_s / 2, self._check_stall)

    def _check_stall(self) -> None:
        stream = self._stream
        if stream is None:
            return
        limit = self.stall_s if self.frames else self.start_timeout_s  # some backends take ~2 s to start
        if stream.active and time.perf_counter() - self._last_frame_at < limit:
            self._arm_watchdog()
            return
        self._fail("the microphone stopped delivering audio")

    def _stream_finished(self, gen: int) -> None:
        if gen == self._generation and not self._closing and self._stream is not None:
            self._fail("the microphone stream stopped (device unplugged or taken by another application)")

    def _fail(self, message: str) -> None:
        name = self.label
        self.close()
        if self.on_error is not None:
            self.on_error(DeviceLost(f"{message}: {name}", "reconnect it or pick another input device in Settings"))
