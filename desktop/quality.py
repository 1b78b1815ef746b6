"""Quality profiles: one immutable value per profile that every part of the pipeline reads.

``performance`` on mains power, ``balanced`` on battery, ``saver`` on a low battery.  The profile decides
the denoise backend and level, how much audio goes in one Live message (fewer messages = fewer wake-ups),
the VAD frame, UI refresh rates, the CodeGen tracker's polling multiplier, the playback jitter buffer,
whether an idle Live connection is kept warm and which permessage-deflate offer a new connection makes
(``desktop.live.wire.PRESETS``; the ``live_compression`` setting overrides it).  Every chunk size is one
the Live API accepts (PCM in any size; Google recommends 20-40 ms, 100 ms trades a little latency for 5x
fewer messages).
"""

from __future__ import annotations

from dataclasses import dataclass

from audio.echo import EchoStage
from audio.pipeline import InputPipeline
from audio.vad import SpeechScorer


@dataclass(frozen=True, slots=True)
class QualityProfile:
    name: str
    denoise: str  # rnnoise | webrtc | off (a missing backend falls back: rnnoise -> webrtc -> off)
    denoise_level: int  # webrtc noise suppression 0-4
    auto_gain: bool  # webrtc automatic gain control (about 70 % of the denoiser's CPU)
    chunk_ms: int  # audio per Live message
    capture_block_ms: int  # audio per capture callback (wake-ups of the process)
    vad_frame_ms: int  # 10 | 20 | 30
    meter_hz: int  # level meter / sparkline refreshes per second
    tracker_multiplier: int  # CodeGen poll interval x N
    jitter_ms: int  # playback jitter buffer target
    keep_warm: bool  # keep an idle Live connection open (False: close after idle_close_s)
    idle_close_s: float = 60.0
    compression: str = "off"  # permessage-deflate offer: off | huffman | deflate (desktop.live.wire.PRESETS)

    def input_pipeline(self, vad_mode: int = 3, *, echo: EchoStage | None = None,
                       scorer: SpeechScorer | None = None) -> InputPipeline:
        """The input chain this profile asks for (denoise backend/level/AGC, VAD frame, meter rate), with the
        session's echo canceller and VAD second stage."""
        return InputPipeline.build(self.denoise, self.denoise_level, auto_gain=self.auto_gain, vad_mode=vad_mode,
                                   vad_frame_ms=self.vad_frame_ms, level_hz=self.meter_hz, echo=echo, scorer=scorer)

    def configure(self, pipeline: InputPipeline) -> None:
        """Swap the chain's stages to this profile's (denoise backend/level/AGC, VAD frame, meter rate); the
        session's echo canceller and VAD second stage carry over."""
        pipeline.configure(self.denoise, self.denoise_level, auto_gain=self.auto_gain,
                           vad_frame_ms=self.vad_frame_ms, level_hz=self.meter_hz)


# compression: measured by `gemini-codegen bench --only network` (docs/optimization-guide.md, "Compression")
PERFORMANCE = QualityProfile("performance", "rnnoise", 3, True, 20, 10, 10, 30, 1, 60, True, compression="deflate")
BALANCED = QualityProfile("balanced", "webrtc", 2, True, 40, 20, 20, 15, 2, 80, True, compression="huffman")
SAVER = QualityProfile("saver", "webrtc", 1, False, 100, 30, 30, 5, 4, 120, False, compression="huffman")
PROFILES = {p.name: p for p in (PERFORMANCE, BALANCED, SAVER)}


def profile_named(name: str) -> QualityProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown quality profile {name!r}; choose from {', '.join(PROFILES)}") from None
