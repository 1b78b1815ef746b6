"""What the local Live emulator hears: is there speech in a turn, and which known phrase was it.

The emulator stands in for Gemini, so it must not invent speech.  Two honest, light steps (numpy and
webrtcvad only, nothing downloaded):

1. ``has_speech``: its own voice-activity check.  A 30 ms frame counts as voiced when webrtcvad (mode 3)
   calls it speech *and* it is periodic (the normalised autocorrelation of the pre-emphasised frame peaks
   above ``PERIODIC`` at a pitch lag of 80-400 Hz).  Fans, hiss and keyboard clatter pass webrtcvad now
   and then, but are not periodic; a turn needs ``MIN_VOICED`` such frames.
2. ``Phrasebook.match``: the turn's speech is compared with recordings of the phrases the emulator knows
   (rendered with espeak-ng into ``assets/hearing/``, see ``render.sh`` there): MFCC features with
   cepstral mean normalisation, aligned by dynamic time warping; the nearest phrase wins if its distance is
   below ``MAX_DISTANCE``, otherwise nothing was understood.  Template matching knows only its phrases and
   is tuned to synthetic voices: good enough for a demo and for tests, and it never turns noise or an
   unknown sentence into a request.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import webrtcvad

from desktop.assets import asset

RATE = 16000
VAD_FRAME = 480  # 30 ms
PERIODIC = 0.4
MIN_VOICED = 3  # voiced frames (90 ms) make a turn speech
LONG_FRAMES = 100  # features (20 ms each) above which the comparison uses every other one
SPAN_DB, SPAN_FRAMES = 30.0, 8  # how far unvoiced sounds (s, f, t) around the voiced frames are included
WIN, HOP, NFFT = 512, 320, 512  # 32 ms windows every 20 ms
N_MELS, N_CEPS = 26, 13
MAX_DISTANCE = 2.4  # mean frame distance of the best phrase (on the scale of ``_normalise``)
MIN_MARGIN = 0.25  # ... and how much nearer it must be than any other phrase


def _frames(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    n = 1 + max(0, (len(x) - size) // hop)
    if len(x) < size:
        return np.zeros((0, size))
    return np.lib.stride_tricks.sliding_window_view(x, size)[::hop][:n]


def voiced_frames(pcm16k: bytes) -> np.ndarray:
    """One bool per 30 ms frame: speech by webrtcvad (which keeps state from frame to frame, so it hears
    them all) and periodic like a voice."""
    x = np.frombuffer(pcm16k[: len(pcm16k) // 2 * 2], dtype="<i2")
    frames = _frames(x, VAD_FRAME, VAD_FRAME)
    if not len(frames):
        return np.zeros(0, dtype=bool)
    vad = webrtcvad.Vad(3)
    flagged = np.array([vad.is_speech(f.tobytes(), RATE) for f in frames])
    out = np.zeros(len(frames), dtype=bool)
    idx = np.flatnonzero(flagged)
    if len(idx):
        f = frames[idx].astype(np.float64)
        f = np.concatenate([f[:, :1], f[:, 1:] - 0.95 * f[:, :-1]], axis=1)
        f -= f.mean(axis=1, keepdims=True)
        spec = np.fft.rfft(f, 1024, axis=1)
        r = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :201]
        energy = np.maximum(r[:, :1], 1e-9)
        out[idx] = (r[:, 40:201] / energy).max(axis=1) > PERIODIC
    return out


@lru_cache(maxsize=1)
def _mel_bank() -> np.ndarray:
    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    edges = 700 * (10 ** (np.linspace(mel(100), mel(7000), N_MELS + 2) / 2595) - 1)
    bins = np.fft.rfftfreq(NFFT, 1 / RATE)
    bank = np.zeros((N_MELS, len(bins)))
    for i in range(N_MELS):
        lo, mid, hi = edges[i:i + 3]
        bank[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return bank


@lru_cache(maxsize=1)
def _dct() -> np.ndarray:
    n = np.arange(N_MELS)
    basis: np.ndarray = np.cos(np.pi / N_MELS * (n + 0.5)[None, :] * np.arange(1, N_CEPS)[:, None])
    return basis


def speech_span(x: np.ndarray, voiced: np.ndarray) -> tuple[int, int]:
    """First and last 30 ms frame of the speech: the voiced frames, widened over the consonants around
    them (frames within ``SPAN_DB`` of the loudest one, at most ``SPAN_FRAMES`` each side)."""
    frames = _frames(x, VAD_FRAME, VAD_FRAME)
    db = 10 * np.log10((frames * frames).mean(axis=1) + 1e-3)
    floor = db.max() - SPAN_DB
    voiced = voiced[voiced < len(db)]
    loud = voiced[db[voiced] > floor]  # a "voiced" frame far below the speech is a click, not a word
    if len(loud):
        voiced = loud
    lo, hi = int(voiced[0]), int(voiced[-1])
    while lo > 0 and lo > voiced[0] - SPAN_FRAMES and db[lo - 1] > floor:
        lo -= 1
    while hi < len(db) - 1 and hi < voiced[-1] + SPAN_FRAMES and db[hi + 1] > floor:
        hi += 1
    return lo, hi


def features(pcm16k: bytes, voiced_mask: np.ndarray | None = None) -> np.ndarray:
    """MFCC (c1..c12) every 20 ms over the speech part of ``pcm16k``, mean-normalised: shape (frames, 12)."""
    x = np.frombuffer(pcm16k[: len(pcm16k) // 2 * 2], dtype="<i2").astype(np.float64)
    voiced = np.flatnonzero(voiced_frames(pcm16k) if voiced_mask is None else voiced_mask)
    if len(voiced):
        lo, hi = speech_span(x, voiced)
        x = x[lo * VAD_FRAME: (hi + 1) * VAD_FRAME]
    x = np.append(x[0], x[1:] - 0.97 * x[:-1]) if len(x) else x
    frames = _frames(x, WIN, HOP) * np.hamming(WIN)
    if not len(frames):
        return np.zeros((0, N_CEPS - 1))
    power = np.abs(np.fft.rfft(frames, NFFT, axis=1)) ** 2
    logmel = np.log(power @ _mel_bank().T + 1e-6)
    ceps = logmel @ _dct().T
    return _normalise(ceps - ceps.mean(axis=0))


def _normalise(ceps: np.ndarray) -> np.ndarray:
    return ceps / 10.0


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean frame distance along the best alignment of ``a`` and ``b``.

    Steps (i-1, j-1), (i-1, j-2) and (i-2, j-1) keep the warp within 2x either way and let each row be
    computed from earlier rows only, so a row is a few vector operations."""
    n, m = len(a), len(b)
    if not n or not m:
        return float("inf")
    sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2 * a @ b.T
    cost = np.sqrt(np.maximum(sq, 0.0))
    acc = np.full((n + 2, m + 2), np.inf)  # two rows and columns of padding before the start
    acc[2, 2] = cost[0, 0]
    for i in range(1, n):
        r = i + 2
        best = np.minimum(np.minimum(acc[r - 1, 1:-1], acc[r - 1, :-2]), acc[r - 2, 1:-1])
        acc[r, 2:] = cost[i] + best
    total = acc[-1, -1]
    return float(total / ((n + m) / 2)) if np.isfinite(total) else float("inf")


@dataclass(frozen=True)
class Template:
    text: str
    feats: np.ndarray


@dataclass(frozen=True)
class Heard:
    text: str | None  # None: nothing understood
    speech: bool  # the turn had speech at all
    distance: float = float("inf")
    voiced: int = 0  # voiced 30 ms frames in the turn


class Phrasebook:
    def __init__(self, templates: list[Template]):
        self.templates = templates

    @classmethod
    def load(cls, directory: Path | None = None) -> Phrasebook:
        """The phrases in ``assets/hearing`` (``phrases.json``: file name -> text, WAVs beside it)."""
        directory = directory or asset("hearing")
        names = json.loads((directory / "phrases.json").read_text(encoding="utf-8"))
        templates = []
        for file, text in names.items():
            with wave.open(str(directory / file), "rb") as w:
                templates.append(Template(text, features(w.readframes(w.getnframes()))))
        return cls(templates)

    def match(self, pcm16k: bytes) -> Heard:
        voiced = voiced_frames(pcm16k)
        n_voiced = int(voiced.sum())
        if n_voiced < MIN_VOICED:
            return Heard(None, False, voiced=n_voiced)
        feats = features(pcm16k, voiced)
        step = 2 if len(feats) > LONG_FRAMES else 1  # a long sentence is compared every 40 ms: 4x less work
        nearest: dict[str, float] = {}
        for t in self.templates:
            if not 0.6 <= len(feats) / max(1, len(t.feats)) <= 1.7:
                continue  # far longer or shorter: not this phrase
            d = dtw_distance(feats[::step], t.feats[::step])
            nearest[t.text] = min(nearest.get(t.text, float("inf")), d)
        ranked = sorted(nearest.items(), key=lambda kv: kv[1])
        if not ranked:
            return Heard(None, True, voiced=n_voiced)
        text, best = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else float("inf")
        understood = best <= MAX_DISTANCE and runner_up - best >= MIN_MARGIN
        return Heard(text if understood else None, True, best, n_voiced)


@lru_cache(maxsize=1)
def phrasebook() -> Phrasebook:
    return Phrasebook.load()
