"""Is the person talking while the speaker plays?  A per-band test the echo canceller's hiccups cannot fool.

WebRTC's AEC3 removes 25-40 dB of echo on average, but while it converges (the first seconds of a session)
and whenever it re-estimates the delay it lets bursts of echo through almost untouched: 50-300 ms of the
assistant's own voice that any VAD calls speech.  In hands-free mode such a burst would open a turn and
flush the reply.  ``DoubleTalkDetector`` decides from the microphone and the far end alone, the way a
Geigel detector does, but per frequency band:

* in each of ``BANDS`` bands (100 Hz - 8 kHz, judged every 20 ms) the speaker can put at most its
  echo gain times the loudest far-end power of the last ``tail_ms`` (the playback -> capture delay plus the
  room's reverberation) into the microphone;
* a band is *unexplained* when the microphone is ``margin_db`` louder than that, and than the room's own
  noise floor in that band (tracked only while the far end plays); a frame holds the person
  (``True``) when at least ``min_bands`` bands are, and is echo as far as anyone can tell (``False``)
  otherwise; ``None`` when the far end was silent over the whole tail (no echo is possible);
* the echo gain of each band is learned from frames the canceller itself handled well (its output at least
  ``label_db`` below the microphone in that band: echo, and nothing else), as a high ``quantile`` of the
  last ``history`` of them (a band the speaker rarely reaches takes the largest gain of the others).  Until half the
  bands have ``min_learned`` such frames nothing counts as the person while the far end plays: a cold room
  cannot tell its echo from a voice.

Speech the person makes under the echo in every band (much quieter than the speaker) is not found; the
detector errs on the side of not interrupting.  numpy only, one small transform per frame while the far
end plays, nothing while it is silent.
"""

from __future__ import annotations

import numpy as np

from audio.frames import FRAME_SAMPLES, RATE

BANDS = 16
HOP = 2  # 10 ms frames per analysis block: judged every 20 ms (the verdict holds for both frames)
_BLOCK = HOP * FRAME_SAMPLES
_EDGES = np.unique(np.geomspace(100, RATE / 2, BANDS + 1) * _BLOCK / RATE).astype(int)
_BAND_MATRIX = np.zeros((_BLOCK // 2 + 1, len(_EDGES) - 1))
for _b, (_lo, _hi) in enumerate(zip(_EDGES[:-1], _EDGES[1:], strict=True)):
    _BAND_MATRIX[_lo:max(_hi, _lo + 1), _b] = 1.0
_FLOOR = 1e3  # band power floor (sample units squared): keeps silence from looking like a huge gain
_FLOOR_DB = 30.0
UPDATE_EVERY = 8  # learning steps between two new estimates
NOISE_RISE_DB = 0.1  # per block: the room's floor per band follows a quieter block at once, a louder room
# at 5 dB/s


class DoubleTalkDetector:
    def __init__(self, *, tail_ms: int = 400, margin_db: float = 3.0, min_bands: int = 2, label_db: float = 10.0,
                 min_learned: int = 25, history: int = 256, quantile: float = 0.99, far_active_dbfs: float = -50.0):
        self.tail = max(1, tail_ms // (10 * HOP))
        self.margin_db = margin_db
        self.min_bands = min_bands
        self._label_db = label_db
        self.min_learned = min_learned
        self.quantile = quantile
        self._far_active = _BLOCK * (32768 * 10 ** (far_active_dbfs / 20)) ** 2
        nb = _BAND_MATRIX.shape[1]
        self._far_db = np.full((self.tail, nb), _FLOOR_DB)  # far-end band powers over the tail (ring, dB)
        self._noise_db: np.ndarray | None = None  # the microphone's own floor per band (the room)
        self._far_energy = np.zeros(self.tail)
        self._n = 0
        self._block = bytearray()  # mic, out and far of the frames of the block being filled
        self._frames = 0
        self._gains = np.full((history, nb), -np.inf)  # learned echo gains (dB, mic over loudest far), rings
        self._learned = np.zeros(nb, dtype=np.int64)
        self._steps = 0
        self.echo_gain_db: np.ndarray | None = None  # per band, None until learned
        self.near_end: bool | None = None  # the verdict on the latest frame

    def push(self, mic: bytes, far: bytes, out: bytes) -> bool | None:
        """One 10 ms frame: the microphone, the far end played with it, and the canceller's output."""
        self._block += mic + out + far
        self._frames += 1
        if self._frames < HOP:
            return self.near_end
        x = np.frombuffer(self._block, dtype="<i2").reshape(HOP, 3, FRAME_SAMPLES).transpose(1, 0, 2).reshape(3, _BLOCK)
        self._block.clear()
        self._frames = 0
        i = self._n % self.tail
        self._n += 1
        self._far_energy[i] = energy = float(np.dot(x[2], x[2].astype(np.float64)))
        if energy < self._far_active:
            self._far_db[i] = _FLOOR_DB
            if float(self._far_energy.max()) < self._far_active:
                self.near_end = None  # the speaker was silent over the whole tail: nothing here is echo
                return None
        spectrum = np.fft.rfft(x, axis=1)
        power_db = 10 * np.log10((spectrum.real ** 2 + spectrum.imag ** 2) @ _BAND_MATRIX + _FLOOR)
        mic_db = power_db[0]
        noise = self._noise_db
        self._noise_db = mic_db.copy() if noise is None else np.minimum(mic_db, noise + NOISE_RISE_DB)
        if energy >= self._far_active:
            self._far_db[i] = power_db[2]
        loudest_db = self._far_db.max(axis=0)
        self._learn(mic_db, power_db[1], loudest_db)
        if self.echo_gain_db is None:
            self.near_end = False
            return False
        unexplained = mic_db > np.maximum(self.echo_gain_db + loudest_db, self._noise_db) + self.margin_db
        self.near_end = int(np.count_nonzero(unexplained)) >= self.min_bands
        return self.near_end

    def _learn(self, mic_db: np.ndarray, out_db: np.ndarray, loudest_db: np.ndarray) -> None:
        bands = np.flatnonzero(mic_db > out_db + self._label_db)  # the canceller removed most: echo alone
        if bands.size == 0:
            return
        history = self._gains.shape[0]
        self._gains[self._learned[bands] % history, bands] = mic_db[bands] - loudest_db[bands]
        self._learned[bands] += 1
        self._steps += 1
        known = self._learned >= self.min_learned
        if self._steps % UPDATE_EVERY and self.echo_gain_db is not None or 2 * int(known.sum()) < known.size:
            return
        filled = np.minimum(self._learned, history)
        rank = history - np.maximum(1, np.ceil((1 - self.quantile) * filled).astype(np.int64))
        gain = np.take_along_axis(np.sort(self._gains, axis=0), rank[None, :], axis=0)[0]
        gain[~known] = gain[known].max()  # a band the speaker rarely reaches: assume the worst seen
        self.echo_gain_db = gain
