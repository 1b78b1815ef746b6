"""Noise suppression: one interface, three backends, with a fallback when a backend is missing.

Every backend takes and returns one 10 ms frame of 16 kHz mono PCM16 (``process(frame) -> frame``):

* ``webrtc``  webrtc-noise-gain's AudioProcessor (noise suppression level 0-4 plus automatic gain control;
  ``auto_gain_dbfs`` 0 turns the AGC off).  Linux wheels only.
* ``rnnoise`` pyrnnoise (optional extra ``.[rnnoise]``, imported lazily): RNNoise runs on 10 ms frames at
  48 kHz, so frames are resampled 16 -> 48 kHz and back with streaming soxr resamplers.
* ``off``     passes frames through.

``make_denoiser(backend)`` falls back along rnnoise -> webrtc -> off when a backend cannot be loaded and
says so once per process: the first time a given fallback happens it is logged as a warning and returned
as a ``Fallback`` (logged at INFO; the engine shows its ``message`` as a notice); later calls return the same backend quietly::

    denoiser, note = make_denoiser("rnnoise", level=2)
    if note: print(note.message)   # "rnnoise not installed -> falling back to webrtc"
    clean = denoiser.process(frame)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from audio.frames import FRAME_SAMPLES, RATE

log = logging.getLogger(__name__)

BACKENDS = ("webrtc", "rnnoise", "off")
FALLBACK = {"rnnoise": "webrtc", "webrtc": "off"}
DEFAULT_AUTO_GAIN_DBFS = 3  # target level below full scale for the webrtc AGC


class BackendUnavailable(RuntimeError):
    """A denoise backend's package or native library is not installed on this machine."""


class Denoiser(Protocol):
    name: str

    def process(self, frame: bytes) -> bytes: ...


class PassThrough:
    name = "off"

    def process(self, frame: bytes) -> bytes:
        return frame


class WebRtcDenoiser:
    name = "webrtc"

    def __init__(self, level: int = 2, auto_gain_dbfs: int = DEFAULT_AUTO_GAIN_DBFS):
        if not 0 <= level <= 4:
            raise ValueError(f"webrtc noise suppression level must be 0-4, got {level}")
        if not 0 <= auto_gain_dbfs <= 31:
            raise ValueError(f"auto gain target must be 0-31 dBFS, got {auto_gain_dbfs}")
        try:
            from webrtc_noise_gain import AudioProcessor
        except ImportError as exc:
            raise BackendUnavailable("webrtc-noise-gain is not installed (pip install webrtc-noise-gain; "
                                     "Linux x86_64/aarch64 wheels only)") from exc
        self._ap = AudioProcessor(auto_gain_dbfs, level)

    def process(self, frame: bytes) -> bytes:
        out: bytes = self._ap.Process10ms(frame).audio
        return out


class RnnoiseDenoiser:
    name = "rnnoise"
    RNN_RATE = 48000

    def __init__(self) -> None:
        try:
            from pyrnnoise import rnnoise as rn
        except (ImportError, OSError) as exc:  # OSError: the bundled native library failed to load
            raise BackendUnavailable("rnnoise not installed (pip install '.[rnnoise]')") from exc
        import soxr

        self._rn = rn
        self._state = rn.create()
        self._rnn_frame = int(rn.FRAME_SIZE)
        self._up = soxr.ResampleStream(RATE, self.RNN_RATE, 1, dtype="float32", quality="HQ")
        self._down = soxr.ResampleStream(self.RNN_RATE, RATE, 1, dtype="float32", quality="HQ")
        self._hi = np.zeros(0, dtype=np.float32)  # 48 kHz samples waiting for a full RNNoise frame
        self._lo = np.zeros(0, dtype=np.float32)  # 16 kHz output waiting to be handed out
        # prime with one frame of silence so every call can return a full 10 ms frame
        self._lo = np.zeros(FRAME_SAMPLES, dtype=np.float32)

    def process(self, frame: bytes) -> bytes:
        x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        self._hi = np.concatenate([self._hi, self._up.resample_chunk(x)])
        n = self._rnn_frame
        while len(self._hi) >= n:
            block, self._hi = self._hi[:n].astype(np.int16), self._hi[n:]
            out, _prob = self._rn.process_mono_frame(self._state, block)
            self._lo = np.concatenate([self._lo, self._down.resample_chunk(out.astype(np.float32))])
        if len(self._lo) < FRAME_SAMPLES:
            self._lo = np.concatenate([np.zeros(FRAME_SAMPLES - len(self._lo), np.float32), self._lo])
        y, self._lo = self._lo[:FRAME_SAMPLES], self._lo[FRAME_SAMPLES:]
        return np.clip(y, -32768, 32767).astype("<i2").tobytes()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            self._rn.destroy(state)


@dataclass(frozen=True, slots=True)
class Fallback:
    wanted: str
    used: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.reason} -> falling back to {self.used}"


_announced: set[tuple[str, str]] = set()


def build_backend(backend: str, level: int = 2, auto_gain_dbfs: int = DEFAULT_AUTO_GAIN_DBFS) -> Denoiser:
    """Exactly ``backend`` (no fallback); raises ``BackendUnavailable`` when it cannot load."""
    if backend == "webrtc":
        return WebRtcDenoiser(level, auto_gain_dbfs)
    if backend == "rnnoise":
        return RnnoiseDenoiser()
    if backend == "off":
        return PassThrough()
    raise ValueError(f"unknown denoise backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def make_denoiser(backend: str = "webrtc", level: int = 2, *, auto_gain_dbfs: int = DEFAULT_AUTO_GAIN_DBFS
                  ) -> tuple[Denoiser, Fallback | None]:
    """The requested backend, or the next one that loads; a ``Fallback`` the first time one happens."""
    wanted, current, reason = backend, backend, ""
    while True:
        try:
            denoiser = build_backend(current, level, auto_gain_dbfs)
        except BackendUnavailable as exc:
            reason = reason or str(exc).split(" (")[0]
            current = FALLBACK[current]
            continue
        if current == wanted:
            return denoiser, None
        if (wanted, current) in _announced:
            return denoiser, None
        _announced.add((wanted, current))
        note = Fallback(wanted, current, reason)
        log.info("%s", note.message)
        return denoiser, note


