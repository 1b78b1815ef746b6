"""Playback of Gemini's 24 kHz PCM16 replies: a jitter buffer pulled by the output stream's callback.

``JitterBuffer`` is the pure part (no I/O, thread-safe): ``write(pcm)`` from the engine loop, ``read(n)``
from the audio callback.  Playback of a reply starts once ``start_ms`` is buffered (or the turn has
ended): replies arrive faster than real time, so a small start keeps the first sound close to the first
audio received; an underrun in the middle of a reply plays silence and waits for the fuller ``target_ms``
before resuming.  ``flush()`` drops everything buffered so the
next callback plays silence (barge-in, ``interrupted``), and ``end_of_turn()`` appends ``pad_ms`` of
silence so the device does not clip the last word.

``SpeakerPlayer`` implements the engine's ``Player`` protocol (write / flush / end_of_turn) on a
sounddevice ``RawOutputStream`` (int16 mono, ``block_ms`` blocks): the callback only copies bytes out of
the buffer.  The stream runs only while there is something to play: ``open`` checks and opens the device
without starting it; ``prepare`` (a turn started: a reply is coming) or the first write starts it, and the
callback stops it once the reply has played and ``idle_ms`` have passed (no wake-ups, no underrun warnings
from the sound system while idle).  Starting early matters: some sound servers take a moment before a new
stream really plays, and the user is still talking then.  A device that cannot run at 24 kHz is opened at
its native rate and writes are resampled with soxr on the loop.  It records ``audio.first_audio_to_played`` (first reply audio written -> its first
sample handed to the device) through its ``StageTimer`` (the app's metrics) when the turn's first sample is played.

For the window::

    player = SpeakerPlayer(metrics=engine.metrics, device=settings.output_device, jitter_ms=settings.jitter_ms)
    player.open()                       # on the engine loop; raises AudioUnavailable with a clear message
    engine = SessionEngine(..., player=player)
    ...
    player.close()
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from audio.devices import AudioUnavailable, Device, device_label, find_device, load_sounddevice, plain_reason
from audio.echo import FarEndReference
from audio.timing import NullTimer, StageTimer

OUTPUT_RATE = 24000
log = logging.getLogger(__name__)
# The device's own buffer: PortAudio's "low" (a few ms through PulseAudio's ALSA plugin) underruns on a busy
# machine, and the plugin's recovery can swallow what follows; 40 ms holds, and the jitter buffer before it
# is what sets when a reply starts (the first sample is timed when the callback takes it).
OUTPUT_LATENCY_S = 0.04
# Python runs the device's callback only once it holds the GIL: with the default 5 ms switch interval, two busy
# Python threads (the engine loop, the window) kept it waiting past the device's 40 ms and ALSA printed
# "underrun occurred" lines in the terminal (4-7 per three replies here with two busy threads; none at 1 ms).
# Opening the speaker sets the process's interval to this when it is longer.
AUDIO_SWITCH_INTERVAL_S = 0.001
MAX_BUFFERED_S = 300  # replies arrive faster than real time; audio further ahead of playback than this is dropped


class JitterBuffer:
    def __init__(self, rate: int = OUTPUT_RATE, target_ms: int = 60, pad_ms: int = 80,
                 max_buffered_s: float = MAX_BUFFERED_S, start_ms: int = 20):
        self.rate = rate
        self.target_bytes = rate * target_ms // 1000 * 2
        self.start_bytes = min(self.target_bytes, rate * start_ms // 1000 * 2)
        self.pad_bytes = rate * pad_ms // 1000 * 2
        self.max_bytes = int(rate * max_buffered_s) * 2
        self.dropped_bytes = 0  # audio a server sent beyond ``max_buffered_s`` ahead of playback
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._playing = False  # the target was reached (or the turn ended): draining
        self._turn_ended = False
        self._new_turn = True
        self.underruns = 0
        self.flushes = 0
        self.turn_written_at: float | None = None  # perf_counter of the turn's first write
        self.turn_played_at: float | None = None  # perf_counter of the turn's first real sample read
        self.first_played: tuple[float, float] | None = None  # (written, played), taken by the player

    def set_target_ms(self, target_ms: int) -> None:
        """How much to buffer before a turn starts playing (takes effect at once; a turn playing goes on)."""
        with self._lock:
            self.target_bytes = self.rate * target_ms // 1000 * 2

    @property
    def buffered_ms(self) -> float:
        return len(self._buf) / 2 / self.rate * 1000

    def write(self, pcm: bytes, now: float | None = None) -> None:
        with self._lock:
            if self._new_turn:
                self._new_turn = False
                self._turn_ended = False
                self.turn_written_at = time.perf_counter() if now is None else now
                self.turn_played_at = None
            room = max(0, self.max_bytes - len(self._buf))
            if len(pcm) > room:
                self.dropped_bytes += len(pcm) - room
                pcm = pcm[:room - room % 2]
            self._buf += pcm
            if len(self._buf) >= (self.start_bytes if self.turn_played_at is None else self.target_bytes):
                self._playing = True

    def end_of_turn(self) -> None:
        with self._lock:
            if self._buf or self._playing:
                self._buf += b"\0" * self.pad_bytes
            self._turn_ended = True
            self._new_turn = True
            self._playing = bool(self._buf)

    def flush(self) -> None:
        with self._lock:
            self._buf.clear()
            self._playing = False
            self._turn_ended = False
            self._new_turn = True
            self.turn_written_at = None  # dropped audio is never "played"
            self.flushes += 1

    def read(self, nbytes: int, now: float | None = None) -> bytes:
        """Exactly ``nbytes`` for the device: buffered audio, then silence."""
        with self._lock:
            if not self._playing or not self._buf:
                if self._playing:  # ran dry in the middle of a turn: wait for the target again
                    self.underruns += 1
                    self._playing = False
                return b"\0" * nbytes
            out = bytes(self._buf[:nbytes])
            del self._buf[:nbytes]
            if self.turn_written_at is not None and self.turn_played_at is None:
                self.turn_played_at = time.perf_counter() if now is None else now
                self.first_played = (self.turn_written_at, self.turn_played_at)
            if not self._buf and self._turn_ended:
                self._playing = False  # the turn is over, not an underrun
            if len(out) < nbytes:
                out += b"\0" * (nbytes - len(out))
            return out


class SpeakerPlayer:
    def __init__(self, *, metrics: StageTimer | None = None, device: str | int | None = None,
                 jitter_ms: int = 60, block_ms: int = 10, pad_ms: int = 80, device_rate: int | None = None,
                 idle_ms: int = 500):
        self.metrics: StageTimer = metrics or NullTimer()
        self.device_spec = device
        self.jitter_ms = jitter_ms
        self.block_ms = block_ms
        self.pad_ms = pad_ms
        self.device_rate = device_rate  # None: 24 kHz when the device can, else its native rate
        self.idle_ms = idle_ms  # silence after which the stream stops until the next reply
        self._idle_s = idle_ms / 1000
        self._last_sound = 0.0
        self._playing = False  # started and not yet stopped by its callback
        self._reply_due_until = 0.0  # monotonic time until which a prepared stream waits for its reply
        self.starts = 0  # times the stream was started (one per reply, not per chunk)
        self.device_underruns = 0  # blocks the device ran dry before the callback filled them (PortAudio says)
        self.rate = OUTPUT_RATE
        self.device: Device | None = None
        self.buffer = JitterBuffer(OUTPUT_RATE, jitter_ms, pad_ms)
        self._stream: Any = None
        self._resampler: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_first_sample: Callable[[float], None] | None = None  # set by the engine: a reply is heard
        # exactly what the callback hands the device, for the echo canceller (created by open())
        self.reference: FarEndReference | None = None

    def open(self) -> None:
        """Open the output stream, stopped (on the engine loop's thread).  Raises ``AudioUnavailable``."""
        if self._stream is not None:
            return
        sd = load_sounddevice()
        self.device = find_device(self.device_spec, "output", sd)
        rate = self.device_rate or OUTPUT_RATE
        try:
            sd.check_output_settings(device=self.device.index, channels=1, dtype="int16", samplerate=rate)
        except Exception:
            rate = int(self.device.default_rate)
        self.rate = rate
        self._resampler = None
        if rate != OUTPUT_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(OUTPUT_RATE, rate, 1, dtype="int16", quality="HQ")
        self.buffer = JitterBuffer(rate, self.jitter_ms, self.pad_ms)
        if self.reference is None or self.reference.device_rate != rate:  # (opened again: the echo canceller
            self.reference = FarEndReference(rate)  # keeps the reference it was given, as long as the rate is)
        reference = self.reference
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        buffer, block = self.buffer, rate * self.block_ms // 1000
        loop = self._loop
        self._last_sound = time.monotonic()

        def callback(outdata: Any, frames: int, _time: Any, status: Any) -> None:
            if status.output_underflow:
                self.device_underruns += 1
            had_sound = buffer.buffered_ms > 0
            data = buffer.read(frames * 2)
            outdata[:] = data
            reference.push(data)
            first = buffer.first_played
            if first is not None:
                buffer.first_played = None
                if loop is not None:
                    loop.call_soon_threadsafe(self._report, first)
            now = time.monotonic()
            if had_sound:
                self._last_sound = now
            elif now - self._last_sound > self._idle_s and now > self._reply_due_until:
                self._playing = False
                raise sd.CallbackStop  # played out and quiet since: the stream stops until the next write

        try:
            self._stream = sd.RawOutputStream(samplerate=rate, blocksize=block, device=self.device.index,
                                              channels=1, dtype="int16", latency=OUTPUT_LATENCY_S, callback=callback)
        except Exception as exc:
            self._stream = None
            raise AudioUnavailable(f"the speaker “{device_label(self.device)}” could not be opened: "
                                   f"{plain_reason(str(exc))}", str(exc)) from None
        # the device may have taken audio well ahead of playing it: stop only once that has been heard too
        self._idle_s = self.idle_ms / 1000 + min(1.0, float(self._stream.latency or 0.0))
        if sys.getswitchinterval() > AUDIO_SWITCH_INTERVAL_S:  # the callback gets the GIL in time
            sys.setswitchinterval(AUDIO_SWITCH_INTERVAL_S)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        self._playing = False
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # the device is already gone
                pass

    @property
    def running(self) -> bool:
        """The output stream is playing (or draining) a reply."""
        stream = self._stream
        return stream is not None and (self._playing or bool(stream.active))

    def prepare(self, wait_s: float = 60.0) -> None:
        """A reply is on its way (a turn started): have the stream running when it comes."""
        self._reply_due_until = time.monotonic() + wait_s
        self._start()

    def _start(self) -> None:
        stream = self._stream
        if stream is None or self._playing:
            return
        try:
            if not stream.stopped:
                stream.stop()  # it stopped itself after the last reply: settle it before starting again
            self._last_sound = time.monotonic()
            self._playing = True
            stream.start()
            self.starts += 1
        except Exception as exc:  # the device went away: the reply is shown as text only
            self._playing = False
            log.warning("the speaker could not be started: %s", exc)

    @property
    def busy(self) -> bool:
        """Reply audio is still queued for the speaker (the engine's half-duplex mute looks at this)."""
        return self.buffer.buffered_ms > 0

    # ------------------------------------------------------------------ Player protocol (engine loop)
    def set_jitter_ms(self, jitter_ms: int) -> None:
        self.jitter_ms = jitter_ms
        self.buffer.set_target_ms(jitter_ms)

    def write(self, pcm: bytes) -> None:
        if self._resampler is not None:
            pcm = self._resampler.resample_chunk(np.frombuffer(pcm, dtype="<i2")).astype("<i2").tobytes()
        self.buffer.write(pcm)
        self._start()

    def flush(self) -> None:
        self.buffer.flush()

    def end_of_turn(self) -> None:
        self._reply_due_until = 0.0
        self.buffer.end_of_turn()
        if self.buffer.buffered_ms > 0:
            self._start()  # a reply shorter than the jitter target plays once the turn ends

    def _report(self, first: tuple[float, float]) -> None:
        written, played = first
        self.metrics.observe_s("audio.first_audio_to_played", max(0.0, played - written))
        if self.on_first_sample is not None:
            self.on_first_sample(played)
