"""Asyncio Gemini Live client: a thin shell that moves ``protocol`` frames over ``websockets``.

What it adds over a bare socket:
- setup with a timeout, and close codes / handshake failures mapped to user-facing ``LiveError``s;
- a receive task feeding one queue of typed events (server events plus ``Reconnected`` / ``LiveError``);
- transparent reconnection on ``goAway`` (between turns) and on unexpected closes, with the latest
  session-resumption handle; a turn cut off by a dropped connection is replayed on the new connection
  (its audio is kept until ``turnComplete``), so the user never has to repeat themselves;
- a turn watchdog: a turn with no server activity for ``turn_timeout_s`` becomes a clear timeout error and
  the session is reconnected, ready for the next turn;
- "warm" pre-connection: ``connect()`` can run before the user speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from desktop.events import ErrorEvent, Reconnected
from desktop.live import protocol as p
from desktop.metrics import Metrics

log = logging.getLogger(__name__)

IDLE_RESUME = "resumed after idle"
MAX_REPLAY_MESSAGES = 3000  # 60 s of 20 ms chunks: a turn longer than that is not replayed


class LiveError(Exception):
    """A failure the user can act on.  ``kind`` matches ``ErrorEvent.kind``."""

    def __init__(self, kind: str, message: str, action: str = "", fatal: bool = True):
        super().__init__(message)
        self.kind, self.message, self.action, self.fatal = kind, message, action, fatal

    def event(self) -> ErrorEvent:
        return ErrorEvent(self.kind, self.message, self.action, self.fatal)


@dataclass(frozen=True)
class LiveConfig:
    url: str  # full WebSocket URL (see protocol.live_url)
    api_key: str | None
    setup: p.SetupOptions = field(default_factory=p.SetupOptions)
    setup_timeout_s: float = 10.0
    turn_timeout_s: float = 30.0
    max_reconnects: int = 5
    ssl_context: ssl.SSLContext | None = None
    # Gemini 3.x may wait for new realtime input after a toolResponse: a " " text input unblocks it.
    nudge_after_tool_response: bool = True
    extra_headers: tuple[tuple[str, str], ...] = ()


def close_error(code: int | None, reason: str, model: str) -> LiveError:
    """Map a close code from the server to what the user should know and do."""
    reason = reason or "no reason given"
    if code == 1007 and ("api key" in reason.lower() or "auth" in reason.lower() or "permission" in reason.lower()):
        return LiveError("auth", f"Gemini rejected the API key ({reason}).",
                         "Check GEMINI_API_KEY or the key in Settings.")
    if code == 1007:
        return LiveError("protocol", f"Gemini rejected a request as invalid: {reason}",
                         "This is a bug in the app; please report it with the log.")
    if code == 1008:
        return LiveError("model", f"Model {model!r} is not available for the Live API: {reason}",
                         "Set GEMINI_MODEL (or --model, or Settings) to a Live model such as gemini-3.8-live.")
    if code == 1011:
        return LiveError("service", f"Gemini reported an internal error or exhausted quota: {reason}",
                         "Wait a moment and try again; check your quota if it persists.", fatal=False)
    return LiveError("network", f"The Gemini Live connection closed (code {code}): {reason}",
                     "Check your network connection.", fatal=False)


class LiveClient:
    def __init__(self, config: LiveConfig, metrics: Metrics | None = None):
        self.config = config
        self.metrics = metrics or Metrics()
        self._ws: ClientConnection | None = None
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._receiver: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._ended = False
        self.handle: str | None = config.setup.resumption_handle
        # turn state: "idle" | "capturing" (between activityStart and activityEnd) | "awaiting" (reply due)
        self.turn_state = "idle"
        self._turn_messages: list[str] = []
        self._last_server_activity = 0.0
        self._reconnect_after_turn = False
        self._reconnecting = False
        self.suspended = False  # closed on purpose while idle (saver profile); the next turn reconnects
        self.connects = 0

    # ---------------------------------------------------------------- connection
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def connect(self) -> None:
        """Open the socket, send setup, wait for setupComplete; start receiving.  Raises ``LiveError``."""
        self._ws = await self._open(self.handle)
        self._connected.set()
        self._receiver = asyncio.create_task(self._receive_loop(self._ws), name="live-receive")
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch_turns(), name="live-watchdog")

    async def _open(self, handle: str | None) -> ClientConnection:
        cfg = self.config
        t0 = time.perf_counter()
        headers = list(cfg.extra_headers)
        if cfg.api_key:
            headers.append(("x-goog-api-key", cfg.api_key))
        try:
            ws = await asyncio.wait_for(
                connect(cfg.url, additional_headers=headers, ssl=cfg.ssl_context if cfg.url.startswith("wss") else None,
                        compression=None, max_size=None, open_timeout=None, ping_interval=20,
                        ping_timeout=20, close_timeout=2),
                cfg.setup_timeout_s)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise LiveError("auth", f"Gemini refused the connection (HTTP {status}): the API key is missing or wrong.",
                                "Check GEMINI_API_KEY or the key in Settings.") from None
            if status == 404:
                raise LiveError("network", f"No Gemini Live endpoint at {cfg.url} (HTTP 404).",
                                "Check GEMINI_LIVE_URL / --live-url and the API version.") from None
            if status == 429:
                raise LiveError("rate_limited", "Gemini is rate limiting new sessions (HTTP 429).",
                                "Wait a minute and try again.", fatal=False) from None
            raise LiveError("network", f"Gemini Live handshake failed with HTTP {status}.",
                            "Try again; check the endpoint URL.", fatal=False) from None
        except InvalidURI:
            raise LiveError("network", f"{cfg.url!r} is not a WebSocket URL.",
                            "Set GEMINI_LIVE_URL to a ws:// or wss:// URL.") from None
        except (TimeoutError, OSError, websockets.exceptions.InvalidHandshake) as exc:
            raise LiveError("network", f"Cannot reach Gemini Live at {_host(cfg.url)}: {exc or type(exc).__name__}",
                            "Check your network connection and the endpoint URL.", fatal=False) from None
        t_open = time.perf_counter()
        self.metrics.observe_s("live.ws_open", t_open - t0)
        opts = replace(cfg.setup, resumption_handle=handle)
        try:
            await ws.send(p.setup_message(opts))
            deadline = time.monotonic() + cfg.setup_timeout_s
            while True:
                frame = await asyncio.wait_for(ws.recv(), max(0.0, deadline - time.monotonic()))
                events = p.parse_server_message(frame)
                if any(isinstance(e, p.SetupComplete) for e in events):
                    break
        except TimeoutError:
            await ws.close()
            raise LiveError("timeout", f"Gemini did not confirm the session setup within {cfg.setup_timeout_s:g} s.",
                            "Try again; the service may be overloaded.", fatal=False) from None
        except ConnectionClosed as exc:
            raise close_error(_code(exc), _reason(exc), cfg.setup.model) from None
        except p.ProtocolError as exc:
            await ws.close()
            raise LiveError("protocol", f"Gemini sent an invalid setup reply: {exc}", fatal=False) from None
        self.connects += 1
        self._last_server_activity = time.monotonic()
        self.metrics.observe_s("live.setup", time.perf_counter() - t_open)
        return ws

    async def close(self) -> None:
        self._closing = True
        for task in (self._watchdog, self._receiver):
            if task and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        self._connected.clear()
        self._end()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._events.put_nowait(None)

    # ---------------------------------------------------------------- sending
    async def _send(self, message: str) -> None:
        ws = self._ws
        if ws is None or not self._connected.is_set():
            return  # reconnecting: the turn buffer replays what matters
        try:
            await ws.send(message)
            self.metrics.counters["messages_sent"] += 1
        except ConnectionClosed:
            pass  # the receive loop sees the close and reconnects

    async def send_audio(self, pcm: bytes) -> None:
        await self.send_encoded_audio(p.audio_message(pcm))

    async def send_encoded_audio(self, message: str) -> None:
        if self.turn_state == "capturing" and len(self._turn_messages) < MAX_REPLAY_MESSAGES:
            self._turn_messages.append(message)
        await self._send(message)

    async def suspend(self) -> None:
        """Close an idle connection on purpose (to save power); ``resume`` or the next turn reopens it."""
        if self.suspended or self.turn_state != "idle" or self._ws is None:
            return
        self.suspended = True
        self._connected.clear()
        with contextlib.suppress(Exception):
            await self._ws.close()

    async def resume(self) -> None:
        """Reopen a suspended connection with the resumption handle, replaying a turn begun meanwhile."""
        if not self.suspended:
            return
        self.suspended = False
        await self._reconnect(IDLE_RESUME)

    async def activity_start(self) -> None:
        """Start a push-to-talk turn (also barge-in: the server interrupts any reply in progress)."""
        self.turn_state = "capturing"
        self._turn_messages = [p.ACTIVITY_START]
        await self._send(p.ACTIVITY_START)

    async def activity_end(self) -> None:
        self._turn_messages.append(p.ACTIVITY_END)
        self._begin_awaiting()
        await self._send(p.ACTIVITY_END)

    async def send_text(self, text: str) -> None:
        """A typed request: one complete user turn."""
        msg = p.client_content(text)
        self._turn_messages = [msg]
        self._begin_awaiting()
        await self._send(msg)

    async def send_tool_response(self, results: Iterable[p.FunctionResult]) -> None:
        await self._send(p.tool_response(results))
        self._last_server_activity = time.monotonic()
        if self.config.nudge_after_tool_response:
            await self._send(p.text_input(" "))

    def _begin_awaiting(self) -> None:
        self.turn_state = "awaiting"
        self._last_server_activity = time.monotonic()

    # ---------------------------------------------------------------- receiving
    async def events(self) -> AsyncIterator[Any]:
        """Server events in order, plus ``Reconnected`` and ``ErrorEvent``; ends when the client closes."""
        while True:
            ev = await self._events.get()
            if ev is None:
                return
            yield ev

    async def _receive_loop(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                self._last_server_activity = time.monotonic()
                try:
                    events = p.parse_server_message(frame)
                except p.ProtocolError as exc:
                    self.metrics.count("errors")
                    self._events.put_nowait(ErrorEvent("protocol", f"Ignored a malformed message from Gemini: {exc}"))
                    continue
                for ev in events:
                    self._on_event(ev)
                    self._events.put_nowait(ev)
                if self._reconnect_after_turn and self.turn_state == "idle":
                    asyncio.create_task(self._reconnect("server asked to reconnect (goAway)"))
                    return
        except ConnectionClosed:
            pass
        if self._closing or self.suspended or ws is not self._ws:
            return
        code, reason = (_code_of(ws), _reason_of(ws))
        err = close_error(code, reason, self.config.setup.model)
        if err.fatal:
            self._connected.clear()
            self._events.put_nowait(err.event())
            self._end()
            return
        await self._reconnect(f"connection closed (code {code}: {reason or 'no reason'})")

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, p.ResumptionUpdate):
            if ev.resumable and ev.handle:
                self.handle = ev.handle
        elif isinstance(ev, p.TurnComplete):
            if self.turn_state == "awaiting":
                self.turn_state = "idle"
                self._turn_messages = []
        elif isinstance(ev, p.GoAway):
            self._reconnect_after_turn = True

    async def _reconnect(self, reason: str) -> None:
        """Open a new connection with the latest handle; a turn still in progress once it is up (cut off
        mid-reply, or begun while reconnecting) is replayed on it, so no audio of it is lost."""
        if self._reconnecting or self._closing:
            return
        self._reconnecting = True
        self._connected.clear()
        self._reconnect_after_turn = False
        old = self._ws
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        self.metrics.count("reconnects")
        try:
            for attempt in range(self.config.max_reconnects):
                try:
                    ws = await self._open(self.handle)
                except LiveError as exc:
                    if exc.fatal or attempt == self.config.max_reconnects - 1:
                        self._events.put_nowait(replace_fatal(exc).event())
                        self._end()
                        return
                    await asyncio.sleep(min(4.0, 0.1 * 2 ** attempt) * (0.5 + random.random()))
                    continue
                self._ws = ws
                resumed = self.handle is not None
                replayed = False
                if self.turn_state != "idle" and self._turn_messages:
                    # messages appended while replaying are sent here too, in order; nothing is
                    # appended between the last check and _connected.set() (no await in between)
                    sent = 0
                    while sent < len(self._turn_messages):
                        await ws.send(self._turn_messages[sent])
                        sent += 1
                    replayed = True
                self._connected.set()
                self._events.put_nowait(Reconnected(reason, resumed, replayed))
                self._receiver = asyncio.create_task(self._receive_loop(ws), name="live-receive")
                return
        finally:
            self._reconnecting = False

    async def _watch_turns(self) -> None:
        while not self._closing:
            await asyncio.sleep(min(1.0, self.config.turn_timeout_s / 4))
            if (self.turn_state == "awaiting" and self._connected.is_set()
                    and time.monotonic() - self._last_server_activity > self.config.turn_timeout_s):
                self.metrics.count("errors")
                self.turn_state = "idle"
                self._turn_messages = []
                self._events.put_nowait(ErrorEvent(
                    "timeout", f"Gemini did not answer within {self.config.turn_timeout_s:g} s.",
                    "Try again; the session was reconnected."))
                await self._reconnect("turn timed out")


def replace_fatal(err: LiveError) -> LiveError:
    return LiveError(err.kind, err.message, err.action, fatal=True)


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0].split("?", 1)[0]


def _code(exc: ConnectionClosed) -> int | None:
    return exc.rcvd.code if exc.rcvd else None


def _reason(exc: ConnectionClosed) -> str:
    return exc.rcvd.reason if exc.rcvd else ""


def _code_of(ws: ClientConnection) -> int | None:
    return ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None


def _reason_of(ws: ClientConnection) -> str:
    return ws.protocol.close_rcvd.reason if ws.protocol.close_rcvd else ""
