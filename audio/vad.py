"""Voice activity detection: webrtcvad frames wrapped in a hysteresis state machine.

webrtcvad (aggressiveness ``mode`` 0-3) classifies 10, 20 or 30 ms frames as voiced or not.  Single
frames flicker, so ``VoiceActivityDetector`` runs the machine QUIET -> STARTING -> SPEAKING -> STOPPING:

* QUIET -> STARTING on a voiced frame; STARTING -> SPEAKING as soon as ``start_ratio`` of ``start_ms``
  is voiced (the earliest moment the start window can no longer fail), otherwise back to QUIET once
  ``start_ms`` has passed with too few voiced frames;
* while the speaker plays (the caller passes ``near_end`` from the echo canceller, ``audio.double_talk``)
  a start also needs ``min_near_frames`` frames that held more than the speaker's echo, and is decided
  over the shorter ``barge_in_start_ms`` (a person talking over a reply should not wait; the echo check
  guards it); a start that never shows such a frame gives up after ``echo_hold_ms``.  The check sees the
  person only now and then through a loud echo, so such a frame (one the first stage heard too) keeps the
  next ``near_hold_ms`` open to the VAD and counts towards the start; and the canceller's suppressor thins
  the person's voice while both talk, so the second stage's bar there is ``neural_barge_in``;
* SPEAKING -> STOPPING on an unvoiced frame; STOPPING -> QUIET once ``stop_ms`` pass without voice
  (a voiced frame returns to SPEAKING).

Whether a frame is voiced is decided in two stages:

* the first stage, cheap, on every frame: webrtcvad, a fixed floor (``min_dbfs``) and the room's noise
  floor (tracked per frame: it follows a quieter room at once and a louder one slowly, and never while
  speech is open), which a frame must beat by ``floor_margin_db``;
* an optional second stage (a ``SpeechScorer``, e.g. ``audio.neural_vad.SileroScorer``): the frame is
  voiced when the scorer's speech probability is at least ``neural_threshold`` (``neural_release`` while a
  segment is open).  It runs only while the first stage has heard something in the last
  ``neural_hangover_ms`` or a segment is open, and is reset (and primed with the last ``PRIME_MS`` of audio)
  when it starts again, so a quiet room costs nothing.  While a segment is open a frame must also beat the
  noise floor, so speech-like noise (babble) does not hold a segment open after the person stopped.  It
  is what keeps noise from opening turns (hands-free starts, barge-in by voice) and what finds a quiet
  speaker the first stage would miss.

webrtcvad's first ``warmup_ms`` after creation are ignored (it reports speech on them even for digital
silence).

Events carry the boundary's own time, not the moment it was confirmed: ``speech_start.at`` is the start of
the first voiced frame, ``speech_end.at`` the end of the last voiced one, on the caller's clock (the
``t`` passed to ``process``: the capture time of the end of the frame, perf_counter or seconds into a
file); ``confirmed_at`` is the ``t`` at which the machine decided.  Pure logic, no I/O.

Usage::

    vad = VoiceActivityDetector(mode=2)
    for i, frame in enumerate(frames):           # 10 ms PCM16 frames, 16 kHz mono
        ev = vad.process(frame, (i + 1) * 0.010)
        if ev: print(ev.kind, ev.at)
    for ev in vad.finish(): ...                  # closes an open segment at the end of a file
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol

import numpy as np
import webrtcvad

from audio.frames import FRAME_BYTES, FRAME_MS, RATE

SPEECH_START = "speech_start"
SPEECH_END = "speech_end"


class VadState(Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class VadEvent:
    kind: str  # SPEECH_START | SPEECH_END
    at: float  # when the speech really started / ended (caller's clock)
    confirmed_at: float  # when the detector decided (caller's clock)


@dataclass(frozen=True, slots=True)
class VadOptions:
    mode: int = 2
    frame_ms: int = 10  # webrtcvad analysis frame: 10, 20 or 30 ms
    start_ms: int = 200
    start_ratio: float = 0.7
    stop_ms: int = 300  # a pause this long ends a segment (shorter ones are between words)
    min_dbfs: float = -60.0  # frames quieter than this are never speech (webrtcvad calls hiss speech)
    warmup_ms: int = 100  # webrtcvad flags its first frames as speech while it adapts: ignore them
    floor_margin_db: float = 6.0  # a voiced frame is at least this much louder than the noise floor
    neural_threshold: float = 0.5  # second stage: speech probability that makes a frame voiced
    neural_release: float = 0.5  # ... and that keeps an open segment voiced
    # ... and that makes a frame voiced while the speaker plays: the echo canceller's suppressor thins the
    # person's voice while both talk (the model scores a first word 0.1-0.5 there that it scores 0.8-0.95
    # alone; noise alone, brown, pink or babble, stays at or under 0.14); the echo check, not the model,
    # is what tells the person from the speaker there
    neural_barge_in: float = 0.15
    neural_hangover_ms: int = 300  # the second stage keeps running this long after the first stage's last hit
    # while the speaker plays (``near_end`` given): frames that must hold more than its echo before a start
    # counts, how long a start may wait for them, and the (shorter) start window: a person talking over a
    # reply should not wait for it, and the echo check stands guard instead
    min_near_frames: int = 2
    echo_hold_ms: int = 600
    near_hold_ms: int = 300  # a frame that held the person keeps the next ones this long open to the VAD
    barge_in_start_ms: int = 100

    def __post_init__(self) -> None:
        if not 0 <= self.mode <= 3:
            raise ValueError(f"VAD mode must be 0-3, got {self.mode}")
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"VAD frame must be 10, 20 or 30 ms, got {self.frame_ms}")
        if min(self.start_ms, self.stop_ms, self.barge_in_start_ms) < self.frame_ms:
            raise ValueError("start_ms and stop_ms must be at least one VAD frame")


class SpeechScorer(Protocol):
    """A second-stage speech detector: 10 ms frames in, the latest speech probability (0-1) out."""

    name: str

    def push(self, frame: bytes) -> float: ...

    def reset(self) -> None: ...


PRIME_MS = 480  # audio the second stage hears again when it starts, for context
FLOOR_DOWN = 0.3  # the floor follows a quieter frame quickly ...
FLOOR_UP_DB_PER_FRAME = 0.02  # ... and a louder room slowly (2 dB a second)


@dataclass(frozen=True, slots=True)
class _Heard:
    """What the first stage made of one analysis frame."""

    webrtc: bool  # webrtcvad called it speech
    loud: bool  # over ``min_dbfs`` and ``floor_margin_db`` over the noise floor
    hit: bool  # webrtcvad's speech over ``min_dbfs``, or a frame over the floor: worth the second stage


def _frame_power(frame: bytes) -> tuple[float, float]:
    """Mean square power of a PCM16 frame (sample units squared) and the same in dB."""
    x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    power = float(np.dot(x, x)) / x.size
    return power, 10 * math.log10(power + 1e-9)


def next_floor(floor: float | None, db: float, *, frozen: bool, up_db: float) -> float:
    """The room's noise floor after a frame of ``db``: the first frame sets it, a quieter frame pulls it
    down at once (by ``FLOOR_DOWN`` of the gap), a louder one raises it by at most ``up_db`` and never past
    the frame, and not at all while ``frozen`` (speech is open)."""
    if floor is None:
        return db
    if db < floor:
        return floor + FLOOR_DOWN * (db - floor)
    if frozen:
        return floor
    return min(db, floor + up_db)


class VoiceActivityDetector:
    def __init__(self, options: VadOptions | None = None, *, mode: int | None = None,
                 scorer: SpeechScorer | None = None):
        opts = options or VadOptions()
        if mode is not None:
            opts = replace(opts, mode=mode)
        self.options = opts
        self._vad = webrtcvad.Vad(opts.mode)
        self._group = opts.frame_ms // FRAME_MS
        self._frame_s = opts.frame_ms / 1000
        self._start_n = -(-opts.start_ms // opts.frame_ms)
        self._start_voiced = math.ceil(opts.start_ratio * self._start_n - 1e-9)
        self._barge_voiced = math.ceil(opts.start_ratio * -(-opts.barge_in_start_ms // opts.frame_ms) - 1e-9)
        self._hold_n = max(self._start_n, -(-opts.echo_hold_ms // opts.frame_ms))
        self._stop_n = -(-opts.stop_ms // opts.frame_ms)
        self._buf = bytearray()
        self.state = VadState.QUIET
        self._seen = 0  # analysis frames since STARTING / STOPPING began
        self._voiced = 0
        self._echo_seen = 0  # analysis frames of the start while the speaker played ...
        self._near = 0  # ... and those that held more than its echo
        self._onset = 0.0
        self._last_voiced_end: float | None = None
        self._unvoiced_since: int | None = None  # analysis frames since the last voiced one (None: no voice yet)
        self._last_t = 0.0
        self._warmup_left = -(-opts.warmup_ms // opts.frame_ms)
        # mean square of a frame at min_dbfs, in sample units squared
        self._min_power = (32768.0 * 10 ** (opts.min_dbfs / 20)) ** 2
        self.scorer = scorer
        self.floor_db: float | None = None  # the room's noise floor (dB of mean square power)
        self._hangover_n = -(-opts.neural_hangover_ms // opts.frame_ms)
        self._since_hit = self._hangover_n + 1  # analysis frames since the first stage last heard voice
        self._scoring = False
        self._recent: deque[bytes] = deque(maxlen=-(-PRIME_MS // opts.frame_ms))  # the scorer's context
        self._pending_echo = self._pending_near = False  # near_end of the 10 ms frames in the analysis frame
        # the last near_hold_ms of analysis frames: heard by the first stage and more than the speaker's echo
        self._near_recent: deque[bool] = deque(maxlen=max(1, -(-opts.near_hold_ms // opts.frame_ms)))

    @property
    def speaking(self) -> bool:
        """True while a confirmed speech segment is open (SPEAKING or STOPPING)."""
        return self.state in (VadState.SPEAKING, VadState.STOPPING)

    @property
    def trailing_silence_s(self) -> float:
        """Audio (seconds) processed since the last voiced frame (``inf`` before any voice), counted in
        frames, so it holds whatever pace the frames come at.  The push-to-talk gate reads it at the key
        release: a person who stopped talking a moment ago is done, one still mid-word is not."""
        if self._unvoiced_since is None:
            return float("inf")
        return self._unvoiced_since * self._frame_s

    def reset(self) -> None:
        self._buf.clear()
        self.state = VadState.QUIET
        self._seen = self._voiced = 0

    def suspend(self) -> None:
        """Frames stop coming for a while (the input chain rests between turns): forget the segment and the
        second stage's context, which belong to the moment; keep the noise floor and webrtcvad's adaptation.
        Nothing heard since counts as silence (``trailing_silence_s`` is ``inf``)."""
        self.reset()
        self._pending_echo = self._pending_near = False
        self._unvoiced_since = None
        self._since_hit = self._hangover_n + 1
        self._scoring = False
        self._recent.clear()
        self._near_recent.clear()

    def process(self, frame: bytes, t: float, near_end: bool | None = None) -> VadEvent | None:
        """Feed one 10 ms frame whose last sample was captured at ``t``; returns an event or None.

        ``near_end`` comes from the echo canceller while the speaker plays (``audio.double_talk``): True
        when the frame holds more than the speaker's echo, False when all of it could be echo, None when
        the speaker was silent.  A start heard while the speaker plays needs ``min_near_frames`` of the
        former, so a burst of echo the canceller let through does not open a turn."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"expected a {FRAME_MS} ms frame of {FRAME_BYTES} bytes, got {len(frame)}")
        self._last_t = t
        if near_end is not None:
            self._pending_echo = True
            self._pending_near = self._pending_near or near_end
        if self._group > 1:
            self._buf += frame
            if len(self._buf) < FRAME_BYTES * self._group:
                return None
            frame = bytes(self._buf)
            self._buf.clear()
        echo, near = self._pending_echo, self._pending_near
        self._pending_echo = self._pending_near = False
        voiced = self._is_voiced(frame, echo, near)
        if voiced:
            self._unvoiced_since = 0
        elif self._unvoiced_since is not None:
            self._unvoiced_since += 1
        return self._step(voiced, t, echo, near)

    def _is_voiced(self, frame: bytes, echo: bool = False, near: bool = False) -> bool:
        """Whether the frame is voice.  ``echo``: the speaker played over the echo tail; ``near``: the frame
        held more than its echo (see ``process``)."""
        heard = self._first_stage(frame)
        echo_only = self._echo_only(echo, near and heard.hit)
        if self.scorer is not None and not self._scoring:
            self._recent.append(frame)  # the scorer's context for when it starts again
        if self._warming_up():
            return False
        if self.scorer is None:
            return heard.webrtc and heard.loud and not echo_only
        if echo_only:  # the model is not run on the speaker's own voice (most of a reply)
            self._scoring = False
            return False
        return self._second_stage(self.scorer, frame, heard, echo)

    def _first_stage(self, frame: bytes) -> _Heard:
        """The cheap stage, on every frame: the frame's power against ``min_dbfs`` and the noise floor (which
        it moves), and webrtcvad's verdict (webrtcvad adapts on every frame, so it always runs)."""
        power, db = _frame_power(frame)
        floor = self.floor_db = next_floor(self.floor_db, db, frozen=self.speaking,
                                           up_db=FLOOR_UP_DB_PER_FRAME * self.options.frame_ms / FRAME_MS)
        audible = power >= self._min_power
        above_floor = db >= floor + self.options.floor_margin_db
        webrtc = self._vad.is_speech(frame, RATE)
        return _Heard(webrtc=webrtc, loud=audible and above_floor, hit=webrtc and audible or above_floor)

    def _echo_only(self, echo: bool, near_hit: bool) -> bool:
        """True when nothing but the speaker's echo was heard lately and no segment is under way: the frame
        cannot start one.  ``near_hit``: the first stage heard this frame and it held more than the echo.
        The person's voice shows through the echo now and then (where the echo is quiet), not on every frame
        of a word: such a frame keeps the next ``near_hold_ms`` open to the VAD (a quiet frame the echo
        check doubts proves nothing)."""
        self._near_recent.append(near_hit)
        return echo and not any(self._near_recent) and self.state is VadState.QUIET

    def _warming_up(self) -> bool:
        """True for webrtcvad's first ``warmup_ms`` (it calls them speech while it adapts); counts one frame."""
        if self._warmup_left <= 0:
            return False
        self._warmup_left -= 1
        return True

    def _second_stage(self, scorer: SpeechScorer, frame: bytes, heard: _Heard, echo: bool) -> bool:
        """The scorer's verdict, run only while the first stage heard something within
        ``neural_hangover_ms`` or a segment is open (a quiet room costs nothing)."""
        self._since_hit = 0 if heard.hit else self._since_hit + 1
        if self._since_hit > self._hangover_n and not self.speaking:
            self._scoring = False
            return False  # nothing the first stage would call speech: the model is not run
        if not self._scoring:
            self._restart_scorer(scorer)
        return self._neural_verdict(heard, scorer.push(frame), echo)

    def _restart_scorer(self, scorer: SpeechScorer) -> None:
        """Start the model again, primed with the audio just before (it needs context)."""
        scorer.reset()
        for earlier in self._recent:
            scorer.push(earlier)
        self._scoring = True

    def _neural_verdict(self, heard: _Heard, prob: float, echo: bool) -> bool:
        """Whether the scorer's speech probability ``prob`` makes the frame voiced: ``neural_release`` while a
        segment is open, else ``neural_threshold`` (``neural_barge_in`` while the speaker plays)."""
        if self.speaking:  # the floor is frozen while speech is open: the room alone is not "loud"
            return heard.loud and prob >= self.options.neural_release
        return heard.hit and prob >= (self.options.neural_barge_in if echo else self.options.neural_threshold)

    def _step(self, voiced: bool, t: float, echo: bool = False, near: bool = False) -> VadEvent | None:
        state = self.state
        if state is VadState.QUIET:
            if voiced:
                self.state, self._seen, self._voiced = VadState.STARTING, 1, 1
                self._echo_seen, self._near = int(echo), sum(self._near_recent)
                self._onset, self._last_voiced_end = t - self._frame_s, t
                return self._maybe_start(t)
            return None
        if state is VadState.STARTING:
            self._seen += 1
            self._echo_seen += echo
            self._near += near
            if voiced:
                self._voiced += 1
                self._last_voiced_end = t
            return self._maybe_start(t)
        if state is VadState.SPEAKING:
            if voiced:
                self._last_voiced_end = t
            else:
                self.state, self._seen = VadState.STOPPING, 1
                return self._maybe_stop(t)
            return None
        # STOPPING
        if voiced:
            self.state = VadState.SPEAKING
            self._last_voiced_end = t
            return None
        self._seen += 1
        return self._maybe_stop(t)

    def _maybe_start(self, t: float) -> VadEvent | None:
        """A start is confirmed as soon as the start window's share of voiced frames is reached (it cannot
        be missed any more); while the speaker plays, over the shorter barge-in window and once the person
        has shown through its echo."""
        not_echo = self._echo_seen == 0 or self._near >= self.options.min_near_frames
        need = self._barge_voiced if self._echo_seen else self._start_voiced
        if self._voiced >= need and not_echo:
            self.state = VadState.SPEAKING
            return VadEvent(SPEECH_START, self._onset, t)
        if self._seen < self._start_n:
            return None
        if self._voiced < self.options.start_ratio * self._seen or self._seen >= self._hold_n:
            self.state = VadState.QUIET  # too sparse (a click, a burst of noise), or only ever the echo
        return None

    def _maybe_stop(self, t: float) -> VadEvent | None:
        if self._seen < self._stop_n:
            return None
        self.state = VadState.QUIET
        return VadEvent(SPEECH_END, self._voiced_end(), t)

    def _voiced_end(self) -> float:
        return self._last_t if self._last_voiced_end is None else self._last_voiced_end

    def finish(self) -> list[VadEvent]:
        """End of input: closes a confirmed segment that is still open."""
        if self.speaking:
            self.state = VadState.QUIET
            return [VadEvent(SPEECH_END, self._voiced_end(), self._last_t)]
        self.reset()
        return []


def segments(events: list[VadEvent]) -> list[tuple[float, float]]:
    """Pair speech_start / speech_end events into (start, end) intervals."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for ev in events:
        if ev.kind == SPEECH_START:
            start = ev.at
        elif ev.kind == SPEECH_END and start is not None:
            out.append((start, ev.at))
            start = None
    return out
