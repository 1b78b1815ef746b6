"""Audio benchmark: CPU cost of each input stage as a real-time factor, and denoise SNR.

``audio_pipeline_bench(seconds)`` runs ``seconds`` of synthetic speech-like audio (a gliding tone with
syllable-rate bursts over pink-ish noise) through every stage, once, and measures each stage's CPU time
(``time.process_time``) divided by the audio's duration: a real-time factor of 0.01 is 1 % of one core.
Stages: ``framing`` (split into 10 ms frames + group into Live chunks), ``denoise.<backend>`` for every
backend that loads here (and ``denoise.webrtc_no_agc``: noise suppression without the automatic gain), ``level``, ``vad``, ``encode`` (Live realtimeInput JSON), and ``pipeline.webrtc``
(the sum for the default chain: framing + denoise.webrtc + level + vad + encode) and ``chain.webrtc``
(the same chain measured end to end through ``InputPipeline.process``, the way the engine runs it).

``snr_against_clean(processed, clean)`` measures a denoised recording against its clean twin: the speech
power over the noise floor (dB), with speech frames and quiet frames taken from the clean twin.

Both are used by ``gemini-codegen audio bench`` and the project-wide ``gemini-codegen bench``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from audio.denoise import BACKENDS, BackendUnavailable, Denoiser, build_backend
from audio.frames import FRAME_SAMPLES, RATE, Chunker
from audio.level import LevelMeter
from audio.pipeline import InputPipeline
from audio.sources import split_frames
from audio.vad import VoiceActivityDetector


@dataclass
class AudioBench:
    audio_seconds: float
    rtf: dict[str, float] = field(default_factory=dict)  # stage -> CPU seconds per second of audio
    unavailable: dict[str, str] = field(default_factory=dict)  # denoise backend -> why it was skipped

    def as_dict(self) -> dict:
        return asdict(self)


def synthetic_speech(seconds: float, seed: int = 7) -> bytes:
    """Deterministic speech-like test audio: 4 Hz syllable bursts of a gliding harmonic tone + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) * (np.sin(2 * np.pi * 0.25 * t) > -0.3)
    noise = np.convolve(rng.standard_normal(t.size), np.ones(8) / 8, mode="same")
    x = 6000 * voice * envelope + 600 * noise
    return np.clip(x, -32768, 32767).astype("<i2").tobytes()


def _cpu(fn: Callable[[], object]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def audio_pipeline_bench(seconds: float = 20.0, *, chunk_ms: int = 20, denoise_level: int = 2) -> AudioBench:
    from desktop.live.protocol import audio_message

    if not 1.0 <= seconds <= 600.0:
        raise ValueError(f"benchmark length must be 1-600 s, got {seconds}")
    pcm = synthetic_speech(seconds)
    frames = split_frames(pcm)
    audio_s = len(frames) * FRAME_SAMPLES / RATE
    result = AudioBench(audio_s)

    def framing() -> None:
        chunker = Chunker(chunk_ms)
        for frame in split_frames(pcm):
            chunker.push(frame)

    result.rtf["framing"] = _cpu(framing) / audio_s

    denoised: dict[str, list[bytes]] = {}
    for backend in BACKENDS:
        try:
            den: Denoiser = build_backend(backend, denoise_level)
        except BackendUnavailable as exc:
            result.unavailable[backend] = str(exc)
            continue
        out: list[bytes] = []

        def run(den: Denoiser = den, out: list[bytes] = out) -> None:
            out.extend(den.process(f) for f in frames)

        result.rtf[f"denoise.{backend}"] = _cpu(run) / audio_s
        denoised[backend] = out
    if "webrtc" in denoised:  # the automatic gain control is most of webrtc's cost: show NS alone too
        ns_only = build_backend("webrtc", denoise_level, 0)
        result.rtf["denoise.webrtc_no_agc"] = _cpu(lambda: [ns_only.process(f) for f in frames]) / audio_s
    clean = denoised.get("webrtc", frames)

    meter = LevelMeter()
    result.rtf["level"] = _cpu(lambda: [meter.push(f) for f in clean]) / audio_s
    vad = VoiceActivityDetector()
    result.rtf["vad"] = _cpu(lambda: [vad.process(f, (i + 1) / 100) for i, f in enumerate(clean)]) / audio_s
    chunks = [b"".join(clean[i:i + chunk_ms // 10]) for i in range(0, len(clean), chunk_ms // 10)]
    result.rtf["encode"] = _cpu(lambda: [audio_message(c) for c in chunks]) / audio_s
    if "denoise.webrtc" in result.rtf:
        result.rtf["pipeline.webrtc"] = sum(result.rtf[k] for k in
                                            ("framing", "denoise.webrtc", "level", "vad", "encode"))

        def chain() -> None:  # the real thing, end to end, as the engine runs it per frame
            pipe = InputPipeline(build_backend("webrtc", denoise_level))
            chunker = Chunker(chunk_ms)
            for i, frame in enumerate(split_frames(pcm)):
                chunk = chunker.push(pipe.process(frame, (i + 1) / 100).frame)
                if chunk is not None:
                    audio_message(chunk)

        result.rtf["chain.webrtc"] = _cpu(chain) / audio_s
    return result


def snr_against_clean(processed: bytes, clean: bytes, *, max_lag: int = 800) -> float:
    """Speech-to-noise-floor ratio (dB) of ``processed``, using ``clean`` to find speech and pauses.

    The processed signal is first aligned to the clean one (denoisers add a few ms of delay); frames where
    the clean twin is above -50 dBFS count as speech, frames below -80 dBFS as pauses.  SNR = (speech power
    - noise power) / noise power, both measured on ``processed``.
    """
    c = np.frombuffer(clean, dtype="<i2").astype(np.float64)
    x = np.frombuffer(processed, dtype="<i2").astype(np.float64)
    span = min(len(c), len(x)) - max_lag
    if span < 10 * FRAME_SAMPLES:
        raise ValueError("recordings too short to compare")
    lag = max(range(0, max_lag, 8), key=lambda k: float(np.dot(x[k:k + span], c[:span])))
    y = x[lag:]
    n = min(len(c), len(y)) // FRAME_SAMPLES * FRAME_SAMPLES
    cp = (c[:n].reshape(-1, FRAME_SAMPLES) ** 2).mean(axis=1)
    yp = (y[:n].reshape(-1, FRAME_SAMPLES) ** 2).mean(axis=1)
    speech = cp > (32768 * 10 ** (-50 / 20)) ** 2
    quiet = cp < (32768 * 10 ** (-80 / 20)) ** 2
    if not speech.any() or not quiet.any():
        raise ValueError("the clean recording needs both speech and silence")
    noise = max(float(yp[quiet].mean()), 1e-9)
    signal = max(float(yp[speech].mean()) - noise, 1e-9)
    return 10 * float(np.log10(signal / noise))

