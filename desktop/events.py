"""Typed engine events and the bus that carries them.

Every consumer (the window, the store, the metrics, the command line) subscribes to the same stream.
Subscribers are called on the engine's loop thread and must be quick; the Qt bridge re-posts them to the
UI thread.  The bus hands every subscriber the event with the known secrets replaced (``desktop.redaction``),
so a server that echoes the API key never gets it onto the screen or into `run --json`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from desktop.codegen.api import RunCategory
from desktop.live.errors import LiveError
from desktop.live.session import Reconnected as Reconnected  # the Live core's event, passed on as it is
from desktop.live.usage import Usage
from desktop.redaction import SECRETS

log = logging.getLogger(__name__)


class EngineState(enum.StrEnum):
    """What the session engine is doing, as the user sees it (whether the far end is the offline demo's
    stand-in is a property of the session, not a state)."""

    CONNECTING = "connecting"
    READY = "ready"
    LISTENING = "listening"  # the push-to-talk gate is open
    THINKING = "thinking"  # the request is complete; no reply audio yet
    SPEAKING = "speaking"  # reply audio is arriving
    ERROR = "error"
    CLOSED = "closed"


# the READY state's detail when Gemini asked something and waits for the user's answer (waitingForInput)
WAITING_FOR_YOU = "Gemini is waiting for your answer"


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: EngineState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """A turn began: ``origin`` says who began it (``voice``: the key or hands-free speech, ``typed``: the text
    box, ``app``: the app's own run news).  Only a turn the user began can answer a read-back."""

    turn_id: int
    origin: str  # voice | typed | app


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    turn_id: int
    role: str  # "user" | "assistant"
    text: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    turn_id: int
    call_id: str
    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    turn_id: int
    call_id: str
    name: str
    args: Mapping[str, Any]
    result: Mapping[str, Any]
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TurnFinished:
    turn_id: int
    user_text: str
    assistant_text: str
    timings_ms: Mapping[str, float]
    interrupted: bool = False
    started_at: float = 0.0  # wall-clock seconds
    error: str | None = None  # the turn failed (no answer in time, connection lost...): why


@dataclass(frozen=True, slots=True)
class UsageReported:
    """Gemini reported the tokens of a response (``desktop.live.usage``: per message, added up): ``report`` is
    this message's, ``turn`` the turn's so far, ``session`` this session's so far.  A report counts for the
    turn in progress when it arrives (``turn_id`` 0: before the first turn)."""

    turn_id: int
    report: Usage
    turn: Usage
    session: Usage


@dataclass(frozen=True, slots=True)
class CostUpdate:
    """Tokens and their estimated price (``desktop.pricing``) this session and today (the local date ``day``),
    today's including earlier sessions' from the history database."""

    session: Usage
    today: Usage
    session_usd: float
    today_usd: float
    day: str
    prices_date: str  # when the price table's rates were noted


@dataclass(frozen=True, slots=True)
class AudioLevel:
    rms_dbfs: float
    peak_dbfs: float
    speech: bool = False


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """A user-facing problem: what happened and what to do about it (never a traceback)."""

    kind: str  # auth | network | rate_limited | no_microphone | protocol | timeout | model | policy | service
    #            | storage | codegen
    message: str
    action: str = ""
    fatal: bool = False  # the session is over
    turn_failed: bool = False  # the turn in progress is lost (a fatal error also ends it)

    @classmethod
    def of(cls, err: LiveError) -> ErrorEvent:
        """A Live connection's failure (``desktop.live.errors``) as the event the user sees."""
        return cls(err.kind, err.message, err.action, err.fatal, err.turn_failed)


@dataclass(frozen=True, slots=True)
class Notice:
    message: str
    kind: str = "info"


Subscriber = Callable[[Any], None]
E = TypeVar("E")


@dataclass
class EventBus:
    subscribers: list[Subscriber] = field(default_factory=list)

    def subscribe(self, fn: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Every event; returns the function that unsubscribes."""
        self.subscribers.append(fn)
        return lambda: self.subscribers.remove(fn) if fn in self.subscribers else None

    def on(self, kind: type[E], fn: Callable[[E], None]) -> Callable[[], None]:
        """Only the events of ``kind`` (a class, or a union of classes); returns the unsubscribe function."""

        def only(event: EngineEvent) -> None:
            if isinstance(event, kind):
                fn(event)

        return self.subscribe(only)

    def emit(self, event: EngineEvent) -> None:
        event = SECRETS(event)
        for fn in tuple(self.subscribers):
            try:
                fn(event)
            except Exception:  # a broken subscriber must not break the engine
                log.exception("event subscriber %r failed on %s", fn, type(event).__name__)


@dataclass(frozen=True, slots=True)
class StageSummary:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    target_ms: float | None = None

    @property
    def over_target(self) -> bool:
        return self.target_ms is not None and self.count > 0 and self.p99_ms > self.target_ms


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    stages: Mapping[str, StageSummary]
    counters: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Alert:
    stage: str
    p99_ms: float
    target_ms: float


@dataclass(frozen=True, slots=True)
class LatencyDrift:
    """Replies have become much slower than at the start of this Gemini session (a fresh one usually helps)."""

    baseline_ms: float  # median reply latency of the session's first turns
    recent_ms: float  # median of the last turns
    turns: int  # turns seen in this session

    @property
    def message(self) -> str:
        return (f"Gemini's replies have slowed down: {self.recent_ms / 1e3:.1f} s lately against "
                f"{self.baseline_ms / 1e3:.1f} s at the start of this session.")

    action = "Start a fresh session: Gemini keeps your last turns, your history stays here."


# ---- CodeGen runs (emitted by desktop.codegen.tracker; shown by the runs panel, stored by the state store)
@dataclass(frozen=True, slots=True)
class PullRequest:
    title: str
    url: str
    branch: str = ""


@dataclass(frozen=True, slots=True)
class RunUpdate:
    """A run was seen with new data (status, summary, pull requests)."""

    run_id: int
    status: str  # as the API sent it, e.g. "RUNNING", "completed"
    category: RunCategory
    prompt: str = ""
    summary: str = ""
    web_url: str = ""
    pull_requests: tuple[PullRequest, ...] = ()
    created_at: str = ""
    updated_at: float = 0.0  # wall-clock seconds when seen

    def same_run(self, earlier: RunUpdate) -> bool:
        """Whether ``earlier`` was about this very run: a service can give an id out again (another run, created
        at another time); an update without a creation time belongs to the run the id names now."""
        return (earlier.run_id == self.run_id
                and (not self.created_at or not earlier.created_at or self.created_at == earlier.created_at))

    def after(self, earlier: RunUpdate | None) -> RunUpdate:
        """The run's whole record once this update arrives after ``earlier``: the one merge rule, kept by the
        run cards and, in SQL, by the history database (``desktop.state.runs.UPSERT_RUN``; tests check the two
        agree).  A field this update lacks keeps the earlier value; a newer run under a reused id replaces the
        old one whole (nothing of the old run carries over)."""
        if earlier is None or not self.same_run(earlier):
            return self
        return replace(self, prompt=self.prompt or earlier.prompt, summary=self.summary or earlier.summary,
                       web_url=self.web_url or earlier.web_url,
                       pull_requests=self.pull_requests or earlier.pull_requests,
                       created_at=self.created_at or earlier.created_at)


@dataclass(frozen=True, slots=True)
class RunStep:
    """A new step from the run's logs (only followed for the run in focus)."""

    run_id: int
    index: int
    message_type: str
    text: str
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class RunFinished:
    """A run reached done/failed (or is no longer known): the window notifies when it is not in view."""

    run_id: int
    category: RunCategory
    summary: str
    web_url: str = ""


@dataclass(frozen=True, slots=True)
class RunReport:
    """News of runs told to the user (desktop.run_reporter): spoken as Gemini's turn ``turn_id``, or shown
    only (``spoken`` False: speaking run updates is off, or the news was too old to speak)."""

    run_ids: tuple[int, ...]
    text: str  # the news in one sentence (what Gemini was asked to say, or what is shown)
    spoken: bool
    turn_id: int | None = None  # the engine turn in which Gemini speaks it
    why_not_spoken: str = ""  # off | expired


# ---- consent (desktop.consent): a request read back and waiting for the user's yes, and how it ended
@dataclass(frozen=True, slots=True)
class ConfirmationAsked:
    """A state change was read back; nothing happens until the user says yes (or clicks Start)."""

    ask_id: int
    kind: str  # create | resume
    prompt: str  # the whole request, exactly what a yes starts
    repo: str = ""  # create: the repository named ("" none)
    run_id: int | None = None  # resume: the run the instruction goes to
    speech: str = ""  # what Gemini was given to read back
    turn_id: int = 0


@dataclass(frozen=True, slots=True)
class ConfirmationClosed:
    ask_id: int
    outcome: str  # started | cancelled | replaced | withdrawn | failed
    run_id: int | None = None


# ---- power and quality (desktop.power / desktop.quality)
@dataclass(frozen=True, slots=True)
class ProfileChanged:
    profile: str  # performance | balanced | saver
    reason: str  # e.g. "on battery at 24 % (<= 30 %)"


# Everything the engine, the CodeGen tracker, the power monitor and monitoring put on the bus.
EngineEvent = (StateChanged | TurnStarted | TranscriptDelta | ToolCallStarted | ToolCallFinished | TurnFinished
               | AudioLevel | ErrorEvent | Notice | Reconnected | MetricsSnapshot | Alert | LatencyDrift | RunUpdate
               | RunStep | RunFinished | RunReport | ConfirmationAsked | ConfirmationClosed | ProfileChanged
               | UsageReported | CostUpdate)
