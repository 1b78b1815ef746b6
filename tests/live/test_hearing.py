"""The Live emulator hears only what was said: no speech -> nothing; known phrases by their sound; an
unknown sentence is not turned into a request."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from desktop.live.hearing import phrasebook


def _pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


def _spoken(text: str, tmp_path: Path, voice: str = "en-us", speed: int = 165) -> bytes:
    raw, out = tmp_path / "raw.wav", tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True, timeout=30)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), "pad", "0.5", "0.6"],
                   check=True, timeout=30)
    return _pcm(out)


@pytest.mark.parametrize("name", ["create_pr", "status", "list_runs", "resume"])
@pytest.mark.parametrize("noisy", [False, True])
def test_each_fixture_is_heard_as_what_it_says(fixtures_dir, manifest, name, noisy):
    wav = f"{name}{'_noisy' if noisy else ''}.wav"
    heard = phrasebook().match(_pcm(fixtures_dir / wav))
    assert heard.speech and heard.text == manifest[wav]["text"], heard


@pytest.mark.parametrize("wav", ["noise_only_3s.wav", "silence_3s.wav"])
def test_noise_and_silence_are_no_speech(fixtures_dir, wav):
    pcm = _pcm(fixtures_dir / wav)
    heard = phrasebook().match(pcm)
    assert heard.text is None and not heard.speech


@pytest.mark.parametrize("said", ["yes", "no"])
def test_a_short_yes_or_no_is_heard(tmp_path, said):
    heard = phrasebook().match(_spoken(said, tmp_path))
    assert heard.text == said.capitalize(), heard


def test_a_yes_as_the_window_captured_it_is_heard(fixtures_dir):
    """tests/fixtures/yes_captured.wav: a spoken "yes" (espeak-ng) played into the virtual microphone and
    taken from what the window sent (capture, noise suppression, gain, pre-roll and key tail included)."""
    heard = phrasebook().match(_pcm(fixtures_dir / "yes_captured.wav"))
    assert heard.text == "Yes", heard


@pytest.mark.parametrize("sentence", ["The weather is nice today and I like it", "Open the window please"])
def test_an_unknown_sentence_is_speech_but_not_a_request(tmp_path, sentence):
    heard = phrasebook().match(_spoken(sentence, tmp_path))
    assert heard.speech and heard.text is None, heard
