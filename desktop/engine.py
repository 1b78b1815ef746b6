"""The session engine: one conversation with Gemini Live, on one asyncio loop.

Frames come in through ``feed_frame`` (from the capture callback via ``call_soon_threadsafe``, or from a
file source), pass the push-to-talk gate and the chunker, and leave as pre-encoded Live messages through
one sender task.  Server events come back through the client's event queue and become engine events on
the bus; tool calls go to the tool handler and their results back to Gemini.  Every stage is timed into
``Metrics``.  No Qt here: the window, the command line, the benchmark and the load test all drive this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from audio.frames import FRAME_BYTES, Chunker
from audio.gate import GateState, PushToTalkGate
from desktop.events import (
    AudioLevel,
    ErrorEvent,
    EventBus,
    Notice,
    Reconnected,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TranscriptDelta,
    TurnFinished,
)
from desktop.live import protocol as p
from desktop.live.client import IDLE_RESUME, LiveClient, LiveConfig, LiveError
from desktop.metrics import Metrics

if TYPE_CHECKING:
    from audio.pipeline import InputPipeline
    from audio.vad import VadEvent
    from desktop.quality import QualityProfile

log = logging.getLogger(__name__)


class ToolHandler(Protocol):
    """What the engine needs from a tool table (the CodeGen tools implement it)."""

    @property
    def declarations(self) -> Sequence[p.FunctionDeclaration]: ...

    async def call(self, name: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        """The function's output; raise an exception whose message is speakable on failure."""
        ...


class Player(Protocol):
    """Where response audio goes (the speaker, or a counting sink when headless)."""

    def write(self, pcm: bytes) -> None: ...

    def flush(self) -> None: ...

    def end_of_turn(self) -> None: ...


class NullPlayer:
    """Headless playback: counts what would have been played."""

    def __init__(self) -> None:
        self.bytes_written = 0
        self.flushes = 0

    def write(self, pcm: bytes) -> None:
        self.bytes_written += len(pcm)

    def flush(self) -> None:
        self.flushes += 1

    def end_of_turn(self) -> None:
        pass


@dataclass
class Turn:
    id: int
    started_at: float = field(default_factory=time.time)
    pressed_at: float | None = None  # perf_counter
    first_wire_at: float | None = None
    ended_at: float | None = None  # activityEnd (or text) sent
    speech_end_at: float | None = None  # the local VAD's end of speech (capture clock), when it saw one
    first_audio_at: float | None = None
    user_text: str = ""
    assistant_text: str = ""
    tool_ms: float = 0.0
    interrupted: bool = False
    replayed: bool = False
    retranscribing: bool = False  # replayed after a drop: the user transcript arrives again from the start
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineOptions:
    preroll_ms: int = 300
    tail_ms: int = 200
    chunk_ms: int = 20
    tool_timeout_s: float = 30.0
    # turns opened and closed by the local VAD (needs a pipeline; the setup keeps push-to-talk activity
    # signals): speech start = key down (the pre-roll covers the VAD's start delay), speech end = key up
    hands_free: bool = False
    # mute the microphone while the assistant speaks (laptop speakers without echo cancellation)
    half_duplex: bool = False


class SessionEngine:
    def __init__(self, live: LiveConfig, *, bus: EventBus | None = None, metrics: Metrics | None = None,
                 tools: ToolHandler | None = None, player: Player | None = None,
                 options: EngineOptions = EngineOptions(), pipeline: InputPipeline | None = None):
        self.bus = bus or EventBus()
        self.metrics = metrics or Metrics()
        self.tools = tools
        self.player = player or NullPlayer()
        self.pipeline = pipeline  # denoise -> level -> VAD before the gate (audio.pipeline.InputPipeline)
        self.options = options
        if tools is not None:
            live = LiveConfig(**{**live.__dict__, "setup": _with_tools(live.setup, tools.declarations)})
        self.client = LiveClient(live, self.metrics)
        self.gate = PushToTalkGate(options.preroll_ms, options.tail_ms)
        self.chunker = Chunker(options.chunk_ms)
        self.state = "closed"
        self.turn: Turn | None = None
        self.turns = 0
        self._outbox: deque[tuple[str, float]] = deque()
        self._outbox_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._tool_tasks: dict[str, asyncio.Task[Any]] = {}
        self._turn_done = asyncio.Event()
        self._closed = False
        self.profile: QualityProfile | None = None  # the quality profile in force (None: the options')
        self._pending_profile: QualityProfile | None = None
        self._idle_since = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            self.bus.emit(StateChanged(state, detail))

    async def start(self) -> None:
        """Connect (warm) and start the sender and event pump.  Raises ``LiveError`` on a fatal failure."""
        self._set_state("connecting")
        try:
            await self.client.connect()
        except LiveError as exc:
            self._set_state("error", exc.message)
            self.bus.emit(exc.event())
            raise
        self._tasks = [asyncio.create_task(self._sender(), name="engine-sender"),
                       asyncio.create_task(self._pump(), name="engine-pump"),
                       asyncio.create_task(self._idle_watch(), name="engine-idle")]
        self._set_state("ready")

    async def stop(self) -> None:
        self._closed = True
        for t in list(self._tool_tasks.values()):
            t.cancel()
        await self.client.close()
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._set_state("closed")

    # ------------------------------------------------------------------ input
    def press(self, at: float | None = None) -> None:
        """Push-to-talk key down (``at``: perf_counter of the key event).  Barges in on a reply."""
        at = time.perf_counter() if at is None else at
        if self.gate.state is GateState.OPEN:
            return
        if self.state == "speaking" or (self.turn and self.turn.ended_at and not self._turn_done.is_set()):
            self.player.flush()
            if self.turn:
                self.turn.interrupted = True
            self._finish_turn()
        self.turns += 1
        self.turn = Turn(self.turns, pressed_at=at)
        self._turn_done.clear()
        self._wake_connection()
        preroll = self.gate.press()
        self._enqueue(p.ACTIVITY_START, at)
        for frame in preroll:
            self._push_chunk(frame, at)
        self._set_state("listening")

    def release(self) -> None:
        if self.gate.release():
            self._end_activity()

    def feed_frame(self, frame: bytes, captured_at: float | None = None) -> None:
        """One 10 ms frame (called on the engine loop).  Never blocks, never awaits.

        With a ``pipeline`` the frame is denoised, metered (``AudioLevel`` events, at most 30 a second)
        and run through the VAD before the gate."""
        self.metrics.counters["frames_captured"] += 1
        at = time.perf_counter() if captured_at is None else captured_at
        if self.options.half_duplex and self._assistant_audible():
            frame = _SILENT_FRAME
        if self.pipeline is not None:
            out = self.pipeline.process(frame, at)
            frame = out.frame
            if out.level is not None:
                self.bus.emit(AudioLevel(out.level.rms_dbfs, out.level.peak_dbfs, out.speaking))
            if out.vad is not None:
                self._on_vad(out.vad)
        send, ended = self.gate.push(frame)
        if send:
            self._push_chunk(frame, at)
        if ended:
            self._end_activity()

    def _assistant_audible(self) -> bool:
        return self.state == "speaking" or bool(getattr(self.player, "busy", False))

    def _on_vad(self, ev: VadEvent) -> None:
        """Hands-free turns; and remember where speech really ended, so the reply latency counts from there."""
        if self.options.hands_free:
            if ev.kind == "speech_start" and self.gate.state is not GateState.OPEN:
                self.press(ev.confirmed_at)
            elif ev.kind == "speech_end":
                self.release()
        turn = self.turn
        if (ev.kind == "speech_end" and turn is not None and turn.first_audio_at is None
                and not self._turn_done.is_set() and (turn.pressed_at is None or ev.at >= turn.pressed_at)):
            turn.speech_end_at = ev.at

    def _push_chunk(self, frame: bytes, captured_at: float) -> None:
        self.metrics.counters["frames_sent"] += 1
        chunk = self.chunker.push(frame)
        if chunk is not None:
            self._enqueue(p.audio_message(chunk), captured_at)

    def _end_activity(self) -> None:
        rest = self.chunker.flush()
        now = time.perf_counter()
        if rest is not None:
            self._enqueue(p.audio_message(rest), now)
        self._enqueue(p.ACTIVITY_END, now)
        if self.turn:
            self.turn.ended_at = now
        self._set_state("thinking")
        if self._pending_profile is not None:
            self._switch_profile()  # the gate is closed and the chunker empty: nothing of a turn is lost

    async def send_text(self, text: str) -> None:
        """A typed request instead of speech."""
        if self.state == "speaking":
            self.player.flush()
            self._finish_turn()
        self.turns += 1
        self.turn = Turn(self.turns, ended_at=time.perf_counter(), user_text=text)
        self._turn_done.clear()
        self.bus.emit(TranscriptDelta(self.turn.id, "user", text, finished=True))
        await self.client.send_text(text)
        self._wake_connection()
        self._set_state("thinking")

    # ------------------------------------------------------------------ quality profile
    def apply_profile(self, profile: QualityProfile) -> None:
        """Switch chunk size, denoise, VAD frame, meter rate and jitter buffer live.  A turn in progress
        keeps its settings; the switch happens at its end (between turns), so no frame is lost or doubled."""
        self._pending_profile = profile
        if self.gate.state is GateState.IDLE:
            self._switch_profile()

    def _switch_profile(self) -> None:
        profile, self._pending_profile = self._pending_profile, None
        if profile is None or profile == self.profile:
            return
        self.profile = profile
        self.chunker = Chunker(profile.chunk_ms)  # only called with the gate closed: the old one is empty
        if self.pipeline is not None:
            self.pipeline = profile.input_pipeline(self.pipeline.vad.options.mode)
            if self.pipeline.fallback is not None:
                self.bus.emit(Notice(self.pipeline.fallback.message, kind="audio"))
        set_jitter = getattr(self.player, "set_jitter_ms", None)
        if set_jitter is not None:
            set_jitter(profile.jitter_ms)

    def _wake_connection(self) -> None:
        self._idle_since = time.monotonic()
        if self.client.suspended:
            asyncio.get_running_loop().create_task(self.client.resume())

    async def _idle_watch(self) -> None:
        """Profiles that do not keep the connection warm close it after ``idle_close_s`` without a turn."""
        while True:
            await asyncio.sleep(1.0)
            prof = self.profile
            if (prof is None or prof.keep_warm or self.client.suspended or self.state != "ready"
                    or self.client.turn_state != "idle" or self.gate.state is not GateState.IDLE):
                continue
            if time.monotonic() - self._idle_since >= prof.idle_close_s:
                await self.client.suspend()
                self.bus.emit(Notice("Idle: the Gemini connection is closed to save battery; it reopens when you talk",
                                     kind="power"))

    async def wait_turn(self, timeout: float) -> Turn | None:
        """Wait until the current turn has finished (turnComplete, interruption or error)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._turn_done.wait(), timeout)
        return self.turn if self._turn_done.is_set() else None

    def _enqueue(self, message: str, captured_at: float) -> None:
        self._outbox.append((message, captured_at))
        self._outbox_ready.set()

    async def _sender(self) -> None:
        client, outbox, metrics = self.client, self._outbox, self.metrics
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while outbox:
                message, captured_at = outbox.popleft()
                if message is p.ACTIVITY_START:
                    await client.activity_start()
                elif message is p.ACTIVITY_END:
                    await client.activity_end()
                else:
                    await client.send_encoded_audio(message)
                    now = time.perf_counter()
                    metrics.stage("audio.capture_to_send").record_us(int((now - captured_at) * 1e6))
                    turn = self.turn
                    if turn and turn.first_wire_at is None and turn.pressed_at is not None:
                        turn.first_wire_at = now
                        turn.timings_ms["key_to_wire"] = (now - turn.pressed_at) * 1e3
                        metrics.observe_s("live.key_to_wire", now - turn.pressed_at)

    # ------------------------------------------------------------------ server events
    async def _pump(self) -> None:
        async for ev in self.client.events():
            try:
                self._on_server_event(ev)
            except Exception:
                log.exception("engine failed on %s", type(ev).__name__)
        if not self._closed:
            self._set_state("error", "disconnected")
            self._turn_done.set()

    def _on_server_event(self, ev: Any) -> None:
        turn = self.turn
        if isinstance(ev, p.AudioChunk):
            if turn is None or self._turn_done.is_set():
                return  # audio after the turn ended (late frames of an interrupted reply)
            now = time.perf_counter()
            if turn.first_audio_at is None:
                turn.first_audio_at = now
                since = turn.speech_end_at if turn.speech_end_at is not None else turn.ended_at
                if since is not None:
                    e2e = now - since
                    turn.timings_ms["speech_end_to_first_audio"] = e2e * 1e3
                    self.metrics.observe_s("live.speech_end_to_first_audio", e2e)
                if turn.ended_at is not None and turn.speech_end_at is not None:
                    # the part after the key came up (the rest is the user holding the key after speaking)
                    after_key = now - turn.ended_at
                    turn.timings_ms["activity_end_to_first_audio"] = after_key * 1e3
                    self.metrics.observe_s("live.activity_end_to_first_audio", after_key)
                self._set_state("speaking")
            self.player.write(ev.data)
        elif isinstance(ev, p.InputTranscript):
            if turn:
                if turn.retranscribing:  # keep one copy of the replayed turn's transcript
                    turn.user_text = ""
                    turn.retranscribing = False
                turn.user_text += ev.text
                self.bus.emit(TranscriptDelta(turn.id, "user", ev.text, ev.finished))
        elif isinstance(ev, p.OutputTranscript):
            if turn:
                turn.assistant_text += ev.text
                self.bus.emit(TranscriptDelta(turn.id, "assistant", ev.text, ev.finished))
        elif isinstance(ev, p.ToolCall):
            for call in ev.calls:
                self._tool_tasks[call.id] = asyncio.create_task(self._run_tool(call, time.perf_counter()))
        elif isinstance(ev, p.ToolCallCancellation):
            for cid in ev.ids:
                task = self._tool_tasks.pop(cid, None)
                if task:
                    task.cancel()
        elif isinstance(ev, p.Interrupted):
            self.player.flush()
            if turn:
                turn.interrupted = True
        elif isinstance(ev, p.TurnComplete):
            self.player.end_of_turn()
            self._finish_turn()
        elif isinstance(ev, Reconnected):  # (the client counts reconnects)
            if ev.reason == IDLE_RESUME:
                return  # the turn that woke a suspended connection was only sent late, not resent
            if turn and ev.replayed_turn:
                turn.replayed = True
                turn.retranscribing = bool(turn.user_text)
                turn.assistant_text = ""
            self.bus.emit(Notice(f"Reconnected to Gemini ({ev.reason})"
                                 + ("; your last request was resent" if ev.replayed_turn else "")))
        elif isinstance(ev, ErrorEvent):
            self.metrics.count("errors")
            self.bus.emit(ev)
            if ev.kind == "timeout" or ev.fatal:
                self._finish_turn()
                if ev.fatal:
                    self._set_state("error", ev.message)
        # SetupComplete, GenerationComplete, ResumptionUpdate, GoAway and Usage need no engine action

    def _finish_turn(self) -> None:
        turn = self.turn
        if turn is None or self._turn_done.is_set():
            return
        now = time.perf_counter()
        if turn.ended_at is not None:
            turn.timings_ms["turn_total"] = (now - turn.ended_at) * 1e3
            self.metrics.observe_s("turn.total", now - turn.ended_at)
        self._idle_since = time.monotonic()
        self._turn_done.set()
        self.bus.emit(TurnFinished(turn.id, turn.user_text, turn.assistant_text, dict(turn.timings_ms),
                                   turn.interrupted, turn.started_at))
        if self.state != "error" and self.gate.state is GateState.IDLE:
            self._set_state("ready")

    async def _run_tool(self, call: p.FunctionCall, received_at: float) -> None:
        turn_id = self.turn.id if self.turn else 0
        self.bus.emit(ToolCallStarted(turn_id, call.id, call.name, call.args))
        error: str | None = None
        output: Mapping[str, Any] = {}
        try:
            if self.tools is None:
                raise RuntimeError(f"no tool named {call.name} is available")
            output = await asyncio.wait_for(self.tools.call(call.name, call.args), self.options.tool_timeout_s)
        except asyncio.CancelledError:
            self.bus.emit(ToolCallFinished(turn_id, call.id, call.name, call.args, {}, 0.0, "cancelled"))
            raise
        except TimeoutError:
            error = f"{call.name} took longer than {self.options.tool_timeout_s:g} seconds"
        except Exception as exc:  # the tool's message is what Gemini will say
            error = str(exc) or type(exc).__name__
        finally:
            self._tool_tasks.pop(call.id, None)
        result = p.FunctionResult(call.id, call.name, output=output if error is None else None,
                                  error={"message": error} if error else None)
        await self.client.send_tool_response([result])
        elapsed = time.perf_counter() - received_at
        self.metrics.observe_s("tool.call_to_response", elapsed)
        if self.turn and self.turn.id == turn_id:
            self.turn.tool_ms += elapsed * 1e3
        self.bus.emit(ToolCallFinished(turn_id, call.id, call.name, call.args, dict(output), elapsed * 1e3, error))


_SILENT_FRAME = bytes(FRAME_BYTES)


def _with_tools(setup: p.SetupOptions, declarations: Sequence[p.FunctionDeclaration]) -> p.SetupOptions:
    from dataclasses import replace

    return replace(setup, tools=tuple(declarations))
