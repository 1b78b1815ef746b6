"""The VAD in noise, on a set made at test time with espeak-ng and sox (devtools.speech_set): several voices in
brown, pink and babble noise at +5 and 0 dB SNR, a quiet speaker, and noise alone.  The default settings'
chain must find every +5 dB utterance within 150 ms of its start and 400 ms of its end, with the right
number of segments, and no speech in noise alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio.sources import WavSource
from audio.vad import segments
from desktop.config import Settings
from desktop.input_chain import input_chain
from devtools.speech_set import SetFile, SpeechSetUnavailable, VadScore, make_speech_set, score


@pytest.fixture(scope="module")
def speech_set(tmp_path_factory) -> list[SetFile]:
    try:
        return make_speech_set(tmp_path_factory.mktemp("vad-set"))
    except SpeechSetUnavailable as exc:
        pytest.skip(f"cannot make the noisy speech set: {exc}")


def run_default_vad(path: Path, settings: Settings | None = None) -> list[tuple[float, float]]:
    pipe = input_chain(settings or Settings(), None)[0]
    events = [ev for i, f in enumerate(WavSource(path).frames) if (ev := pipe.process(f, (i + 1) / 100).vad)]
    return segments(events + pipe.finish())


def _scores(files: list[SetFile], keep, settings: Settings | None = None) -> list[VadScore]:
    return [score(f, run_default_vad(f.path, settings)) for f in files if keep(f)]


def test_the_set_has_what_the_goal_names(speech_set):
    kinds = {(f.kind, f.noise, f.snr_db) for f in speech_set}
    for noise in ("brown", "pink", "babble"):
        assert ("noisy", noise, 5.0) in kinds and ("noisy", noise, 0.0) in kinds and ("noise", noise, None) in kinds
    assert any(f.kind == "quiet" for f in speech_set)
    assert any(len(f.speech) == 2 for f in speech_set)
    assert len({f.path.name.split("_")[0] for f in speech_set if f.kind == "clean"}) >= 4


def test_defaults_find_every_utterance_at_plus_5_db_and_in_quiet(speech_set):
    scores = _scores(speech_set, lambda f: f.kind == "clean" or f.snr_db == 5.0)
    bad = [s for s in scores if not s.ok]
    assert not bad, "\n".join(f"{s.name}: found {s.found}, start {s.start_errors_s}, end {s.end_errors_s}" for s in bad)


def test_defaults_hear_no_speech_in_noise_alone(speech_set):
    scores = _scores(speech_set, lambda f: f.kind == "noise")
    assert len(scores) == 3 and all(s.ok for s in scores), [(s.name, s.found) for s in scores]


def test_a_quiet_speaker_is_found_in_time(speech_set):
    (quiet,) = _scores(speech_set, lambda f: f.kind == "quiet")
    assert quiet.ok, quiet  # within 150 ms of the start and 400 ms of the end, like everyone else


def test_without_the_neural_stage_noise_opens_segments(speech_set):
    """Baseline for the bench: webrtcvad on its own is fooled by this set."""
    scores = _scores(speech_set, lambda f: f.kind == "noise" or f.snr_db == 5.0, Settings(vad_neural=False))
    assert sum(not s.ok for s in scores) >= 3
