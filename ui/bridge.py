"""The one bridge between the Qt thread and the engine thread (the engine runs headless; the window only paints).

The engine (``desktop.session.open_session``) runs on its own thread with its own asyncio loop.  Commands
go in with ``loop.call_soon_threadsafe`` / ``asyncio.run_coroutine_threadsafe``; engine events come out as
Qt signals.  Events are not posted one by one: the bus subscriber (engine thread) appends them to a queue
and posts a single queued "wake" signal; the Qt thread drains the queue, keeps only the newest level and
metrics sample, joins consecutive transcript deltas of one speaker, and emits typed signals.  A flood of
engine events therefore costs the UI one drain per event-loop pass, never one repaint per event.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal

from desktop.config import Settings
from desktop.events import (
    Alert,
    AudioLevel,
    ConfirmationAsked,
    ConfirmationClosed,
    CostUpdate,
    ErrorEvent,
    EventBus,
    LatencyDrift,
    MetricsSnapshot,
    Notice,
    ProfileChanged,
    RunFinished,
    RunReport,
    RunStep,
    RunUpdate,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TranscriptDelta,
    TurnFinished,
)
from desktop.metrics import Metrics

if TYPE_CHECKING:
    from audio.capture import MicCapture
    from audio.playback import SpeakerPlayer
    from desktop.engine import SessionEngine
    from desktop.session import Session
    from desktop.state.store import Store

log = logging.getLogger(__name__)

MAX_DRAIN = 20_000  # events handled per wake; the rest wait for the next pass so input stays responsive


def effective_settings(settings: Settings) -> Settings:
    """Offline demo when forced or when there is no Gemini key (first run)."""
    return settings if settings.offline or settings.has_gemini_credentials else settings.replace(offline=True)


def coalesce(events: list[Any]) -> list[Any]:
    """Drop superseded levels/snapshots and join consecutive deltas of the same turn and speaker."""
    out: list[Any] = []
    last_level = last_snapshot = -1
    for ev in events:
        if isinstance(ev, AudioLevel):
            if last_level >= 0:
                out[last_level] = None
            last_level = len(out)
        elif isinstance(ev, MetricsSnapshot):
            if last_snapshot >= 0:
                out[last_snapshot] = None
            last_snapshot = len(out)
        elif isinstance(ev, TranscriptDelta) and out:
            prev = out[-1]
            if (isinstance(prev, TranscriptDelta) and prev.turn_id == ev.turn_id and prev.role == ev.role
                    and not prev.finished):
                out[-1] = TranscriptDelta(ev.turn_id, ev.role, prev.text + ev.text, ev.finished)
                continue
        out.append(ev)
    return [ev for ev in out if ev is not None]


class EngineBridge(QObject):
    state_changed = Signal(str, str)
    transcript = Signal(object)  # TranscriptDelta
    tool_started = Signal(object)  # ToolCallStarted
    tool_finished = Signal(object)  # ToolCallFinished
    turn_finished = Signal(object)  # TurnFinished
    level = Signal(object)  # AudioLevel
    error = Signal(object)  # ErrorEvent
    notice = Signal(object)  # Notice
    run_update = Signal(object)  # RunUpdate
    run_step = Signal(object)  # RunStep
    run_finished = Signal(object)  # RunFinished
    run_report = Signal(object)  # RunReport
    metrics_snapshot = Signal(object)  # MetricsSnapshot
    alert = Signal(object)  # Alert
    latency_drift = Signal(object)  # LatencyDrift
    profile_changed = Signal(object)  # ProfileChanged
    confirmation_asked = Signal(object)  # ConfirmationAsked: a request read back, waiting for the user's yes
    confirmation_closed = Signal(object)  # ConfirmationClosed
    cost_update = Signal(object)  # CostUpdate: tokens and their estimated price, this session and today
    session_started = Signal(bool)  # offline
    settings_loaded = Signal(object)  # Settings with the keyring's secrets (``start(load_secrets=True)``)
    session_stopped = Signal()
    _wake = Signal()

    def __init__(self, parent: QObject | None = None, *, use_audio_devices: bool = True):
        super().__init__(parent)
        self.bus = EventBus()
        self.metrics = Metrics()
        self.settings: Settings | None = None
        self.session: Session | None = None  # published once the microphone is open
        self.loop: asyncio.AbstractEventLoop | None = None
        self.muted = False  # the user's choice, kept across sessions (the session's audio front end applies it)
        self.use_audio_devices = use_audio_devices  # False: no microphone or speaker (tests, file input)
        self.events_in = 0  # engine events received (engine thread)
        self.drains = 0  # wakes handled (Qt thread)
        self._queue: deque[Any] = deque()
        self._wake_pending = False
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self._unsubscribe = self.bus.subscribe(self._on_engine_event)
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._dispatch: dict[type, Callable[[Any], None]] = {
            TranscriptDelta: self.transcript.emit, ToolCallStarted: self.tool_started.emit,
            ToolCallFinished: self.tool_finished.emit, TurnFinished: self.turn_finished.emit,
            AudioLevel: self.level.emit, ErrorEvent: self.error.emit, Notice: self.notice.emit,
            RunUpdate: self.run_update.emit, RunStep: self.run_step.emit, RunFinished: self.run_finished.emit,
            RunReport: self.run_report.emit,
            MetricsSnapshot: self.metrics_snapshot.emit, Alert: self.alert.emit,
            LatencyDrift: self.latency_drift.emit,
            ProfileChanged: self.profile_changed.emit,
            ConfirmationAsked: self.confirmation_asked.emit, ConfirmationClosed: self.confirmation_closed.emit,
            CostUpdate: self.cost_update.emit,
        }

    # ------------------------------------------------------------------ engine thread -> Qt thread
    def _on_engine_event(self, ev: Any) -> None:
        """Bus subscriber, called on the engine thread: queue and wake the Qt thread once."""
        self.events_in += 1
        self._queue.append(ev)
        if not self._wake_pending:
            self._wake_pending = True
            self._wake.emit()

    def _drain(self) -> None:
        self._wake_pending = False
        self.drains += 1
        q = self._queue
        batch = [q.popleft() for _ in range(min(len(q), MAX_DRAIN))]
        if q and not self._wake_pending:
            self._wake_pending = True
            self._wake.emit()
        for ev in coalesce(batch):
            if isinstance(ev, StateChanged):
                self.state_changed.emit(ev.state, ev.detail)
                continue
            if isinstance(ev, _Started):
                self.session_started.emit(ev.offline)
                continue
            if isinstance(ev, _Result):
                ev.done(ev.value)
                continue
            if isinstance(ev, _Loaded):
                self.settings = ev.settings
                self.settings_loaded.emit(ev.settings)
                continue
            if isinstance(ev, _Stopped):
                self.session_stopped.emit()
                continue
            emit = self._dispatch.get(type(ev))
            if emit is not None:
                emit(ev)

    # ------------------------------------------------------------------ lifecycle
    @property
    def engine(self) -> SessionEngine | None:
        session = self.session
        return session.engine if session is not None else None

    @property
    def mic(self) -> MicCapture | None:
        """The session's microphone (None: no session, or it has no capture device)."""
        session = self.session
        return session.audio.mic if session is not None else None

    @property
    def player(self) -> SpeakerPlayer | None:
        """The session's speaker (None: no session, or replies are shown as text only)."""
        session = self.session
        return session.audio.speaker if session is not None else None

    @property
    def store(self) -> Store | None:
        """The store the session records into (the window reads history from it)."""
        session = self.session
        return session.store if session is not None else None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, settings: Settings, *, load_secrets: bool = False) -> None:
        """Start a session on a new engine thread (returns at once; watch ``session_started``).

        Without a Gemini key the session is the offline demo.  ``load_secrets``: first read the keys the
        settings lack from the OS keyring, on the engine thread (a slow or locked keyring never holds up the
        window), and publish the result through ``settings_loaded``.
        A running session is asked to stop first; the new thread waits for the old one to finish, so the
        Qt thread never waits for a session to close (flushing the store, closing sockets)."""
        previous = self._request_stop()
        self.settings = settings
        self._stop_requested = threading.Event()
        self._thread = threading.Thread(target=self._thread_main,
                                        args=(settings, previous, self._stop_requested, load_secrets),
                                        name="engine", daemon=True)
        self._thread.start()

    def _request_stop(self) -> threading.Thread | None:
        """Ask the running session to end; returns its thread (or None)."""
        self._stop_requested.set()
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it is stopping anyway
                loop.call_soon_threadsafe(stop.set)
        thread, self._thread = self._thread, None
        return thread if thread is not None and thread.is_alive() else None

    def stop(self, timeout: float = 5.0) -> None:
        """End the session and wait (bounded) for its thread: for closing the window."""
        thread = self._request_stop()
        if thread is not None:
            thread.join(timeout)

    def restart(self, settings: Settings | None = None) -> None:
        self.start(settings or self.settings or Settings(offline=True))

    def _thread_main(self, settings: Settings, previous: threading.Thread | None,
                     stop_requested: threading.Event, load_secrets: bool) -> None:
        from desktop.live.errors import LiveError

        if previous is not None:
            previous.join()
        if stop_requested.is_set():
            return
        if load_secrets:
            from desktop.config import with_stored_secrets

            settings = with_stored_secrets(settings)
            self._on_engine_event(_Loaded(settings))
        settings = effective_settings(settings)
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._session(settings, stop_requested))
        except LiveError:
            log.info("engine session could not start (reported to the window)")
        except Exception as exc:  # noqa: BLE001 - shown to the user as one message, details in the log
            log.exception("engine session ended with an error")
            self._on_engine_event(_as_error(exc))
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            self.session = None
            self._stop = None
            self.loop = None
            loop.close()
            self._on_engine_event(_Stopped())

    async def _session(self, settings: Settings, stop_requested: threading.Event) -> None:
        from desktop.session import open_session

        self._stop = asyncio.Event()
        if stop_requested.is_set():  # asked to stop before the event existed (see _request_stop)
            return
        async with open_session(settings, bus=self.bus, metrics=self.metrics,
                                devices=self.use_audio_devices) as session:
            session.tools.shows_whole_request = True  # the confirmation card shows every read-back whole
            if self.muted:  # muted before this session: its microphone stays closed until unmuted
                session.audio.set_muted(True)
            self.session = session  # "has an engine" means "can hear you": the microphone is open by now
            self._on_engine_event(_Started(settings.offline))
            try:
                await self._stop.wait()
            finally:
                self.session = None

    # ------------------------------------------------------------------ commands (Qt thread -> engine thread)
    def _call(self, fn: Callable[..., Any], *args: Any) -> bool:
        loop = self.loop
        if loop is None or loop.is_closed() or self.engine is None:
            return False
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(fn, *args)
            return True
        return False

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any] | None:
        loop = self.loop
        if loop is None or loop.is_closed():
            coro.close()
            return None
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def press(self, at: float | None = None) -> bool:
        engine = self.engine
        return engine is not None and self._call(engine.press, time.perf_counter() if at is None else at)

    def release(self) -> bool:
        engine = self.engine
        return engine is not None and self._call(engine.release)

    def send_text(self, text: str) -> concurrent.futures.Future[Any] | None:
        engine = self.engine
        if engine is None or not text.strip():
            return None
        return self.submit(engine.send_text(text.strip()))

    def fresh_session(self) -> concurrent.futures.Future[Any] | None:
        """A new Gemini session told the last turns (the remedy for slow replies); the result says whether it
        started (not in the middle of a turn)."""
        engine = self.engine
        return self.submit(engine.fresh_session()) if engine is not None else None

    def post(self, event: Any) -> bool:
        """Emit ``event`` on the engine's bus from the engine thread (as if the engine had produced it)."""
        return self._call(self.bus.emit, event)

    def record_metric(self, name: str, seconds: float) -> None:
        """Record a UI-side timing into the engine's metrics, on the engine thread."""
        if not self._call(self.metrics.observe_s, name, seconds):
            self.metrics.observe_s(name, seconds)

    def feed_wav(self, path: str | Path, *, realtime: bool = False, hold_key: bool = True,
                 start_s: float = 0.0, end_s: float | None = None) -> concurrent.futures.Future[Any] | None:
        """Play a WAV file into the engine as if from the microphone.

        ``hold_key=True``: as one held push-to-talk key (pre-roll, press, speech, release), for the demo.
        ``hold_key=False``: frames only, while the window's own key (or button) is held by the caller.
        ``start_s`` / ``end_s`` play a part of the file (e.g. the first half while the key is held).
        """
        from audio.sources import WavSource
        from desktop.simulated_user import speak_frames

        session = self.session
        if session is None:
            return None
        frames = WavSource(path).frames
        frames = frames[int(start_s * 100): None if end_s is None else int(end_s * 100)]  # 10 ms frames
        if hold_key:
            return self.submit(speak_frames(session.engine, frames, realtime=realtime, feed=session.audio.feed))
        return self.submit(self._stream(frames, realtime))

    def feed_silence(self, ms: int) -> concurrent.futures.Future[Any] | None:
        """Silent frames, as a live microphone keeps delivering them (e.g. for the tail after a key release)."""
        from audio.sources import silence

        return self.submit(self._stream(silence(ms), False)) if self.engine is not None else None

    async def _stream(self, frames: list[bytes], realtime: bool) -> int:
        from audio.sources import paced

        session = self.session
        n = 0
        async for frame, captured in paced(frames, realtime):
            if session is None:
                break
            session.audio.feed(frame, captured)  # as the microphone does (muted: silence)
            n += 1
        return n

    def focus_run(self, run_id: int) -> bool:
        """Ask the run tracker to follow ``run_id``'s steps (False when CodeGen is not configured)."""
        tracker = self.session.tracker if self.session is not None else None
        return tracker is not None and self._call(tracker.focus, run_id)

    def apply_run_updates(self, settings: Settings) -> bool:
        """Speak run updates on or off (and their age limit) in the running session, without restarting it."""
        from desktop.run_reporter import policy_for

        reporter = self.session.reporter if self.session is not None else None
        return reporter is not None and self._call(reporter.set_policy, policy_for(settings))

    def apply_consent(self, settings: Settings) -> bool:
        """"Ask me before starting a run" on or off in the running session, at once."""
        tools = self.session.tools if self.session is not None else None
        return tools is not None and self._call(tools.set_confirm, settings.confirm_before_create)

    def apply_quality(self, settings: Settings) -> bool:
        """The quality profile chosen in Settings (or "auto") in the running session: the live switch between
        turns, no new session."""
        power = self.session.power if self.session is not None else None
        return power is not None and self._call(power.set_manual, settings.quality_profile)

    def query(self, fn: Callable[[Store], Any], done: Callable[[Any], None]) -> bool:
        """Run ``fn(store)`` on a worker thread; ``done(result)`` is called later on the Qt thread."""
        store, loop = self.store, self.loop
        if store is None or loop is None or loop.is_closed():
            return False

        async def run() -> None:
            try:
                value = await asyncio.to_thread(fn, store)
            except Exception:  # noqa: BLE001 - a failed read shows as an empty page, details in the log
                log.exception("history query failed")
                value = []
            self._on_engine_event(_Result(done, value))

        return self.submit(run()) is not None

    def set_muted(self, muted: bool) -> None:
        """Mute closes the microphone's stream (nothing is captured; the system's microphone indicator goes
        off); unmute opens it again.  A turn still open gets its silent tail first, so it ends on time."""
        self.muted = muted
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the next session reads ``muted``
            loop.call_soon_threadsafe(self._apply_mute)

    def _apply_mute(self) -> None:
        """On the engine loop: the session's microphone as ``muted`` says (the last call wins)."""
        session = self.session
        if session is not None:
            session.audio.set_muted(self.muted)


class _Started:
    __slots__ = ("offline",)

    def __init__(self, offline: bool):
        self.offline = offline


class _Result:
    __slots__ = ("done", "value")

    def __init__(self, done: Callable[[Any], None], value: Any):
        self.done, self.value = done, value


class _Stopped:
    __slots__ = ()


class _Loaded:
    __slots__ = ("settings",)

    def __init__(self, settings: Settings):
        self.settings = settings


def _as_error(exc: BaseException) -> ErrorEvent:
    from desktop.problems import describe, short_reason

    known = describe(exc)
    if known is not None:
        return known
    if isinstance(exc, OSError):
        return ErrorEvent("network", f"Could not reach the service ({short_reason(exc)}).",
                          "Check your connection, then reconnect.")
    return ErrorEvent("protocol", f"The session stopped unexpectedly ({short_reason(exc)}).", "Reconnect to try again.")
