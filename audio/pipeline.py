"""The input chain: echo cancellation -> VAD -> denoise (+ gain) -> level meter, with a per-frame ``process``.

``InputPipeline.process(frame, t)`` takes one 10 ms frame (16 kHz mono PCM16) whose last sample was
captured at ``t`` (perf_counter, or seconds into a file) and returns a ``Processed``: the frame to send on
(denoised), a decimated ``Level`` (or None: at most ``level_hz`` a second), a ``VadEvent`` (or None) and
whether speech is currently open.  The VAD judges the signal after echo cancellation and before noise
suppression and its automatic gain (which lifts the noise in pauses and smears the boundaries), with the
neural second stage when one is given.  Cheap and non-blocking: the
session engine calls it on its loop for every frame.

Typical use (the engine does this in ``feed_frame``)::

    pipe = InputPipeline.build("webrtc", 2, vad_mode=3, scorer=make_scorer()[0])   # audio.neural_vad
    out = pipe.process(frame, captured_at)
    if out.level: show(out.level.rms_dbfs, out.level.peak_dbfs, out.speaking)
    if out.vad and out.vad.kind == SPEECH_END: ...
"""

from __future__ import annotations

from dataclasses import dataclass

from audio.denoise import DEFAULT_AUTO_GAIN_DBFS, Denoiser, Fallback, PassThrough, make_denoiser
from audio.echo import EchoStage
from audio.level import Level, LevelMeter
from audio.vad import SpeechScorer, VadEvent, VadOptions, VoiceActivityDetector


@dataclass(frozen=True, slots=True)
class Processed:
    frame: bytes
    level: Level | None
    vad: VadEvent | None
    speaking: bool


class InputPipeline:
    def __init__(self, denoiser: Denoiser | None = None, *, vad: VadOptions | None = None,
                 level_hz: float = 30.0, fallback: Fallback | None = None, echo: EchoStage | None = None,
                 scorer: SpeechScorer | None = None):
        self.echo = echo  # None: no speaker reference, or no canceller installed
        self.denoiser: Denoiser = denoiser or PassThrough()
        self.vad = VoiceActivityDetector(vad, scorer=scorer)
        self.meter = LevelMeter(level_hz)
        self.fallback = fallback  # set when the requested denoise backend was not available

    @classmethod
    def build(cls, denoise: str = "webrtc", denoise_level: int = 2, *, auto_gain: bool = True, vad_mode: int = 3,
              vad_frame_ms: int = 10, level_hz: float = 30.0, echo: EchoStage | None = None,
              scorer: SpeechScorer | None = None) -> InputPipeline:
        """The chain for a denoise backend (falling back when it is missing, see ``fallback``), the VAD (with
        its neural ``scorer``, if any) and the echo canceller (``echo``, if any)."""
        denoiser, note = make_denoiser(denoise, denoise_level,
                                       auto_gain_dbfs=DEFAULT_AUTO_GAIN_DBFS if auto_gain else 0)
        return cls(denoiser, vad=VadOptions(mode=vad_mode, frame_ms=vad_frame_ms), level_hz=level_hz,
                   fallback=note, echo=echo, scorer=scorer)

    def process(self, frame: bytes, t: float) -> Processed:
        near_end = None
        if self.echo is not None:
            frame = self.echo.process(frame)
            near_end = self.echo.near_end
        ev = self.vad.process(frame, t, near_end)
        out = self.denoiser.process(frame)
        level = self.meter.push(out)
        return Processed(out, level, ev, self.vad.speaking)

    def finish(self) -> list[VadEvent]:
        return self.vad.finish()
