"""Acoustic echo cancellation: the microphone minus what our own speaker put into it.

``make_canceller(backend)`` builds a canceller that takes one 10 ms capture frame and the 10 ms of
far-end reference that goes with it (16 kHz mono PCM16 bytes) and returns the frame without the echo:

* ``webrtc``   WebRTC's AEC3 through ``pywebrtc-audio`` (Apache-2.0, ~0.5 MB wheels for Linux, Windows and
  macOS): the default, chosen by measurement (``gemini-codegen audio aec --compare``);
* ``livekit``  the same AEC3 inside LiveKit's ``rtc.AudioProcessingModule`` (~12 MB wheel; compared only);
* ``speex``    ``speexdsp-aec`` over the system libspeexdsp (compared only).

A missing backend raises ``BackendUnavailable``; ``make_canceller`` returns None and a reason instead, so
the engine can fall back to half-duplex muting.

``FarEndReference`` is the far end: the player pushes exactly the bytes it hands the output device, at the
device's rate, from the device callback (a copy under a lock, nothing else); the capture side pulls one
10 ms frame per capture frame, resampled to 16 kHz with a streaming soxr resampler.  The backlog between
the two (output and input buffering) is bounded to ``max_lead_ms``; that, plus the room's own delay, is
what AEC3's delay estimator follows.  ``EchoStage`` is the two together, as the input chain runs them,
with the double-talk check (``audio.double_talk``) on every frame.

``erle_db(mic, out, ref)`` is the echo removed on echo-only stretches; ``estimate_delay(mic, ref)`` the
playback -> capture delay of recordings (``gemini-codegen audio aec`` reports it).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from audio.denoise import BackendUnavailable
from audio.double_talk import DoubleTalkDetector
from audio.frames import FRAME_BYTES, FRAME_SAMPLES, RATE

BACKENDS = ("webrtc", "livekit", "speex")


class EchoCanceller(Protocol):
    name: str

    def process(self, near: bytes, far: bytes) -> bytes: ...


def _backend(module: str, package: str) -> Any:
    """The canceller's module, or ``BackendUnavailable`` saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(f"{package} is not installed (pip install {package})") from exc


class WebRtcAec:
    """AEC3 (+ its high-pass filter) from pywebrtc-audio; noise suppression and gain stay separate stages."""

    name = "webrtc"

    def __init__(self, stream_delay_ms: int = 0):
        webrtc = _backend("pywebrtc_audio", "pywebrtc-audio")
        self._ap = webrtc.AudioProcessor(sample_rate=RATE, num_channels=1, echo_cancellation=True,
                                         high_pass_filter=True, stream_delay_ms=stream_delay_ms)

    def process(self, near: bytes, far: bytes) -> bytes:
        out: np.ndarray = self._ap.process(np.frombuffer(near, dtype=np.int16), np.frombuffer(far, dtype=np.int16))
        return out.tobytes()


class LiveKitAec:
    name = "livekit"

    def __init__(self, stream_delay_ms: int = 0):
        self._rtc = rtc = _backend("livekit.rtc", "livekit")
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        if stream_delay_ms:
            self._apm.set_stream_delay_ms(stream_delay_ms)

    def process(self, near: bytes, far: bytes) -> bytes:
        frame = self._rtc.AudioFrame
        self._apm.process_reverse_stream(frame(far, RATE, 1, FRAME_SAMPLES))
        mic = frame(bytearray(near), RATE, 1, FRAME_SAMPLES)
        self._apm.process_stream(mic)
        return bytes(mic.data.cast("B"))


class SpeexAec:
    name = "speex"

    def __init__(self, stream_delay_ms: int = 0, tail_ms: int = 300):
        try:
            from speexdsp_aec import SpeexAec as _Speex

            self._aec = _Speex(sample_rate=RATE, frame_ms=10, filter_tail_ms=tail_ms)
        except (ImportError, RuntimeError, OSError) as exc:
            raise BackendUnavailable("speexdsp-aec or the system libspeexdsp is missing") from exc
        self._out = bytearray(b"\0" * FRAME_BYTES)  # one frame of latency so every call returns a frame

    def process(self, near: bytes, far: bytes) -> bytes:
        self._out += self._aec.process(np.frombuffer(near, dtype=np.int16), np.frombuffer(far, dtype=np.int16))
        out = bytes(self._out[:FRAME_BYTES])
        del self._out[:FRAME_BYTES]
        return out


_CLASSES: dict[str, Callable[[int], EchoCanceller]] = {"webrtc": WebRtcAec, "livekit": LiveKitAec,
                                                       "speex": SpeexAec}


def build_canceller(backend: str = "webrtc", stream_delay_ms: int = 0) -> EchoCanceller:
    """Exactly ``backend``; raises ``BackendUnavailable`` when it cannot load."""
    try:
        cls = _CLASSES[backend]
    except KeyError:
        raise ValueError(f"unknown echo canceller {backend!r}: choose one of {', '.join(BACKENDS)}") from None
    return cls(stream_delay_ms)


def make_canceller(backend: str = "webrtc") -> tuple[EchoCanceller | None, str]:
    """The canceller, or None and a one-line reason (the caller falls back to half-duplex muting)."""
    try:
        return build_canceller(backend), ""
    except BackendUnavailable as exc:
        return None, str(exc).split(" (")[0]


class FarEndReference:
    """What the player handed the output device, as 16 kHz frames aligned with the capture frames."""

    def __init__(self, device_rate: int = 24000, *, max_lead_ms: int = 200):
        self.device_rate = device_rate
        self._lock = threading.Lock()
        self._raw = bytearray()  # device-rate PCM16, appended by the device callback
        self._frames = np.zeros(0, dtype=np.int16)  # 16 kHz samples ready for the capture side
        self._max_lead = RATE * max_lead_ms // 1000
        self._resampler: Any = None
        if device_rate != RATE:
            import soxr

            self._resampler = soxr.ResampleStream(device_rate, RATE, 1, dtype="int16", quality="HQ")
        self.pushed_bytes = 0
        self.starved = 0  # capture frames that found no reference (nothing played yet, or a gap)
        self.dropped = 0  # reference samples dropped to keep the lead bounded

    def push(self, pcm: bytes) -> None:
        """From the device callback: exactly what was handed to the device (silence included)."""
        with self._lock:
            self._raw += pcm
            self.pushed_bytes += len(pcm)

    def discard(self) -> None:
        """Drop what was played and not pulled (the capture side paused): the next pull starts from now."""
        with self._lock:
            self._raw.clear()
        self._frames = np.zeros(0, dtype=np.int16)

    def pull(self) -> bytes:
        """One 10 ms frame of reference for the capture frame being processed now (silence when none)."""
        with self._lock:
            raw = bytes(self._raw)
            self._raw.clear()
        if raw:
            x = np.frombuffer(raw, dtype="<i2")
            y = self._resampler.resample_chunk(x) if self._resampler is not None else x
            self._frames = np.concatenate([self._frames, y.astype(np.int16)])
        excess = len(self._frames) - self._max_lead - FRAME_SAMPLES
        if excess > 0:
            self._frames = self._frames[excess:]
            self.dropped += excess
        if len(self._frames) < FRAME_SAMPLES:
            self.starved += 1
            return bytes(FRAME_BYTES)
        out, self._frames = self._frames[:FRAME_SAMPLES], self._frames[FRAME_SAMPLES:]
        return out.astype("<i2").tobytes()


class EchoStage:
    """The live chain's echo cancellation: one reference frame pulled per capture frame, then the canceller.

    The reference is fed as it was played, not re-aligned: AEC3's own delay estimator follows the
    playback -> capture delay (measured here: re-aligning the reference from our own estimate cost 1-17 dB
    on 40-200 ms paths, because every move makes AEC3 adapt again).  Its ``near_end`` says whether the
    microphone holds more than the speaker's echo (``audio.double_talk``): AEC3 lets bursts of echo through
    while it adapts.
    """

    def __init__(self, canceller: EchoCanceller, reference: FarEndReference, *, echo_tail_ms: int = 400):
        self.canceller = canceller
        self.reference = reference
        self.double_talk = DoubleTalkDetector(tail_ms=echo_tail_ms)

    @property
    def name(self) -> str:
        return self.canceller.name

    def process(self, frame: bytes) -> bytes:
        far = self.reference.pull()
        out = self.canceller.process(frame, far)
        self.double_talk.push(frame, far, out)
        return out

    @property
    def near_end(self) -> bool | None:
        """Whether the latest frame holds the person rather than the speaker's echo (None: the speaker was
        silent over the echo tail, so nothing there can be echo).  See ``audio.double_talk``."""
        return self.double_talk.near_end


def _gcc_phat(mic: np.ndarray, ref: np.ndarray, max_ms: int) -> float:
    """The delay of ``mic`` behind ``ref`` in ms (the peak of the phase-transform cross-correlation)."""
    x, y = mic.astype(np.float64), ref.astype(np.float64)
    n = min(len(x), len(y))
    size = 1 << (2 * n - 1).bit_length()
    cross = np.fft.rfft(x[:n], size) * np.conj(np.fft.rfft(y[:n], size))
    cc = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-9), size)[:RATE * max_ms // 1000]
    return int(np.argmax(cc)) * 1000 / RATE


def cancel_all(canceller: EchoCanceller, mic: bytes, ref: bytes) -> bytes:
    """Run whole recordings (16 kHz PCM16, same length) through the live chain's ``EchoStage`` frame by
    frame: the reference is pushed as a 16 kHz player would push it, then the capture frame is processed."""
    stage = EchoStage(canceller, FarEndReference(RATE))
    n = min(len(mic), len(ref)) // FRAME_BYTES * FRAME_BYTES
    out = []
    for i in range(0, n, FRAME_BYTES):
        stage.reference.push(ref[i:i + FRAME_BYTES])
        out.append(stage.process(mic[i:i + FRAME_BYTES]))
    return b"".join(out)


def _frame_power(pcm: bytes | np.ndarray) -> np.ndarray:
    x = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray) else np.asarray(pcm)
    x = x[:len(x) // FRAME_SAMPLES * FRAME_SAMPLES].astype(np.float64)
    power: np.ndarray = (x.reshape(-1, FRAME_SAMPLES) ** 2).mean(axis=1)
    return power


@dataclass(frozen=True, slots=True)
class Erle:
    db: float  # echo removed on echo-only frames: mic power / output power
    frames: int  # echo-only frames measured


def echo_only_frames(ref: bytes, *, settle_s: float = 1.0, near: Sequence[tuple[float, float]] = (),
                     min_dbfs: float = -50.0) -> np.ndarray:
    """Frames where the reference plays (above ``min_dbfs``), after ``settle_s`` of convergence and outside
    the ``near`` (start, end) stretches where the person talks."""
    power = _frame_power(ref)
    active = power > (32768 * 10 ** (min_dbfs / 20)) ** 2
    t = (np.arange(len(power)) + 1) * FRAME_SAMPLES / RATE
    keep = active & (t > settle_s)
    for a, b in near:
        keep &= ~((t > a) & (t <= b + 0.3))
    return keep


def erle_db(mic: bytes, out: bytes, ref: bytes, **kwargs: Any) -> Erle:
    """Echo return loss enhancement on echo-only frames (see ``echo_only_frames``)."""
    keep = echo_only_frames(ref, **kwargs)
    pm, po = _frame_power(mic), _frame_power(out)
    n = min(len(keep), len(pm), len(po))
    keep = keep[:n]
    if not keep.any():
        raise ValueError("no echo-only stretch to measure: the reference is silent (or covered by --near)")
    return Erle(10 * float(np.log10(pm[:n][keep].sum() / max(po[:n][keep].sum(), 1e-9))), int(keep.sum()))


def estimate_delay(mic: bytes, ref: bytes, max_ms: int = 500) -> float:
    """The playback -> capture delay (ms) of whole recordings, by GCC-PHAT."""
    return _gcc_phat(np.frombuffer(mic, dtype="<i2"), np.frombuffer(ref, dtype="<i2"), max_ms)
