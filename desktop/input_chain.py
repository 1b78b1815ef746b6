"""The microphone's input chain as the settings ask for it.

``input_chain(settings, reference)`` builds the ``InputPipeline`` the session runs: echo cancellation when
the player offers a far-end ``reference`` (what it hands the speaker) and the canceller is installed and
turned on, then the VAD (with its Silero second stage when installed and turned on), then denoise.  ``needs_half_duplex`` says when the session must mute the microphone
while the assistant speaks instead: hands-free through a speaker with no echo cancellation would answer
itself.
"""

from __future__ import annotations

import logging

from audio.echo import EchoStage, FarEndReference, make_canceller
from audio.neural_vad import make_scorer
from audio.pipeline import InputPipeline
from desktop.config import Settings

log = logging.getLogger(__name__)


def input_chain(settings: Settings, reference: FarEndReference | None) -> tuple[InputPipeline, str]:
    """The chain, and why echo cancellation is missing when it is ("" otherwise)."""
    echo, why = None, ""
    if reference is not None and settings.echo_cancellation:
        canceller, why = make_canceller("webrtc")
        echo = EchoStage(canceller, reference) if canceller is not None else None
    scorer, missing = make_scorer() if settings.vad_neural else (None, "")
    if missing:  # the VAD runs on webrtcvad and the noise floor alone
        log.warning("voice detection without its neural stage: %s", missing)
    # "auto": the quality profile's backend replaces this one before the first turn (SessionEngine.apply_profile)
    denoise = "webrtc" if settings.denoise == "auto" else settings.denoise
    pipeline = InputPipeline.build(denoise, settings.denoise_level, vad_mode=settings.vad_mode, echo=echo,
                                   scorer=scorer)
    return pipeline, why


def needs_half_duplex(settings: Settings, pipeline: InputPipeline, has_speaker: bool) -> bool:
    """Hands-free through a speaker without echo cancellation would answer itself: mute while it speaks."""
    return settings.ptt_mode == "hands-free" and has_speaker and pipeline.echo is None
