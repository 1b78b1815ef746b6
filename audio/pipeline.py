"""The input chain: echo cancellation -> VAD -> denoise (+ gain) -> level meter, with a per-frame ``process``.

``InputPipeline.process(frame, t)`` takes one 10 ms frame (16 kHz mono PCM16) whose last sample was
captured at ``t`` (perf_counter, or seconds into a file) and returns a ``Processed``: the frame to send on
(denoised), a decimated ``Level`` (or None: at most ``level_hz`` a second), a ``VadEvent`` (or None) and
whether speech is currently open.  The VAD judges the signal after echo cancellation and before noise
suppression and its automatic gain (which lifts the noise in pauses and smears the boundaries), with the
neural second stage when one is given.  Cheap and non-blocking: the
session engine calls it on its loop for every frame of a turn and of a reply.

Between turns the chain does not run (``desktop.engine``: idle costs nothing): the engine keeps raw frames
for the pre-roll, ``listen`` runs the VAD alone on a raw frame (hands-free), ``process(..., vad=False)``
runs a pre-roll frame the VAD has already heard through the rest of the chain, and ``suspend`` drops what
belongs to the moment (an open VAD segment, the far end's backlog) while keeping what was learned (the echo
path, the noise floor and estimate).  ``runs`` counts each stage's invocations, so the idle cost can be
checked by counting work rather than timing it.

Typical use (the engine does this in ``feed_frame``)::

    pipe = InputPipeline.build("webrtc", 2, vad_mode=3, scorer=make_scorer()[0])   # audio.neural_vad
    out = pipe.process(frame, captured_at)
    if out.level: show(out.level.rms_dbfs, out.level.peak_dbfs, out.speaking)
    if out.vad and out.vad.kind == SPEECH_END: ...
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

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
        self.runs: Counter[str] = Counter()  # invocations per stage: echo, vad, denoise, meter

    @classmethod
    def build(cls, denoise: str = "webrtc", denoise_level: int = 2, *, auto_gain: bool = True, vad_mode: int = 3,
              vad_frame_ms: int = 10, level_hz: float = 30.0, echo: EchoStage | None = None,
              scorer: SpeechScorer | None = None) -> InputPipeline:
        """The chain for a denoise backend (falling back when it is missing, see ``fallback``), the VAD (with
        its neural ``scorer``, if any) and the echo canceller (``echo``, if any)."""
        pipeline = cls(vad=VadOptions(mode=vad_mode), echo=echo, scorer=scorer)
        pipeline.configure(denoise, denoise_level, auto_gain=auto_gain, vad_frame_ms=vad_frame_ms,
                           level_hz=level_hz)
        return pipeline

    def configure(self, denoise: str, denoise_level: int, *, auto_gain: bool = True, vad_frame_ms: int = 10,
                  level_hz: float = 30.0) -> None:
        """Swap the stages a quality profile chooses: the denoiser (falling back when its backend is missing,
        see ``fallback``), the VAD's frame and the meter's rate.  Between turns only (the new stages start
        empty).  The echo canceller, the VAD's mode and its neural stage carry over (they adapt)."""
        self.denoiser, self.fallback = make_denoiser(denoise, denoise_level,
                                                     auto_gain_dbfs=DEFAULT_AUTO_GAIN_DBFS if auto_gain else 0)
        self.vad = VoiceActivityDetector(replace(self.vad.options, frame_ms=vad_frame_ms), scorer=self.vad.scorer)
        self.meter = LevelMeter(level_hz)

    def process(self, frame: bytes, t: float, *, vad: bool = True) -> Processed:
        """The whole chain on one frame (``vad=False``: a frame ``listen`` already showed the VAD)."""
        runs = self.runs
        near_end = None
        if self.echo is not None:
            runs["echo"] += 1
            frame = self.echo.process(frame)
            near_end = self.echo.near_end
        ev = None
        if vad:
            runs["vad"] += 1
            ev = self.vad.process(frame, t, near_end)
        runs["denoise"] += 1
        out = self.denoiser.process(frame)
        runs["meter"] += 1
        level = self.meter.push(out)
        return Processed(out, level, ev, self.vad.speaking)

    def listen(self, frame: bytes, t: float) -> VadEvent | None:
        """The VAD alone on a raw frame, while nothing plays and no turn is open (hands-free between turns):
        its cheap first stage on every frame, the neural stage only on frames the first stage flags."""
        self.runs["vad"] += 1
        return self.vad.process(frame, t)

    def suspend(self) -> None:
        """The chain stops between turns: an open VAD segment and the far end's backlog are dropped (they
        belong to the moment); the echo path, the noise floor and the denoiser's estimate are kept."""
        self.vad.suspend()
        if self.echo is not None:
            self.echo.reference.discard()

    def finish(self) -> list[VadEvent]:
        return self.vad.finish()
