"""A noisy speech set for judging a VAD, made on the spot with espeak-ng and sox (nothing downloaded).

``make_speech_set(directory)`` writes 16 kHz mono PCM16 WAVs and returns their ``SetFile`` records:

* clean utterances in several voices, with 0.8 s of silence before and 1.0 s after (and one file with two
  utterances 1.2 s apart, so the segment count is tested too);
* each of those in brown, pink and babble noise (babble: sixteen talkers at once in a reverberant room, as
  in a cafeteria) at +5 and 0 dB SNR (speech power over noise power, measured on the speech frames);
* a quiet speaker (the clean voice 30 dB down over a faint room noise);
* noise only: brown, pink and babble, 4 s each.

Truth boundaries come from the clean signal's 10 ms frame energy (frames within 35 dB of its loudest).
Deterministic for the same espeak-ng version.  Used by the VAD tests and ``gemini-codegen bench``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.frames import FRAME_SAMPLES, RATE
from audio.wavfile import write_wav

VOICES = ("en-us+m3", "en-gb+f2", "en-us+m7")
SENTENCES = ("Open a pull request that fixes the flaky login test.",
             "What is the status of my last agent run?",
             "Tell the agent to add a unit test for the password reset flow.")
BABBLE_TEXTS = ("The build is green again after the last merge.", "We should move the meeting to Thursday.",
                "Did anyone see where I left the charger?", "The coffee machine upstairs is broken again.",
                "Please send me the slides before lunch.", "I think the deploy finished a few minutes ago.",
                "Who booked the big room for this afternoon?", "The train was late again this morning.")
BABBLE_VOICES = ("en-us+f3", "en-gb+m2", "en-us+f5", "en-us+m1", "en-gb+f4", "en-us+m4", "en-us+f1", "en-gb+m6")
BABBLE_TALKERS = 16  # a cafeteria, not a conversation: many talkers, far away (reverberant), none followable
NOISES = ("brown", "pink", "babble")
SNRS = (5, 0)


class SpeechSetUnavailable(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class SetFile:
    path: Path
    kind: str  # clean | noisy | quiet | noise
    noise: str | None
    snr_db: float | None
    speech: tuple[tuple[float, float], ...]  # true segments (s); empty for noise only


def _espeak(voice: str, text: str, tmp: Path) -> np.ndarray:
    raw = tmp / "raw.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = tmp / "speech.wav"
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)], check=True)
    return _read(out)


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def _write(path: Path, x: np.ndarray) -> None:
    write_wav(path, np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes(), RATE)


def _colored_noise(color: str, seconds: float, seed: int) -> np.ndarray:
    """Brown (1/f^2) or pink (1/f) noise, shaped in the frequency domain from seeded white noise."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20.0)  # no DC drift
    spectrum /= f if color == "brown" else np.sqrt(f)
    x: np.ndarray = np.fft.irfft(spectrum, n)
    return x * float(3000 / np.sqrt(np.mean(x ** 2)))


def _babble(seconds: float, tmp: Path) -> np.ndarray:
    n = int(seconds * RATE)
    out = np.zeros(n)
    rng = np.random.default_rng(3)
    talks = [_espeak(v, t, tmp) for v, t in zip(BABBLE_VOICES, BABBLE_TEXTS, strict=True)]
    for k in range(BABBLE_TALKERS):
        talk = talks[k % len(talks)]
        talk = talk / (np.sqrt(np.mean(talk ** 2)) + 1e-9)
        pos = -int(rng.uniform(0, len(talk)))  # every talker is somewhere in the middle of a sentence
        while pos < n:
            a, b = max(0, pos), min(n, pos + len(talk))
            out[a:b] += talk[a - pos:b - pos]
            pos += len(talk) + int(rng.uniform(0.05, 0.3) * RATE)
    dry = tmp / "babble_dry.wav"
    _write(dry, out * (3000 / (np.sqrt(np.mean(out ** 2)) + 1e-9)))
    wet = tmp / "babble.wav"
    subprocess.run(["sox", str(dry), str(wet), "reverb", "80", "50", "100", "100", "20"], check=True)
    return _read(wet)[:n]


def _segments(clean: np.ndarray) -> tuple[tuple[float, float], ...]:
    n = len(clean) // FRAME_SAMPLES
    power = (clean[:n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES) ** 2).mean(axis=1)
    active = power > power.max() * 10 ** (-35 / 10)
    segs: list[tuple[float, float]] = []
    i = 0
    while i < n:
        if active[i]:
            j = i
            while j + 1 < n and (active[j + 1] or active[j + 1:j + 31].any()):  # gaps < 300 ms are words
                j += 1
            segs.append((i / 100, (j + 1) / 100))
            i = j + 1
        else:
            i += 1
    return tuple(segs)


def _scale_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    n = len(speech) // FRAME_SAMPLES
    power = (speech[:n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES) ** 2).mean(axis=1)
    sp = float(power[power > power.max() * 10 ** (-35 / 10)].mean())
    return noise * float(np.sqrt(sp / (np.mean(noise ** 2) * 10 ** (snr_db / 10))))


def make_speech_set(directory: Path) -> list[SetFile]:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SpeechSetUnavailable(f"{tool} is not installed (apt-get install espeak-ng sox)")
    directory.mkdir(parents=True, exist_ok=True)
    files: list[SetFile] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        cleans: list[tuple[str, np.ndarray]] = []
        for i, voice in enumerate(VOICES):
            speech = _espeak(voice, SENTENCES[i], tmp)
            speech = speech * (10 ** (-6 / 20) * 32768 / (np.abs(speech).max() + 1e-9))  # peaks at -6 dBFS
            clean = np.concatenate([np.zeros(int(0.8 * RATE)), speech, np.zeros(int(1.0 * RATE))])
            cleans.append((f"v{i}", clean))
        two = np.concatenate([cleans[0][1][:-int(0.8 * RATE)], np.zeros(int(0.4 * RATE)), cleans[1][1][int(0.8 * RATE):]])
        cleans.append(("two", two))
        longest = max(len(c) for _, c in cleans) / RATE + 0.1
        noises = {"brown": _colored_noise("brown", longest, 1), "pink": _colored_noise("pink", longest, 2),
                  "babble": _babble(longest, tmp)}
        for name, clean in cleans:
            segs = _segments(clean)
            path = directory / f"{name}_clean.wav"
            _write(path, clean)
            files.append(SetFile(path, "clean", None, None, segs))
            for noise_name, noise in noises.items():
                for snr in SNRS:
                    path = directory / f"{name}_{noise_name}_{snr:+d}dB.wav"
                    _write(path, clean + _scale_noise(clean, noise[:len(clean)], snr))
                    files.append(SetFile(path, "noisy", noise_name, float(snr), segs))
            if name == "v0":
                room = np.random.default_rng(5).standard_normal(len(clean)) * 3  # about -80 dBFS
                path = directory / f"{name}_quiet.wav"
                _write(path, clean * 10 ** (-30 / 20) + room)
                files.append(SetFile(path, "quiet", None, None, segs))
        reference = cleans[0][1]
        for noise_name, noise in noises.items():
            level = _scale_noise(reference, noise[:len(reference)], 5)[:int(4 * RATE)]
            path = directory / f"noise_{noise_name}.wav"
            _write(path, level)
            files.append(SetFile(path, "noise", noise_name, None, ()))
    return files


START_TOLERANCE_S = 0.150
END_TOLERANCE_S = 0.400


@dataclass(frozen=True, slots=True)
class VadScore:
    """How a VAD did on one file of the set."""

    name: str
    kind: str
    noise: str | None
    snr_db: float | None
    found: tuple[tuple[float, float], ...]
    start_errors_s: tuple[float, ...]  # found - true, per segment (when the count is right)
    end_errors_s: tuple[float, ...]

    @property
    def ok(self) -> bool:
        if self.kind == "noise":
            return not self.found
        return (bool(self.start_errors_s) and len(self.start_errors_s) == len(self.found)
                and all(abs(e) <= START_TOLERANCE_S for e in self.start_errors_s)
                and all(abs(e) <= END_TOLERANCE_S for e in self.end_errors_s))


def score(file: SetFile, found: list[tuple[float, float]]) -> VadScore:
    starts: tuple[float, ...] = ()
    ends: tuple[float, ...] = ()
    if file.speech and len(found) == len(file.speech):
        starts = tuple(round(a - ta, 3) for (a, _), (ta, _) in zip(found, file.speech, strict=True))
        ends = tuple(round(b - tb, 3) for (_, b), (_, tb) in zip(found, file.speech, strict=True))
    return VadScore(file.path.name, file.kind, file.noise, file.snr_db,
                    tuple((round(a, 3), round(b, 3)) for a, b in found), starts, ends)
