"""Low-overhead latency histograms and counters for every pipeline stage.

``Histogram`` is log-bucketed over integer microseconds: values below 64 us are exact; above, each power of
two is split into 32 buckets, so a reported percentile is within 1/64 (1.6 %) of the true value (it reports
the bucket's midpoint).  Recording is an index computation and two integer additions (well under 2 us in
CPython; ``gemini-codegen bench`` measures it).  Memory is fixed: 1,216 counters per histogram.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.events import Alert, MetricsSnapshot, StageSummary

_SUB = 32
_N_BUCKETS = 64 + 36 * _SUB  # up to 2**41 us (about 25 days)
_MAX_VALUE = (1 << 41) - 1

# Stage names, what they measure, and their targets (p99, ms) from the design's performance table.
STAGES: dict[str, tuple[str, float | None]] = {
    # the headline (what a person feels) and its split: see desktop.voice_latency
    "voice.speech_end_to_first_sound": ("end of speech -> first reply sample to the speaker (headline)", 1000.0),
    "voice.turn_end_wait": ("end of speech -> key release (hands-free: the VAD's decision)", None),
    "voice.client_before": ("key release / end of speech -> activityEnd on the wire", 30.0),
    "voice.service": ("activityEnd on the wire -> first reply audio received", None),
    "voice.client_after": ("first reply audio received -> first sample to the speaker", 30.0),
    "live.release_to_activity_end": ("key release -> activityEnd on the wire", 30.0),
    "ui.key_to_paint": ("key press -> UI painted 'listening'", 16.0),
    "live.key_to_wire": ("key press -> first audio message on the wire", 30.0),
    "audio.capture_to_send": ("capture callback -> frame sent", 50.0),
    "live.speech_end_to_first_audio": ("end of speech -> first response audio received", 1000.0),
    "live.client_added": ("client-added share of end-of-speech -> first audio", 60.0),
    "audio.first_audio_to_played": ("first response audio received -> played", 100.0),
    "live.ws_open": ("TCP/TLS + WebSocket handshake", None),
    "live.setup": ("setup sent -> setupComplete", None),
    "live.reconnect_gap": ("goAway (or a drop) -> the next connection's setupComplete", 1000.0),
    "tool.call_to_response": ("tool call received -> tool response sent", None),
    "codegen.request_hit": ("CodeGen request answered from cache", 1.0),
    "codegen.request_miss": ("CodeGen request over HTTP", 500.0),
    "store.read": ("state store indexed read", 1.0),
    "store.write": ("state store batched write, per item", 5.0),
    "store.prune_chunk": ("one pruning chunk holding the write lock", 10.0),
    "turn.total": ("activityEnd -> turnComplete", None),
    "run_update.news_to_speech": ("run news seen -> Gemini's first audio of it (waits while you talk)", None),
    "run_update.prompt_to_speech": ("run update sent to Gemini -> its first audio", None),
}
# Stages whose time is not only the app's: the person (holding the key after the last word), Gemini, CodeGen
# or the network.  Over their goal they are worth showing, never worth a warning: nobody can act on it here.
NOT_THE_APPS = frozenset({"voice.speech_end_to_first_sound", "live.speech_end_to_first_audio",
                          "codegen.request_miss", "live.reconnect_gap"})
# A warning needs this many samples of a stage, with its p95 over the goal: a one-off slow sample (a cold
# database read at launch, one busy moment) is not a trend
WARN_MIN_SAMPLES = 20
# what the person can do about a slow stage of the app's own, by the stage's area
ADVICE = {"store": "The disk is busy or slow: the history database waits for it. Close programs that use the "
                   "disk heavily, or free some disk space.",
          "": "The computer is busy: close programs that use a lot of CPU, or choose \"Battery saver\" quality "
              "in Settings → Audio to lighten the app's own audio work."}
COUNTERS = ("reconnects", "rate_limited", "errors", "underruns", "dropped_frames", "frames_sent",
            "frames_captured", "messages_sent", "fresh_sessions", "keepalive_timeouts", "latency_drift_alerts")


def slow_stages(snap: MetricsSnapshot) -> list[str]:
    """The app's own stages that are slower than their goal: p95 over the target over at least
    ``WARN_MIN_SAMPLES`` samples (the targets are p99 goals, so this is a sustained breach, not one sample)."""
    return [name for name, s in snap.stages.items()
            if name not in NOT_THE_APPS and s.target_ms is not None and s.count >= WARN_MIN_SAMPLES
            and s.p95_ms > s.target_ms]


def advice(stages: list[str]) -> str:
    """What the person can do about ``stages`` being slow (one sentence per area, each once)."""
    areas = dict.fromkeys("store" if name.startswith("store.") else "" for name in stages)
    return " ".join(ADVICE[a] for a in areas)


def bucket_value(index: int) -> float:
    """The midpoint of bucket ``index`` in microseconds."""
    if index < 64:
        return float(index)
    e = index // _SUB - 1
    low = (index % _SUB + _SUB) << e
    return low + (1 << e) / 2


class Histogram:
    __slots__ = ("counts", "count", "total_us", "max_us")

    def __init__(self) -> None:
        self.counts = [0] * _N_BUCKETS
        self.count = 0
        self.total_us = 0
        self.max_us = 0

    def record_us(self, us: int) -> None:
        if us < 64:
            i = us if us > 0 else 0
        else:
            if us > _MAX_VALUE:
                us = _MAX_VALUE
            e = us.bit_length() - 6
            i = (e << 5) + (us >> e)
        self.counts[i] += 1
        self.count += 1
        self.total_us += us
        if us > self.max_us:
            self.max_us = us

    def record_s(self, seconds: float) -> None:
        self.record_us(int(seconds * 1e6))

    def percentile_us(self, p: float) -> float:
        if not self.count:
            return 0.0
        rank = max(1, int(p / 100.0 * self.count + 0.999999))
        seen = 0
        for i, c in enumerate(self.counts):
            if c:
                seen += c
                if seen >= rank:
                    return min(bucket_value(i), float(self.max_us))
        return float(self.max_us)

    def merge(self, other: Histogram) -> None:
        for i, c in enumerate(other.counts):
            if c:
                self.counts[i] += c
        self.count += other.count
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)

    def summary(self, target_ms: float | None = None) -> StageSummary:
        return StageSummary(self.count, self.percentile_us(50) / 1e3, self.percentile_us(95) / 1e3,
                            self.percentile_us(99) / 1e3, self.max_us / 1e3, target_ms)


@dataclass
class Metrics:
    """One registry per process (or per load-test session); stages are created on first use."""

    stages: dict[str, Histogram] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    def stage(self, name: str) -> Histogram:
        h = self.stages.get(name)
        if h is None:
            h = self.stages[name] = Histogram()
        return h

    def observe_s(self, name: str, seconds: float) -> None:
        self.stage(name).record_us(int(seconds * 1e6))

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def snapshot(self) -> MetricsSnapshot:
        return MetricsSnapshot(
            {name: h.summary(STAGES.get(name, ("", None))[1]) for name, h in sorted(self.stages.items())},
            dict(self.counters))

    def alerts(self, snap: MetricsSnapshot | None = None) -> list[Alert]:
        snap = snap or self.snapshot()
        return [Alert(name, s.p99_ms, s.target_ms) for name, s in snap.stages.items()
                if s.over_target and s.target_ms is not None]

    def merge(self, other: Metrics) -> None:
        for name, h in other.stages.items():
            self.stage(name).merge(h)
        for name, n in other.counters.items():
            self.count(name, n)
