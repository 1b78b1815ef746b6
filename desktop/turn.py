"""One conversational turn and its moments: what the engine tracks per turn, and what tracing, the window and the
history read of it.  A leaf (no engine import), so readers of a turn never import the engine."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from desktop.live.usage import Usage
from desktop.metrics import Metrics
from desktop.voice_latency import RELEASE_TO_ACTIVITY_END, VoiceLatency


@dataclass
class TurnTimings:
    """The moments of one turn (``perf_counter``) and the latencies derived from them, each recorded into
    ``Metrics`` once, when it becomes known."""

    pressed_at: float | None = None  # key down
    first_wire_at: float | None = None  # the first audio of the turn handed to the transport
    released_at: float | None = None  # key up (hands-free: the VAD's end-of-speech decision)
    ended_at: float | None = None  # activityEnd (or the typed request) queued
    activity_end_sent_at: float | None = None  # activityEnd handed to the transport
    speech_end_at: float | None = None  # the local VAD's end of speech (capture clock), when it saw one
    first_audio_at: float | None = None  # the first reply audio received
    first_sound_at: float | None = None  # the reply's first sample handed to the output device
    ms: dict[str, float] = field(default_factory=dict)

    def on_wire(self, now: float, metrics: Metrics) -> None:
        if self.first_wire_at is not None or self.pressed_at is None:
            return
        self.first_wire_at = now
        self._record("key_to_wire", "live.key_to_wire", now - self.pressed_at, metrics)

    def on_activity_end_sent(self, now: float, metrics: Metrics) -> None:
        if self.activity_end_sent_at is not None:
            return
        self.activity_end_sent_at = now
        if self.released_at is not None:
            self._record("release_to_activity_end", RELEASE_TO_ACTIVITY_END, now - self.released_at, metrics)

    def on_first_sound(self, played_at: float, metrics: Metrics) -> None:
        """The reply's first sample reached the device: the headline latency (and its split) is complete."""
        if self.first_audio_at is None or self.first_sound_at is not None:
            return
        self.first_sound_at = played_at
        if self.speech_end_at is None or self.activity_end_sent_at is None:
            return  # a typed turn, or no local VAD: nothing to count from
        latency = VoiceLatency(self.speech_end_at, self.activity_end_sent_at, self.first_audio_at, played_at,
                               self.released_at)
        self.ms.update(latency.timings_ms())
        latency.record(metrics)

    def on_first_audio(self, now: float, metrics: Metrics) -> None:
        self.first_audio_at = now
        since = self.speech_end_at if self.speech_end_at is not None else self.ended_at
        if since is not None:
            self._record("speech_end_to_first_audio", "live.speech_end_to_first_audio", now - since, metrics)
        if self.ended_at is not None and self.speech_end_at is not None:
            # the part after the key came up (the rest is the user holding the key after speaking)
            self._record("activity_end_to_first_audio", "live.activity_end_to_first_audio", now - self.ended_at,
                         metrics)

    def on_finished(self, now: float, metrics: Metrics) -> None:
        if self.ended_at is not None:
            self._record("turn_total", "turn.total", now - self.ended_at, metrics)

    def _record(self, key: str, stage: str, seconds: float, metrics: Metrics) -> None:
        self.ms[key] = seconds * 1e3
        metrics.observe_s(stage, seconds)


@dataclass
class Turn:
    id: int
    started_at: float = field(default_factory=time.time)  # wall clock
    timings: TurnTimings = field(default_factory=TurnTimings)
    user_text: str = ""
    assistant_text: str = ""
    tool_ms: float = 0.0
    interrupted: bool = False
    replayed: bool = False
    error: str | None = None  # why the turn failed (timeout, connection reset...), when it did
    usage: Usage = field(default_factory=Usage)  # tokens Gemini reported for it so far

    @property
    def timings_ms(self) -> dict[str, float]:
        return self.timings.ms
