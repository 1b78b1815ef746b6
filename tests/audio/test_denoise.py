"""Noise suppression backends: measured SNR gain on the noisy fixtures, and the fallback chain."""

from __future__ import annotations

import logging
import sys

import pytest

from audio import denoise
from audio.denoise import BackendUnavailable, build_backend, make_denoiser
from audio.sources import WavSource
from devtools.bench_audio import snr_against_clean

SPEECH = ["create_pr", "list_runs", "resume", "status"]


def _available(backend: str) -> bool:
    try:
        build_backend(backend)
    except BackendUnavailable:
        return False
    return True


@pytest.fixture(autouse=True)
def _fresh_announcements():
    denoise._announced.clear()
    yield
    denoise._announced.clear()


@pytest.mark.parametrize("backend", ["webrtc", "rnnoise"])
@pytest.mark.parametrize("name", SPEECH)
def test_denoise_raises_snr_of_noisy_fixtures(fixtures_dir, name, backend):
    if not _available(backend):
        pytest.skip(f"{backend} backend is not installed on this machine")
    clean = b"".join(WavSource(fixtures_dir / f"{name}.wav").frames)
    noisy = WavSource(fixtures_dir / f"{name}_noisy.wav").frames
    before = snr_against_clean(b"".join(noisy), clean)
    after = snr_against_clean(b"".join(_denoised(build_backend(backend), noisy)), clean)
    assert after - before >= 6.0, (before, after)


def test_off_passes_frames_through(fixtures_dir):
    frames = WavSource(fixtures_dir / "status_noisy.wav").frames[:50]
    assert _denoised(build_backend("off"), frames) == frames


def test_missing_rnnoise_falls_back_to_webrtc_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "pyrnnoise", None)  # as on a machine without the extra
    with caplog.at_level(logging.INFO, logger="audio.denoise"):
        den, note = make_denoiser("rnnoise")
        den2, note2 = make_denoiser("rnnoise")
    assert den.name == den2.name == "webrtc"
    assert note is not None and note.message == "rnnoise not installed -> falling back to webrtc"
    assert note2 is None
    assert [r.getMessage() for r in caplog.records] == ["rnnoise not installed -> falling back to webrtc"]


def test_missing_webrtc_falls_back_to_off(monkeypatch):
    monkeypatch.setitem(sys.modules, "webrtc_noise_gain", None)
    monkeypatch.setitem(sys.modules, "pyrnnoise", None)
    den, note = make_denoiser("rnnoise")
    assert den.name == "off"
    assert note is not None and note.used == "off" and "rnnoise not installed" in note.message


def test_bad_backend_and_level_are_clear_errors():
    with pytest.raises(ValueError, match="unknown denoise backend 'loud'"):
        make_denoiser("loud")
    with pytest.raises(ValueError, match="0-4"):
        build_backend("webrtc", level=7)


def _denoised(denoiser, frames: list[bytes]) -> list[bytes]:
    return [denoiser.process(frame) for frame in frames]
