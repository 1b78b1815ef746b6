"""The latency a person feels: end of speech -> first reply sample handed to the output device.

One headline number, everywhere (run JSON, the perf panel's top line, the bench, the load test, the docs),
split so a slow turn says where the time went:

* ``turn_end_wait``: end of speech (the local VAD's, on the capture clock) -> the key release (the person
  holding the key after their last word) or, hands-free, -> the VAD's end-of-speech decision;
* ``client_before``: the later of the end of speech and that release -> ``activityEnd`` on the wire (the
  client's own share before the service);
* ``service``: ``activityEnd`` on the wire -> first reply audio received (network + model);
* ``client_after``: first reply audio received -> its first sample handed to the device (jitter buffer
  and the device's block clock included).

A turn's ``timings_ms`` carries them under ``TIMING_KEYS`` (the stage names without ``voice.``, and
``release_to_activity_end``); ``of_turn`` picks them out for a report, ``headline`` sums up a run's stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

HEADLINE = "voice.speech_end_to_first_sound"
TURN_END_WAIT = "voice.turn_end_wait"
CLIENT_BEFORE = "voice.client_before"
SERVICE = "voice.service"
CLIENT_AFTER = "voice.client_after"
RELEASE_TO_ACTIVITY_END = "live.release_to_activity_end"
PARTS = (TURN_END_WAIT, CLIENT_BEFORE, SERVICE, CLIENT_AFTER)
CLIENT_PARTS = (CLIENT_BEFORE, CLIENT_AFTER)


def timing_key(stage: str) -> str:
    """The key of a stage in a turn's ``timings_ms``."""
    return stage.split(".", 1)[1]


TIMING_KEYS = tuple(timing_key(s) for s in (HEADLINE, *PARTS, RELEASE_TO_ACTIVITY_END))


class StageSink(Protocol):
    def observe_s(self, name: str, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class VoiceLatency:
    speech_end: float  # perf_counter seconds
    activity_end_sent: float
    first_audio: float
    first_sound: float
    released: float | None = None  # key up, or the hands-free VAD's decision (None: not known)

    @property
    def parts_s(self) -> dict[str, float]:
        turn_end = self.speech_end if self.released is None else max(self.speech_end, self.released)
        return {TURN_END_WAIT: turn_end - self.speech_end,
                CLIENT_BEFORE: max(0.0, self.activity_end_sent - turn_end),
                SERVICE: max(0.0, self.first_audio - self.activity_end_sent),
                CLIENT_AFTER: max(0.0, self.first_sound - self.first_audio)}

    @property
    def total_s(self) -> float:
        return max(0.0, self.first_sound - self.speech_end)

    def timings_ms(self) -> dict[str, float]:
        """For a turn's ``timings_ms``: the headline and its split."""
        out = {timing_key(HEADLINE): self.total_s * 1e3}
        out.update({timing_key(k): v * 1e3 for k, v in self.parts_s.items()})
        return out

    def record(self, metrics: StageSink) -> None:
        metrics.observe_s(HEADLINE, self.total_s)
        for name, seconds in self.parts_s.items():
            metrics.observe_s(name, seconds)


def of_turn(timings_ms: Mapping[str, float]) -> dict[str, float]:
    """The headline latency of a turn and its split (ms, rounded), as far as the turn measured them."""
    return {k: round(float(timings_ms[k]), 2) for k in TIMING_KEYS if k in timings_ms}


def headline(stages: Mapping[str, Mapping[str, float]]) -> dict[str, Any] | None:
    """The headline of a run from its stages (name -> {"p50_ms", "p95_ms", ...}): p50 and p95, the split at
    p95 and the client's share (before + after) at p95; None when no turn measured it."""
    head = stages.get(HEADLINE)
    if not head:
        return None
    split = {name: round(float(stages[name]["p95_ms"]), 2) for name in PARTS if name in stages}
    return {"p50_ms": round(float(head["p50_ms"]), 2), "p95_ms": round(float(head["p95_ms"]), 2),
            "split_p95_ms": split, "client_share_p95_ms": round(sum(split.get(n, 0.0) for n in CLIENT_PARTS), 2)}
