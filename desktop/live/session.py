"""The state of one Gemini Live conversation, without I/O (in the style of websockets' ``Protocol``).

``LiveSession`` is fed with what happens — commands from the engine (``send``), frames from the server
(``receive_data``), clock ticks (``tick``), a connection coming up (``setup_reply``, ``connection_made``) or going away
(``connection_lost``, ``connect_failed``) — and is drained of what to do about it: frames to write
(``data_to_send``), events for the engine (``events_received``) and, when it wants one, a reconnect
(``take_reconnect``).  It owns the turn — its phase, its id (``begin_turn``), its transcript and a barge-in
on the reply before it — and tells the engine in its own event types (``TurnBegun``, ``Transcript``,
``Reconnected`` with a typed ``Renewal``, ``LiveError``); it also owns the replay buffer of the turn in
progress, the latest
resumption handle, the goAway / suspend / retry decisions, the keepalive policy and a short memory of the
last turns, which seeds a fresh session when the service refuses to resume the old one.  No sockets, no asyncio, no clock of its
own: ``desktop.live.client.LiveClient`` moves the bytes, and the resilience cases (goAway, 1011, a stalled
turn, replay after a drop) are unit-tested here in milliseconds.

It also bounds what a server can make the client do (``desktop.live.inbound``): a reply flooding more
messages than a reply can have, a run of malformed messages or a frame over the size limit fails the turn
(not replayed), says what came, and asks for a fresh connection; and a server that keeps dropping the
connection during replies ends the session instead of being reconnected for ever.

Typical use by a transport::

    session.send(ActivityStart(), now)          # engine command
    for frame in session.data_to_send(): ...   # write them
    session.receive_data(frame, now)            # a server frame
    for event in session.events_received(): ... # hand them to the engine
    if (reason := session.take_reconnect()): ...
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from desktop.live import protocol as p
from desktop.live.errors import LiveError, close_error, keeps_dropping, malformed_message, no_answer
from desktop.live.inbound import InboundGuard, oversized_frame

MAX_REPLAY_MESSAGES = 3000  # 60 s of 20 ms chunks: a turn longer than that is not replayed
SEED_TURNS = 6  # the last turns a fresh session is told about
SEED_CHARS_PER_TEXT = 300
MAX_TURN_TEXT = 32_000  # characters of one side of a turn (~25 minutes of speech); the rest is dropped
TRUNCATED = " [...]"
# Keepalive: Gemini answers pings late (8-30 s seen in the field) while it generates, promptly when idle.
# So pings are only judged while the session is idle, where a missing pong within this many seconds means
# the connection is dead; during a turn the watchdog judges by the server's own activity instead.
IDLE_PONG_TIMEOUT_S = 10.0
FLAP_S = 10.0  # a connection closed sooner than this after opening counts as a drop even between turns


def bounded_append(text: str, delta: str) -> tuple[str, str]:
    """``text`` with ``delta`` added, never past ``MAX_TURN_TEXT``; and the part of ``delta`` that was kept."""
    room = MAX_TURN_TEXT - len(text)
    if room <= 0 or not delta:
        return text, ""
    if len(delta) > room:
        delta = delta[:room] + TRUNCATED
    return text + delta, delta


class TurnPhase(enum.Enum):
    IDLE = "idle"  # no turn on the wire
    CAPTURING = "capturing"  # between activityStart and activityEnd
    AWAITING = "awaiting"  # the request is complete; the reply is due


class Link(enum.Enum):
    DOWN = "down"  # never connected yet
    UP = "up"
    RECONNECTING = "reconnecting"
    SUSPENDED = "suspended"  # closed on purpose while idle; the next turn reopens it
    CLOSED = "closed"  # closed for good (by us, or a fatal error)


# ---- commands (what the engine asks for; the session encodes them)
@dataclass(frozen=True, slots=True)
class ActivityStart:
    """Push-to-talk key down (also barge-in: the server interrupts a reply in progress)."""

    begun: bool = False  # the turn was begun already (``LiveSession.begin_turn``); else this begins it


@dataclass(frozen=True, slots=True)
class ActivityEnd:
    """Push-to-talk turn complete."""


@dataclass(frozen=True, slots=True)
class SendAudio:
    pcm: bytes  # 16 kHz mono PCM16, any whole number of samples


@dataclass(frozen=True, slots=True)
class SendText:
    """A typed request: one complete user turn."""

    text: str
    begun: bool = False  # the turn was begun already (``LiveSession.begin_turn``); else this begins it


@dataclass(frozen=True, slots=True)
class SendToolResponse:
    results: tuple[p.FunctionResult, ...]


Command = ActivityStart | ActivityEnd | SendAudio | SendText | SendToolResponse


# ---- what the session adds to the server's events
@dataclass(frozen=True, slots=True)
class TurnBegun:
    """A turn began (``LiveSession.begin_turn``): the events after this one belong to it, those before it to the
    turns before (a reader that handles events later than the session saw them can tell which is which)."""

    turn: int


@dataclass(frozen=True, slots=True)
class Transcript:
    """A piece of the turn's transcript as kept (each side bounded by ``MAX_TURN_TEXT``), with that side's text
    so far (after a replayed turn, the user's words are heard again from the start)."""

    user: bool  # the user's words (else the assistant's)
    delta: str
    text: str
    finished: bool


class Why(enum.Enum):
    """Why a connection is renewed (the engine puts it in words)."""

    CLOSED = "closed"  # the server or the network closed it (``Renewal.code``, ``detail``: its close frame)
    GO_AWAY = "goAway"  # the server asked for it
    TURN_TIMEOUT = "turn timed out"
    RESET = "reset"  # the server broke a bound (``inbound``; ``detail``: the error's message)
    FRESH = "fresh session"  # a new session without the resumption handle was asked for
    IDLE = "resumed after idle"  # a suspended connection reopened for a turn


@dataclass(frozen=True, slots=True)
class Renewal:
    why: Why
    code: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Reconnected:
    reason: Renewal
    resumed: bool  # the new connection continues the session (resumption handle)
    replayed_turn: bool = False  # the turn in progress was sent again on it
    planned: bool = False  # reopened on purpose (after an idle close): nothing for the user to know
    fresh: bool = False  # a new session (the handle was refused, or asked for), seeded with the last turns
    lost_context: bool = False  # fresh, and the conversation had more turns than the seed carries
    gap_ms: float | None = None  # goAway (or the drop) -> the new connection's setupComplete


LiveEvent = p.ServerEvent | TurnBegun | Transcript | Reconnected | LiveError  # (a LiveError: what went wrong)


# ---- what to do when a connection ends
@dataclass(frozen=True, slots=True)
class Reconnect:
    reason: Renewal
    delay_s: float = 0.0  # wait this long first (a server that keeps dropping us is not hammered)


@dataclass(frozen=True, slots=True)
class Fail:
    error: LiveError


class LiveSession:
    def __init__(self, setup: p.SetupOptions, *, turn_timeout_s: float = 30.0, max_reconnects: int = 5,
                 nudge_after_tool_response: bool = True, max_replay: int = MAX_REPLAY_MESSAGES,
                 idle_pong_timeout_s: float = IDLE_PONG_TIMEOUT_S, jitter: Callable[[], float] = random.random
                 ) -> None:
        self.setup = setup
        self.turn_timeout_s = turn_timeout_s
        self.max_reconnects = max_reconnects
        # Gemini 3.x may wait for new realtime input after a toolResponse: a " " text input unblocks it.
        self.nudge_after_tool_response = nudge_after_tool_response
        self.max_replay = max_replay
        self.idle_pong_timeout_s = idle_pong_timeout_s
        self._jitter = jitter
        # how audio is encoded: the pre-encoded fast path (the bench swaps in the naive one as its baseline)
        self.encode_audio: Callable[[bytes], str] = p.audio_message
        self.handle: str | None = setup.resumption_handle
        self.phase = TurnPhase.IDLE
        self.link = Link.DOWN
        self.connects = 0
        self._replay: list[str] = []  # the turn in progress, as sent (kept until its reply is complete)
        self._turn_on_wire = False  # some of the turn in progress went out (a replay would be a resend)
        self._out: list[str] = []
        self._events: list[LiveEvent] = []
        self._go_away = False
        self._reconnect: Renewal | None = None  # a reconnect this session wants (goAway between turns, a stall)
        self._last_server_activity = 0.0
        self._lost_at: float | None = None  # when the renewal began (goAway acted on), or the link dropped
        self.turns_begun = 0  # also the id of the turn in progress (or the last one)
        self.turns_completed = 0  # turns remembered for a fresh session's seed (those with words)
        self.interrupting = False  # barged in on a reply the server has not finished sending yet: its rest is dropped
        self.fresh_sessions = 0
        self._history: deque[tuple[str, str]] = deque(maxlen=SEED_TURNS)  # (user, assistant) of the last turns
        self._heard = ""  # the turn's transcripts, each side bounded by ``MAX_TURN_TEXT``
        self._said = ""
        self._retranscribing = False  # the turn was replayed: the user's words arrive again from the start
        self._seed_pending = False
        self._opened_at = 0.0
        self._drops = 0  # connections lost during replies (or right after opening) since the last finished reply
        self.guard = InboundGuard()

    # ------------------------------------------------------------------ draining
    def data_to_send(self) -> list[str]:
        out = self._out
        if out:
            self._out = []
        return out

    def events_received(self) -> list[LiveEvent]:
        events, self._events = self._events, []
        return events

    def take_reconnect(self) -> Renewal | None:
        """The reason for a reconnect this session wants now (None: none); asking clears it."""
        reason, self._reconnect = self._reconnect, None
        return reason

    # ------------------------------------------------------------------ connection lifecycle
    @property
    def connected(self) -> bool:
        return self.link is Link.UP

    @property
    def suspended(self) -> bool:
        return self.link is Link.SUSPENDED

    def setup_message(self) -> str:
        """The first frame of every connection (resuming with the latest handle when there is one)."""
        return p.setup_message(replace(self.setup, resumption_handle=self.handle))

    def setup_reply(self, frame: bytes | str, now: float, reconnect_reason: Renewal | None = None, *,
                    planned: bool = False) -> bool:
        """A frame on a new connection before ``setupComplete`` (the first frame written on it is
        ``setup_message``): True once it confirms the setup, and the connection is then made (see
        ``connection_made``); other messages before it are passed over.  Raises ``protocol.ProtocolError`` for a
        reply that is not a Live message."""
        if not any(isinstance(ev, p.SetupComplete) for ev in p.parse_server_message(frame)):
            return False
        self.connection_made(now, reconnect_reason, planned=planned)
        return True

    def connection_made(self, now: float, reconnect_reason: Renewal | None = None, *, planned: bool = False) -> None:
        """``setupComplete`` arrived (``setup_reply`` saw it).  After a reconnect (``reconnect_reason``) a fresh session is first told
        about the last turns, then a turn still in progress — cut off mid-reply, or begun while the link was
        down — is replayed, so none of its audio is lost."""
        self.connects += 1
        self.link = Link.UP
        self._go_away = False
        self._last_server_activity = self._opened_at = now
        self.guard = InboundGuard(self.guard.max_messages, self.guard.max_malformed)
        if reconnect_reason is None:
            return
        gap_ms = (now - self._lost_at) * 1e3 if self._lost_at is not None else None
        self._lost_at = None
        fresh, lost_context = self._seed_pending, False
        if fresh:
            self._seed_pending = False
            lost_context = self.turns_completed > len(self._history)
            if self._history:
                self._out.insert(0, p.client_content(self._seed_text(), turn_complete=False))
        self.interrupting = False  # a new connection does not end the old one's reply
        pending = self.phase is not TurnPhase.IDLE and bool(self._replay)
        resent = pending and self._turn_on_wire  # else the turn began while the link was down: a first send
        if pending:
            self._out[1 if fresh and self._history else 0:0] = self._replay
            self._turn_on_wire = True
        if resent and not planned:  # the reply starts over; so does the user's transcript
            self._retranscribing = bool(self._heard)
            self._said = ""
        self._events.append(Reconnected(reconnect_reason, self.handle is not None, resent, planned, fresh,
                                        lost_context, gap_ms))

    def _seed_text(self) -> str:
        lines = [f"{who}: {text}" for user, assistant in self._history
                 for who, text in (("User", user), ("You", assistant)) if text]
        return ("(Context, not a request: the connection was renewed. The conversation so far ended with:\n"
                + "\n".join(lines) + ")")

    def connection_lost(self, code: int | None, reason: str, now: float = 0.0, *,
                        sent_code: int | None = None) -> Reconnect | Fail | None:
        """The connection ended (``code``/``reason``: the server's close frame; ``sent_code``: ours, e.g. 1009
        when a frame over the size limit was refused).  None: we closed it ourselves (suspend, close, a
        reconnect under way)."""
        if self.link is not Link.UP:
            return None
        if sent_code == 1009:
            err = oversized_frame()
            self._fail_turn(err)
            self.link = Link.RECONNECTING
            if self._lost_at is None:
                self._lost_at = now
            return Reconnect(Renewal(Why.RESET, detail=err.message))
        err = close_error(code, reason, self.setup.model)
        # a drop during a reply, or right after connecting, counts; an idle connection closed after a while
        # (a connection lasts about ten minutes) does not
        flapping = self.phase is not TurnPhase.IDLE or now - self._opened_at < FLAP_S
        self._drops = self._drops + 1 if flapping else 0
        if not err.fatal and self._drops > self.max_reconnects:
            err = keeps_dropping(self._drops, err)
        if err.fatal:
            self.link = Link.CLOSED
            self._events.append(err)
            return Fail(err)
        if err.turn_failed:
            self._fail_turn(err)
        self.link = Link.RECONNECTING
        if self._lost_at is None:
            self._lost_at = now
        delay = min(2.0, 0.05 * 2 ** self._drops) * (0.5 + self._jitter()) if self._drops > 1 else 0.0
        return Reconnect(Renewal(Why.CLOSED, code, reason), delay)

    def begin_reconnect(self) -> None:
        self.link = Link.RECONNECTING
        self._go_away = False

    def connect_failed(self, err: LiveError, attempt: int) -> float | None:
        """Attempt ``attempt`` (0-based) to reconnect failed: seconds to wait before the next one, or None when
        the session gives up (the error is then reported as fatal).  A refused resumption handle (expired,
        unknown) is not a failure: the next attempt, at once, opens a fresh session seeded with the last
        turns.  So does a resume the service refuses twice (it refuses one while it still holds the old
        connection open, e.g. after the link died without a close): retrying it could take minutes."""
        if self.handle is not None and (err.kind == "session_expired" or (err.kind == "service" and attempt >= 1)):
            self._start_fresh()
            return 0.0
        if err.fatal or attempt >= self.max_reconnects - 1:
            self.link = Link.CLOSED
            self._events.append(err.as_fatal())
            return None
        delay: float = min(4.0, 0.1 * 2 ** attempt) * (0.5 + self._jitter())
        return delay

    def suspend(self) -> bool:
        """Close an idle connection on purpose (to save power); True when the transport should close it."""
        if self.link is not Link.UP or self.phase is not TurnPhase.IDLE:
            return False
        self.link = Link.SUSPENDED
        return True

    def resume(self) -> bool:
        """True when a suspended connection should be reopened now."""
        if self.link is not Link.SUSPENDED:
            return False
        self.link = Link.RECONNECTING
        return True

    def close(self) -> None:
        self.link = Link.CLOSED

    def start_fresh(self, now: float) -> bool:
        """Leave this session for a new one (without the resumption handle) that is told the last turns;
        the local history stays.  Only between turns; True when a reconnect was requested for it."""
        if self.link is not Link.UP or self.phase is not TurnPhase.IDLE:
            return False
        self._start_fresh()
        self._lost_at = now
        self._reconnect = Renewal(Why.FRESH)
        return True

    def _start_fresh(self) -> None:
        self.handle = None
        self._seed_pending = True
        self.fresh_sessions += 1

    def pong_timeout(self) -> float | None:
        """How long a keepalive ping may wait for its pong now; None: do not judge the link by pongs now
        (a turn is in progress: the service answers pings late while it generates)."""
        if self.link is Link.UP and self.phase is TurnPhase.IDLE:
            return self.idle_pong_timeout_s
        return None

    # ------------------------------------------------------------------ commands
    def send_audio(self, pcm: bytes) -> None:
        """``send(SendAudio(pcm), now)`` without the dispatch: the hot path, 50 calls a second while talking."""
        frame = self.encode_audio(pcm)
        if self.phase is TurnPhase.CAPTURING and len(self._replay) < self.max_replay:
            self._replay.append(frame)
        if self.link is Link.UP:
            self._out.append(frame)

    def begin_turn(self, user_text: str = "") -> int:
        """A new turn (the key, a typed request with its words ``user_text``, the app's own news): counted (its
        id is returned) and its transcript started.  A reply still due for the previous turn is barged in on:
        that turn is remembered as it stands, and the rest of its reply is dropped until its turnComplete.
        Called when the turn begins, ahead of its first command (``begun``); a command sent without that
        begins the turn itself."""
        if self.phase is TurnPhase.AWAITING and self.link is not Link.CLOSED:
            self.interrupting = True
            self._remember_turn()
        self.turns_begun += 1
        self._heard, self._said, self._retranscribing = bounded_append("", user_text)[0], "", False
        self.phase = TurnPhase.CAPTURING
        self._events.append(TurnBegun(self.turns_begun))
        return self.turns_begun

    @property
    def user_text(self) -> str:
        """The user's side of the turn in progress (or the last one) so far."""
        return self._heard

    @property
    def assistant_text(self) -> str:
        return self._said

    def send(self, command: Command, now: float) -> None:
        if isinstance(command, SendAudio):
            self.send_audio(command.pcm)
        elif isinstance(command, ActivityStart):
            if not command.begun:
                self.begin_turn()
            self._replay = []
            self._turn_on_wire = self.link is Link.UP
            self._keep(p.ACTIVITY_START)
            self._write(p.ACTIVITY_START)
        elif isinstance(command, ActivityEnd):
            self._keep(p.ACTIVITY_END)
            self._await_reply(now)
            self._write(p.ACTIVITY_END)
        elif isinstance(command, SendText):
            if not command.begun:
                self.begin_turn(command.text)
            frame = p.client_content(command.text)
            self._replay = [frame]
            self._turn_on_wire = self.link is Link.UP
            self._await_reply(now)
            self._write(frame)
        else:
            self._write(p.tool_response(command.results))
            self._last_server_activity = now
            if self.nudge_after_tool_response:
                self._write(p.text_input(" "))

    def _keep(self, frame: str) -> None:
        """Keep a frame of the user's turn for a replay until the reply is complete (bounded)."""
        if len(self._replay) < self.max_replay:
            self._replay.append(frame)

    def _write(self, frame: str) -> None:
        if self.link is Link.UP:
            self._out.append(frame)  # while the link is down, the replay buffer keeps what matters

    def _await_reply(self, now: float) -> None:
        self.phase = TurnPhase.AWAITING
        self._last_server_activity = now

    # ------------------------------------------------------------------ server frames and time
    def receive_data(self, frame: bytes | str, now: float) -> None:
        self._last_server_activity = now
        try:
            events = p.parse_server_message(frame)
        except p.ProtocolError as exc:
            if self.guard.malformed == 0:  # reported once; counted after that
                self._events.append(malformed_message(exc))
            if (err := self.guard.rejected()) is not None:
                self._reset(err)
            return
        if (err := self.guard.received(events)) is not None:
            self._reset(err)
            return
        for ev in events:
            if isinstance(ev, p.ResumptionUpdate):
                if ev.resumable and ev.handle:
                    self.handle = ev.handle
            elif isinstance(ev, p.AudioChunk | p.Interrupted):
                if self.interrupting:
                    continue  # the rest of the reply the user barged in on
            elif isinstance(ev, p.InputTranscript):
                if self._retranscribing:
                    self._heard, self._retranscribing = "", False
                self._heard, kept = bounded_append(self._heard, ev.text)
                self._events.append(Transcript(True, kept, self._heard, ev.finished))
                continue
            elif isinstance(ev, p.OutputTranscript):
                if self.interrupting:
                    continue
                self._said, kept = bounded_append(self._said, ev.text)
                self._events.append(Transcript(False, kept, self._said, ev.finished))
                continue
            elif isinstance(ev, p.TurnComplete):
                self.guard.reply_done()
                self._drops = 0
                if self.interrupting:  # the end of the reply the user barged in on, not of their new turn
                    self.interrupting = False
                    continue
                self._remember_turn()
                if self.phase is TurnPhase.AWAITING:
                    self.phase = TurnPhase.IDLE
                    self._replay = []
            elif isinstance(ev, p.GoAway):
                self._go_away = True
            self._events.append(ev)
        if self._go_away and self.phase is TurnPhase.IDLE and self.link is Link.UP:
            self._go_away = False
            self._reconnect = Renewal(Why.GO_AWAY)
            self._lost_at = now  # the old connection served the turn to its end: the gap starts now

    def _remember_turn(self) -> None:
        user, assistant = self._heard.strip(), self._said.strip()
        self._heard = self._said = ""
        if user or assistant:
            self._history.append((_short(user), _short(assistant)))
            self.turns_completed += 1

    def tick(self, now: float) -> None:
        """The turn watchdog: a reply that shows no server activity for ``turn_timeout_s`` is abandoned with
        a clear error, and the connection is renewed for the next turn."""
        if (self.phase is TurnPhase.AWAITING and self.link is Link.UP
                and now - self._last_server_activity > self.turn_timeout_s):
            self._fail_turn(no_answer(self.turn_timeout_s))
            self._reconnect = Renewal(Why.TURN_TIMEOUT)

    def _fail_turn(self, err: LiveError) -> None:
        """The turn in progress is lost and not replayed: say why (the engine finishes it as failed)."""
        self.phase = TurnPhase.IDLE
        self._replay = []
        self._events.append(err)

    def _reset(self, err: LiveError) -> None:
        """The server misbehaved (see ``inbound``): fail the turn and ask for a fresh connection."""
        self._fail_turn(err)
        self._reconnect = Renewal(Why.RESET, detail=err.message)


def _short(text: str) -> str:
    """What a fresh session's seed shows of one side of a turn (its start)."""
    return text if len(text) <= SEED_CHARS_PER_TEXT else text[:SEED_CHARS_PER_TEXT - 1] + "…"
