"""The session engine: one conversation with Gemini Live, on one asyncio loop.

Turns and frames come from the engine's audio front end (``audio``, ``desktop.audio_front``: the microphone
with mute and half-duplex, the input chain, the push-to-talk gate and hands-free turns; or a file source):
a voice turn begun, its frames, its end.  They pass the chunker and leave as typed commands (``SendAudio``,
``ActivityStart``...) through one sender task to the Live transport, which encodes them.  Server events
come back from the transport; each kind has its own small handler, and they become engine events on the
bus; tool calls go to the tool handler and their results back to Gemini.  A turn's moments and the
latencies derived from them live in its ``TurnTimings`` and are timed into ``Metrics``.  No Qt here: the
window, the command line, the benchmark and the load test all drive this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from audio.frames import Chunker
from audio.null_player import NullPlayer
from desktop.audio_front import AudioFrontEnd
from desktop.events import (
    WAITING_FOR_YOU,
    EngineState,
    ErrorEvent,
    EventBus,
    Notice,
    Reconnected,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TranscriptDelta,
    TurnFinished,
    TurnStarted,
    UsageReported,
)
from desktop.live import protocol as p
from desktop.live.client import LiveTransport
from desktop.live.errors import LiveError
from desktop.live.session import (
    ActivityEnd,
    ActivityStart,
    Command,
    Renewal,
    SendAudio,
    SendText,
    SendToolResponse,
    Transcript,
    TurnBegun,
    TurnPhase,
    Why,
)
from desktop.metrics import Metrics
from desktop.run_updates import Activity
from desktop.turn import Turn, TurnTimings

if TYPE_CHECKING:
    from audio.echo import FarEndReference
    from audio.pipeline import InputPipeline
    from audio.vad import VadEvent
    from desktop.quality import QualityProfile
    from desktop.tracing import Tracer

log = logging.getLogger(__name__)


class ToolHandler(Protocol):
    """What the engine needs from a tool table (the CodeGen tools implement it)."""

    @property
    def declarations(self) -> Sequence[p.FunctionDeclaration]: ...

    @property
    def state_changing(self) -> frozenset[str]:
        """Tools whose call changes something elsewhere: one Gemini cancels while it is under way is finished
        (a request already sent cannot be recalled halfway), but its result is not sent."""
        ...

    async def call(self, name: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        """The function's output; raise an exception whose message is speakable on failure."""
        ...


class Player(Protocol):
    """Where response audio goes (the speaker, or a device clock when headless)."""

    # called (on the engine loop) with the perf_counter time a reply's first sample went to the device
    on_first_sample: Callable[[float], None] | None

    @property
    def reference(self) -> FarEndReference | None:
        """Exactly what the device played, for the echo canceller (None: nothing that can echo, e.g. headless)."""
        ...

    @property
    def busy(self) -> bool:
        """Reply audio is still queued for the device."""
        ...

    def write(self, pcm: bytes) -> None: ...

    def flush(self) -> None: ...

    def end_of_turn(self) -> None: ...

    def set_jitter_ms(self, jitter_ms: int) -> None: ...

    def prepare(self) -> None:
        """A turn started and a reply will follow: a speaker may start its stream now."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class EngineOptions:
    preroll_ms: int = 300
    tail_ms: int = 200
    chunk_ms: int = 20
    tool_timeout_s: float = 30.0
    # turns opened and closed by the local VAD (needs a pipeline; the setup keeps push-to-talk activity
    # signals): speech start = key down (the pre-roll covers the VAD's start delay), speech end = key up
    hands_free: bool = False
    # run the input chain on every frame, between turns too (the behaviour before the chain rested between
    # turns: the bench's baseline for the idle cost)
    chain_between_turns: bool = False


class SessionEngine:
    def __init__(self, transport: LiveTransport, *, bus: EventBus | None = None, metrics: Metrics | None = None,
                 tools: ToolHandler | None = None, player: Player | None = None,
                 options: EngineOptions = EngineOptions(), pipeline: InputPipeline | None = None,
                 tracer: Tracer | None = None):
        self.bus = bus or EventBus()
        self.tracer = tracer  # spans of turns and tool calls (desktop.tracing; None: tracing is off)
        self.metrics = metrics or Metrics()
        self.tools = tools
        self.player: Player = player or NullPlayer()
        self.options = options
        self.transport = transport
        # where frames become turns: the input chain, the gate, hands-free and the pre-roll between turns
        self.audio = AudioFrontEnd(self, self.bus, pipeline=pipeline, preroll_ms=options.preroll_ms,
                                   tail_ms=options.tail_ms, hands_free=options.hands_free,
                                   chain_between_turns=options.chain_between_turns)
        self.player.on_first_sample = self._on_first_sample
        self.chunker = Chunker(options.chunk_ms)
        self.state = EngineState.CLOSED
        self.turn: Turn | None = None
        self.live = transport.session  # the conversation's state without I/O: it owns the turn (see ``turns``)
        self._live_turn = 0  # the turn the events being handled belong to (the last ``TurnBegun`` handled)
        self.usage = p.Usage()  # tokens Gemini reported in this session (every turn's, added up)
        self._outbox: deque[tuple[Command, float]] = deque()
        self._outbox_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tool_tasks: dict[str, asyncio.Task[None]] = {}
        self._tool_names: dict[str, str] = {}  # of the calls in ``_tool_tasks``
        self._cancelled_calls: set[str] = set()  # cancelled by Gemini, finishing: their results are not sent
        self.waiting_for_user = False  # Gemini said it waits for the user's answer (waitingForInput)
        self._turn_done = asyncio.Event()  # the turn's record is finished (``TurnFinished`` emitted)
        self._closed = False
        self.profile: QualityProfile | None = None  # the quality profile in force (None: the options')
        self._pending_profile: QualityProfile | None = None
        self._idle_since = time.monotonic()
        self.failure: ErrorEvent | None = None  # the fatal error that ended the session, if one did
        self._handlers: dict[type, Callable[[Any], None]] = {
            p.AudioChunk: self._on_audio,
            TurnBegun: self._on_turn_begun,
            Transcript: self._on_transcript,
            p.ToolCall: self._on_tool_call,
            p.ToolCallCancellation: self._on_tool_cancellation,
            p.WaitingForInput: self._on_waiting_for_input,
            p.Interrupted: self._on_interrupted,
            p.TurnComplete: self._on_turn_complete,
            p.Usage: self._on_usage,
            Reconnected: self._on_reconnected,
            LiveError: self._on_error,
        }  # SetupComplete, GenerationComplete, ResumptionUpdate, GoAway, InterimInputTranscript: nothing to do
        # here (the window shows the final transcript; the interim one would only repaint it word by word)

    # ------------------------------------------------------------------ lifecycle
    def _set_state(self, state: EngineState, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            self.bus.emit(StateChanged(state, detail))

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)  # a reference until it ends, so it cannot be collected mid-run
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        """Connect (warm) and start the sender and event pump.  Raises ``LiveError`` on a fatal failure."""
        self._set_state(EngineState.CONNECTING)
        try:
            await self.transport.connect()
        except LiveError as exc:
            self._set_state(EngineState.ERROR, exc.message)
            self.bus.emit(ErrorEvent.of(exc))
            raise
        self._spawn(self._sender(), "engine-sender")
        self._spawn(self._pump(), "engine-pump")
        self._spawn(self._idle_watch(), "engine-idle")
        self._set_state(EngineState.READY)

    async def stop(self) -> None:
        """Close the session.  A turn still in flight (the key held, or the reply not yet complete: the app is
        closing, or a signal stopped it) is finished marked interrupted, so the user's words are kept."""
        if self.turn is not None and not self._turn_done.is_set():
            self.turn.interrupted = True
            self._finish_turn(error=CLOSED_MID_TURN)
        self._closed = True
        for t in list(self._tool_tasks.values()):
            t.cancel()
        await self.transport.close()
        for t in list(self._tasks):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._set_state(EngineState.CLOSED)

    @property
    def turns(self) -> int:
        """Turns begun in this conversation (the id of the current or last one), as the Live core counts them."""
        return self.live.turns_begun

    @property
    def reply_pending(self) -> bool:
        """The user's request is complete and its turn not yet finished here (the core's phase says the same once
        the events it has seen are handled; it can be ahead of them by those still queued)."""
        turn = self.turn
        return turn is not None and turn.timings.ended_at is not None and not self._turn_done.is_set()

    # ------------------------------------------------------------------ input
    def press(self, at: float | None = None) -> None:
        """Push-to-talk key down (``at``: perf_counter of the key event).  Barges in on a reply."""
        self.audio.press(at)

    def release(self) -> None:
        """Push-to-talk key up: the turn ends after the gate's tail."""
        self.audio.release()

    def feed_frame(self, frame: bytes, captured_at: float | None = None) -> None:
        """One 10 ms frame past mute and half-duplex (called on the engine loop): ``AudioFrontEnd.process``."""
        self.audio.process(frame, captured_at)

    @property
    def pipeline(self) -> InputPipeline | None:
        """The input chain (denoise -> level -> VAD) the front end runs before the gate."""
        return self.audio.pipeline

    @property
    def assistant_audible(self) -> bool:
        """The assistant is speaking, or its reply is still queued for the device."""
        return self._assistant_audible()

    @property
    def replying(self) -> bool:
        """A reply is coming or playing, or the speaker is still running (its echo)."""
        return self.reply_pending or self._assistant_audible() or bool(getattr(self.player, "running", False))

    @property
    def chunk_ms(self) -> int:
        """The audio chunk in force (the quality profile's, else the options')."""
        profile = self.profile
        return profile.chunk_ms if profile else self.options.chunk_ms

    def _assistant_audible(self) -> bool:
        return self.state is EngineState.SPEAKING or self.player.busy

    def begin_voice_turn(self, at: float) -> None:
        """The front end opens a voice turn (the key went down at ``at``): barge in, open it on the wire."""
        if self.reply_pending or self._assistant_audible():
            self._barge_in()
        self._new_turn(Turn(self.live.begin_turn(), timings=TurnTimings(pressed_at=at)), "voice")
        self._enqueue(ActivityStart(begun=True), at)

    def listening(self) -> None:
        """The pre-roll of the new voice turn is on its way."""
        self._set_state(EngineState.LISTENING)

    def speech_heard(self, ev: VadEvent) -> None:
        """Remember where speech really ended, so the reply latency counts from there."""
        turn = self.turn
        if (ev.kind == "speech_end" and turn is not None and turn.timings.first_audio_at is None
                and not self._turn_done.is_set()
                and (turn.timings.pressed_at is None or ev.at >= turn.timings.pressed_at)):
            turn.timings.speech_end_at = ev.at

    def send_audio(self, frame: bytes, captured_at: float) -> None:
        """One frame of the open voice turn, chunked for the wire."""
        self.metrics.counters["frames_sent"] += 1
        chunk = self.chunker.push(frame)
        if chunk is not None:
            self._enqueue(SendAudio(chunk), captured_at)

    def end_voice_turn(self) -> None:
        """The front end's gate closed: the rest of the turn's audio and its end go on the wire."""
        rest = self.chunker.flush()
        now = time.perf_counter()
        if rest is not None:
            self._enqueue(SendAudio(rest), now)
        self._enqueue(ActivityEnd(), now)
        if self.turn:
            self.turn.timings.ended_at = now
        self._set_state(EngineState.THINKING)
        if self._pending_profile is not None:
            self._switch_profile()  # the gate is closed and the chunker empty: nothing of a turn is lost

    async def send_text(self, text: str) -> None:
        """A typed request instead of speech (ignored once the session has failed).  One longer than
        ``MAX_TYPED_CHARS`` is refused here, before anything is sent, with an ``ErrorEvent`` saying the limit."""
        if self.failure is not None:
            return
        too_long = typed_too_long(text)
        if too_long is not None:
            self.bus.emit(ErrorEvent("input", too_long, "Shorten it, or split it into several requests."))
            return
        if self.reply_pending or self._assistant_audible():
            self._barge_in()
        turn = Turn(self.live.begin_turn(text), timings=TurnTimings(ended_at=time.perf_counter()))
        turn.user_text = self.live.user_text
        self._new_turn(turn, "typed")
        self.bus.emit(TranscriptDelta(turn.id, "user", text, finished=True))
        await self.transport.send(SendText(text, begun=True))
        self._set_state(EngineState.THINKING)

    async def announce(self, prompt: str) -> int:
        """Run news for Gemini to tell the user (``desktop.run_reporter``, only while ``activity()`` is quiet):
        a client turn the user did not say, so no user transcript is shown and the turn's user side stays
        empty.  It is answered, interrupted and replayed like any turn.  Returns the turn's id."""
        turn = Turn(self.live.begin_turn(), timings=TurnTimings(ended_at=time.perf_counter()))
        self._new_turn(turn, "app")
        await self.transport.send(SendText(prompt, begun=True))
        self._set_state(EngineState.THINKING)
        return turn.id

    def activity(self) -> Activity:
        """What the conversation is doing now: when all of it is quiet, run news may be spoken."""
        return Activity(key_held=self.audio.key_held,
                        user_speaking=self.pipeline is not None and self.pipeline.vad.speaking,
                        assistant_audible=self._assistant_audible(),
                        turn_in_flight=self.reply_pending or self.live.phase is not TurnPhase.IDLE,
                        tool_running=bool(self._tool_tasks),
                        session_ready=self.state not in (EngineState.CONNECTING, EngineState.ERROR,
                                                         EngineState.CLOSED))

    async def fresh_session(self) -> bool:
        """Leave the Gemini session for a new one that is told the last turns (the remedy for a session whose
        replies drift slower); the local history stays.  Between turns only: False otherwise."""
        if self.reply_pending or self.audio.key_held:
            return False
        return await self.transport.start_fresh()

    def _new_turn(self, turn: Turn, origin: str) -> None:
        """``origin``: who began the turn (voice, typed, or the app's own run news; see ``TurnStarted``)."""
        self.turn = turn
        self.waiting_for_user = False
        self._turn_done.clear()
        self.audio.turn_begun()
        if self.tracer is not None:
            self.tracer.turn_started(turn, origin)
        self.bus.emit(TurnStarted(turn.id, origin))
        self.player.prepare()
        self._wake_connection()

    def _barge_in(self) -> None:
        """The user talks over the assistant: silence it at once.  A reply the server is still sending is
        interrupted; the server ends it with ``interrupted`` and ``turnComplete``, and what arrives until
        then belongs to it, not to the user's new turn."""
        self.player.flush()
        if self.reply_pending and self.turn is not None:
            self.turn.interrupted = True
            self._finish_turn()

    # ------------------------------------------------------------------ quality profile
    def apply_profile(self, profile: QualityProfile) -> None:
        """Switch chunk size, denoise, VAD frame, meter rate and jitter buffer live.  A turn in progress
        keeps its settings; the switch happens at its end (between turns), so no frame is lost or doubled."""
        self._pending_profile = profile
        if not self.audio.key_held:
            self._switch_profile()

    def _switch_profile(self) -> None:
        profile, self._pending_profile = self._pending_profile, None
        if profile is None or profile == self.profile:
            return
        self.profile = profile
        self.chunker = Chunker(profile.chunk_ms)  # only called with the gate closed: the old one is empty
        if self.pipeline is not None:
            profile.configure(self.pipeline)  # the echo canceller and the VAD's neural stage carry over
            if self.pipeline.fallback is not None:  # the profile's choice, not the user's: a log line
                log.info("%s", self.pipeline.fallback.message)
        self.player.set_jitter_ms(profile.jitter_ms)

    def _wake_connection(self) -> None:
        self._idle_since = time.monotonic()
        if self.transport.suspended:
            self._spawn(self.transport.resume(), "engine-resume")

    async def _idle_watch(self) -> None:
        """Profiles that do not keep the connection warm close it after ``idle_close_s`` without a turn."""
        while True:
            await asyncio.sleep(1.0)
            prof = self.profile
            if (prof is None or prof.keep_warm or self.transport.suspended or self.state is not EngineState.READY
                    or self.live.phase is not TurnPhase.IDLE or self.audio.key_held):
                continue
            if time.monotonic() - self._idle_since >= prof.idle_close_s:
                await self.transport.suspend()
                self.bus.emit(Notice("Idle: the Gemini connection is closed to save battery; it reopens when you talk",
                                     kind="power"))

    async def wait_turn(self, timeout: float) -> Turn | None:
        """Wait until the current turn has finished (turnComplete, interruption or error; at once when the
        session has failed).  A failed turn comes back with its ``error`` set."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._turn_done.wait(), timeout)
        return self.turn if self._turn_done.is_set() else None

    def _enqueue(self, command: Command, captured_at: float) -> None:
        self._outbox.append((command, captured_at))
        self._outbox_ready.set()

    async def _sender(self) -> None:
        transport, outbox, metrics = self.transport, self._outbox, self.metrics
        capture_to_send = metrics.stage("audio.capture_to_send")
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while outbox:
                command, captured_at = outbox.popleft()
                await transport.send(command)
                kind = type(command)
                if kind is SendAudio:
                    now = time.perf_counter()
                    capture_to_send.record_us(int((now - captured_at) * 1e6))
                    if self.turn is not None:
                        self.turn.timings.on_wire(now, metrics)
                elif kind is ActivityEnd and self.turn is not None:
                    self.turn.timings.on_activity_end_sent(time.perf_counter(), metrics)

    # ------------------------------------------------------------------ server events
    async def _pump(self) -> None:
        async for ev in self.transport.events():
            handler = self._handlers.get(type(ev))
            if handler is None:
                continue
            try:
                handler(ev)
            except Exception:
                log.exception("engine failed on %s", type(ev).__name__)
        if not self._closed:
            self._set_state(EngineState.ERROR, "disconnected")
            self._turn_done.set()

    def _current(self) -> Turn | None:
        """The turn the event being handled belongs to, when it is the current one (None: an earlier turn's,
        e.g. the rest of a reply the user barged in on that the core had passed on before the new turn began)."""
        turn = self.turn
        return turn if turn is not None and turn.id == self._live_turn else None

    def _on_turn_begun(self, ev: TurnBegun) -> None:
        self._live_turn = ev.turn

    def _on_audio(self, ev: p.AudioChunk) -> None:
        turn = self._current()
        if turn is None or self._turn_done.is_set() or turn.timings.ended_at is None:
            # after the turn ended, or while the user is still talking, or of the reply they barged in on
            return
        if turn.timings.first_audio_at is None:
            turn.timings.on_first_audio(time.perf_counter(), self.metrics)
            self._set_state(EngineState.SPEAKING)
        self.player.write(ev.data)

    def _on_first_sample(self, played_at: float) -> None:
        """The player handed a reply's first sample to the device."""
        if self.turn is not None:
            self.turn.timings.on_first_sound(played_at, self.metrics)

    def _on_transcript(self, ev: Transcript) -> None:
        """The core keeps the transcript (bounded, and heard again from the start after a replay): the turn shows it."""
        turn = self._current()
        if turn is None:
            return
        if ev.user:
            turn.user_text = ev.text
        else:
            turn.assistant_text = ev.text
        if ev.delta or ev.finished:
            self.bus.emit(TranscriptDelta(turn.id, "user" if ev.user else "assistant", ev.delta, ev.finished))

    def _on_tool_call(self, ev: p.ToolCall) -> None:
        for call in ev.calls:
            self._tool_names[call.id] = call.name
            self._tool_tasks[call.id] = self._spawn(self._run_tool(call, time.perf_counter()), f"tool-{call.name}")

    def _on_tool_cancellation(self, ev: p.ToolCallCancellation) -> None:
        """Gemini cancelled calls (3.8: a BLOCKING call, when the user spoke): their results are never sent.
        A read is stopped at once (shown as cancelled); a call that changes something is left to finish (its
        request may already be with CodeGen: the run it starts is followed and shown with its real outcome),
        and its result is dropped."""
        finish = self.tools.state_changing if self.tools is not None else frozenset()
        for cid in ev.ids:
            task = self._tool_tasks.pop(cid, None)
            if task is None:
                continue  # answered already, or never ours
            if self._tool_names.pop(cid, "") in finish:
                self._cancelled_calls.add(cid)
            else:
                task.cancel()

    def _on_waiting_for_input(self, ev: p.WaitingForInput) -> None:
        self.waiting_for_user = True

    def _on_interrupted(self, ev: p.Interrupted) -> None:
        turn = self._current()
        if turn is None:
            return  # the reply the user barged in on (already silenced)
        self.player.flush()
        turn.interrupted = True

    def _on_turn_complete(self, ev: p.TurnComplete) -> None:
        if self._current() is None:  # the end of the reply the user barged in on, not of their new turn
            return
        self.player.end_of_turn()
        self._finish_turn()

    def _on_usage(self, ev: p.Usage) -> None:
        """Counted for the turn in progress (the report may come with, or just after, its turnComplete)."""
        self.usage = self.usage + ev
        turn = self.turn
        if turn is not None:
            turn.usage = turn.usage + ev
        self.bus.emit(UsageReported(turn.id if turn else 0, ev, turn.usage if turn else ev, self.usage))

    def _on_reconnected(self, ev: Reconnected) -> None:  # (the transport counts reconnects)
        self.bus.emit(ev)  # the drift watch starts a new baseline on a fresh session
        if ev.planned:
            return  # the turn that woke a suspended connection was only sent late, not resent
        turn = self._current()
        if turn and ev.replayed_turn:
            turn.replayed = True
            turn.assistant_text = ""  # (as the core's: the reply starts over)
            self.bus.emit(Notice(f"Reconnected to Gemini ({renewal_words(ev.reason)}); your last request was resent"))
        elif ev.lost_context:
            self.bus.emit(Notice("Gemini could not continue the old session and started a new one; it was told "
                                 "your last turns, the earlier ones are only in your history here"))
        else:  # resumed (or fresh with everything carried over): nothing was lost, nothing to tell
            log.info("reconnected to Gemini (%s), nothing lost", renewal_words(ev.reason))

    def _on_error(self, err: LiveError) -> None:
        ev = ErrorEvent.of(err)
        self.metrics.count("errors")
        self.bus.emit(ev)
        if ev.fatal:
            self.failure = ev
        if ev.turn_failed or ev.fatal:
            self._finish_turn(error=f"{ev.message} {ev.action}".strip())
            if ev.fatal:
                self._set_state(EngineState.ERROR, ev.message)

    def _finish_turn(self, error: str | None = None) -> None:
        turn = self.turn
        if turn is None or self._turn_done.is_set():
            if self.failure is not None:
                self._turn_done.set()  # nothing will finish a turn on a failed session: no one waits for it
            return
        turn.error = error
        turn.timings.on_finished(time.perf_counter(), self.metrics)
        if self.tracer is not None:
            self.tracer.turn_finished(turn, self._assistant_audible)
        self._idle_since = time.monotonic()
        self._turn_done.set()
        self.bus.emit(TurnFinished(turn.id, turn.user_text, turn.assistant_text, dict(turn.timings_ms),
                                   turn.interrupted, turn.started_at, error))
        if self.state is not EngineState.ERROR and not self.audio.key_held:
            self._set_state(EngineState.READY, WAITING_FOR_YOU if self.waiting_for_user else "")

    async def _run_tool(self, call: p.FunctionCall, received_at: float) -> None:
        turn_id = self.turn.id if self.turn else 0
        self.bus.emit(ToolCallStarted(turn_id, call.id, call.name, call.args))
        error: str | None = None
        detail: Mapping[str, Any] = {}
        output: Mapping[str, Any] = {}
        traced = self.tracer.tool_call(turn_id, call) if self.tracer is not None else contextlib.nullcontext()
        try:
            with traced:
                if self.tools is None:
                    raise RuntimeError(f"no tool named {call.name} is available")
                output = await asyncio.wait_for(self.tools.call(call.name, call.args), self.options.tool_timeout_s)
        except asyncio.CancelledError:
            self.bus.emit(ToolCallFinished(turn_id, call.id, call.name, call.args, {}, 0.0, "cancelled"))
            raise
        except TimeoutError as exc:
            error, detail = f"{call.name} took longer than {self.options.tool_timeout_s:g} seconds", _detail(exc)
        except Exception as exc:  # the tool's message is what Gemini will say
            error, detail = str(exc) or type(exc).__name__, _detail(exc)
        finally:
            if self._tool_tasks.get(call.id) is asyncio.current_task():
                del self._tool_tasks[call.id]
            self._tool_names.pop(call.id, None)
        if call.id in self._cancelled_calls:  # Gemini cancelled it: what it did is shown, never sent to Gemini
            self._cancelled_calls.discard(call.id)
            log.info("Gemini cancelled the %s call after it was sent; it finished and its result was not sent",
                     call.name)
            self.bus.emit(ToolCallFinished(turn_id, call.id, call.name, call.args, dict(output),
                                           (time.perf_counter() - received_at) * 1e3, error))
            return
        result = p.FunctionResult(call.id, call.name, output=output if error is None else None,
                                  error={"message": error, **detail} if error else None)
        await self.transport.send(SendToolResponse((result,)))
        elapsed = time.perf_counter() - received_at
        self.metrics.observe_s("tool.call_to_response", elapsed)
        if self.turn and self.turn.id == turn_id:
            self.turn.tool_ms += elapsed * 1e3
        self.bus.emit(ToolCallFinished(turn_id, call.id, call.name, call.args, dict(output), elapsed * 1e3, error))


def renewal_words(renewal: Renewal) -> str:
    """Why the Live connection was renewed, in words (for a notice and the log)."""
    if renewal.why is Why.CLOSED:
        return f"connection closed (code {renewal.code}: {renewal.detail or 'no reason'})"
    if renewal.why is Why.GO_AWAY:
        return "server asked to reconnect (goAway)"
    if renewal.why is Why.RESET:
        return renewal.detail
    return str(renewal.why.value)


def _detail(exc: BaseException) -> dict[str, Any]:
    """A failed tool call's response says more than its message (bare ones make Gemini 3.8 retry): a status,
    whether calling again can help, and what to do instead (a tool's refusal sets ``retryable`` and ``hint``)."""
    if isinstance(exc, TimeoutError):
        return {"status": "timeout", "retryable": False,
                "hint": "Tell the user it took too long; do not call it again on your own."}
    return {"status": getattr(exc, "outcome", "error"), "retryable": bool(getattr(exc, "retryable", False)),
            "hint": getattr(exc, "hint", "") or "Tell the user what went wrong; do not call it again on your own."}


CLOSED_MID_TURN = "The app was closed before the reply came."  # a turn in flight when the session stopped
MAX_TYPED_CHARS = 8_000  # characters of one typed request (the text box, `run --then`); longer is refused here


def typed_too_long(text: str) -> str | None:
    """Why ``text`` cannot be sent as a typed request (too long: the limit is said), or None."""
    if len(text) <= MAX_TYPED_CHARS:
        return None
    return (f"The typed request is {len(text):,} characters long; the limit is {MAX_TYPED_CHARS:,}, so it was "
            f"not sent.")
