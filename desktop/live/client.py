"""Asyncio Gemini Live transport: moves the frames of a ``LiveSession`` over ``websockets``.

The session core (``desktop.live.session``) decides everything that is not I/O — what to send, what a
server frame means, when a new connection is set up, when to reconnect, what to replay.  This module opens
the socket (headers, TLS, the setup exchange the core judges, with its timeout; failures mapped to
``LiveError``), writes what the core
wants written, feeds it what arrives, runs its reconnects (with the core's backoff), ticks its turn
watchdog and sends the keepalive pings the core judges (websockets' own keepalive is off: it would cut a
healthy session whose pongs come late while Gemini generates).  Its events come out of ``events()``;
``connect()`` can run before the user speaks ("warm").  websockets refuses a frame over ``max_frame_bytes``
from its length header (the core reports it), and the receive loop yields after every frame, so a flood of
small frames cannot starve the sender.

``LiveTransport`` is what the engine needs from it, so tests and tools can hand the engine another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidProxyStatus, InvalidStatus, InvalidURI

from desktop import egress
from desktop.live import protocol as p
from desktop.live.errors import LiveError, close_error, unreachable
from desktop.live.inbound import MAX_FRAME_BYTES
from desktop.live.session import (
    Command,
    Fail,
    LiveEvent,
    LiveSession,
    Reconnect,
    Reconnected,
    Renewal,
    SendAudio,
    Why,
)
from desktop.live.wire import Deflate, WireMeter
from desktop.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveConfig:
    url: str  # full WebSocket URL (see protocol.live_url)
    api_key: str | None
    setup: p.SetupOptions = field(default_factory=p.SetupOptions)
    setup_timeout_s: float = 10.0
    turn_timeout_s: float = 30.0
    max_reconnects: int = 5
    ssl_context: ssl.SSLContext | None = None  # wss:// only; None: the system's trust store
    # Gemini 3.x may wait for new realtime input after a toolResponse: a " " text input unblocks it.
    nudge_after_tool_response: bool = True
    extra_headers: tuple[tuple[str, str], ...] = ()
    keepalive_s: float = 15.0  # a ping this often; a dead idle link is noticed within this + the pong timeout
    idle_pong_timeout_s: float = 10.0
    deflate: Deflate | None = None  # permessage-deflate offered on connect (None: plain frames)
    max_frame_bytes: int = MAX_FRAME_BYTES  # the largest server message accepted (see ``inbound``)


class LiveTransport(Protocol):
    """What the session engine needs from a Live connection."""

    @property
    def connected(self) -> bool: ...

    @property
    def suspended(self) -> bool: ...

    @property
    def session(self) -> LiveSession:
        """The conversation's state without I/O (the turn, its transcript, the replay...), which the engine reads."""
        ...

    async def connect(self) -> None:
        """Open the session; raises ``LiveError`` when it cannot."""

    async def close(self) -> None: ...

    async def send(self, command: Command) -> None: ...

    async def suspend(self) -> None:
        """Close an idle connection on purpose; the next ``resume`` (or turn) reopens it."""

    async def resume(self) -> None: ...

    async def start_fresh(self) -> bool:
        """Leave the Gemini session for a new one told the last turns (between turns; False otherwise)."""
        ...

    def events(self) -> AsyncIterator[LiveEvent]:
        """Server events in order, plus the core's own (``Reconnected``, ``LiveError``...); ends when the transport closes."""
        ...


class LiveClient:
    def __init__(self, config: LiveConfig, metrics: Metrics | None = None):
        self.config = config
        self.metrics = metrics or Metrics()
        self.session = LiveSession(config.setup, turn_timeout_s=config.turn_timeout_s,
                                   max_reconnects=config.max_reconnects,
                                   nudge_after_tool_response=config.nudge_after_tool_response,
                                   idle_pong_timeout_s=config.idle_pong_timeout_s)
        self.deflate = config.deflate  # the offer for the next connection (the quality profile may change it)
        self.wire = WireMeter(self.metrics.counters)  # bytes each way, compression negotiated
        self._ws: ClientConnection | None = None
        self._events: asyncio.Queue[LiveEvent | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._receiver: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._flushing = False
        self._reconnecting = False
        self._closing = False
        self._ended = False

    # ---------------------------------------------------------------- state
    @property
    def connected(self) -> bool:
        return self.session.connected

    @property
    def suspended(self) -> bool:
        return self.session.suspended

    @property
    def handle(self) -> str | None:
        return self.session.handle

    @property
    def connects(self) -> int:
        return self.session.connects

    # ---------------------------------------------------------------- connection
    async def connect(self) -> None:
        """Open the socket and set the session up (the core says when); start receiving.  Raises ``LiveError``."""
        self._ws = await self._open()
        self._receiver = self._spawn(self._receive_loop(self._ws), "live-receive")
        if self._watchdog is None:
            self._watchdog = self._spawn(self._watch_turns(), "live-watchdog")
            self._spawn(self._keepalive(), "live-keepalive")

    def _spawn(self, coro: object, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)  # a reference until it ends, so it cannot be collected mid-run
        task.add_done_callback(self._tasks.discard)
        return task

    async def _open(self, reconnect_reason: Renewal | None = None, *, planned: bool = False) -> ClientConnection:
        """A connection the session is set up on (``LiveSession.setup_reply``; the arguments: see there)."""
        cfg = self.config
        t0 = time.perf_counter()
        headers = list(cfg.extra_headers)
        if cfg.api_key:
            headers.append(("x-goog-api-key", cfg.api_key))
        try:  # plain ws:// only on loopback; the proxy (if any) from the one policy both services share
            route = egress.route(cfg.url)
        except egress.Refused as exc:
            raise LiveError("network", f"Not connecting to Gemini Live: {exc.message}", exc.action) from None
        # wss:// without a context of our own: websockets' default (the system's trust store)
        tls: dict[str, Any] = (
            {"ssl": cfg.ssl_context} if cfg.ssl_context is not None and cfg.url.startswith("wss://") else {})
        try:
            ws = await asyncio.wait_for(
                connect(cfg.url, additional_headers=headers, compression=None,
                        extensions=[self.deflate.factory()] if self.deflate else None,
                        max_size=cfg.max_frame_bytes, open_timeout=None, ping_interval=None, ping_timeout=None,
                        close_timeout=2, proxy=route.proxy, **tls),
                cfg.setup_timeout_s)
        except InvalidStatus as exc:
            raise _handshake_error(exc.response.status_code, cfg.url) from None
        except InvalidProxyStatus as exc:
            raise _proxy_error(exc.response.status_code, route) from None
        except ssl.SSLCertVerificationError as exc:  # (a ValueError too): named, and never retried
            raise unreachable(_host(cfg.url), exc, cfg.setup_timeout_s) from None
        except (InvalidURI, ValueError) as exc:
            raise LiveError("network", f"{cfg.url!r} is not a usable WebSocket URL ({exc}).",
                            "Set GEMINI_LIVE_URL to a ws:// or wss:// URL.") from None
        except (TimeoutError, OSError, websockets.exceptions.InvalidHandshake) as exc:
            raise unreachable(_host(cfg.url), exc, cfg.setup_timeout_s) from None
        t_open = time.perf_counter()
        self.metrics.observe_s("live.ws_open", t_open - t0)
        self.wire.attach(ws)
        try:
            await ws.send(self.session.setup_message())
            deadline = time.monotonic() + cfg.setup_timeout_s
            while not self.session.setup_reply(
                    await asyncio.wait_for(ws.recv(), max(0.0, deadline - time.monotonic())), time.monotonic(),
                    reconnect_reason, planned=planned):
                pass
        except TimeoutError:
            await ws.close()
            raise LiveError("timeout", f"Gemini did not confirm the session setup within {cfg.setup_timeout_s:g} s.",
                            "Try again; the service may be overloaded.", fatal=False) from None
        except ConnectionClosed as exc:
            raise close_error(exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "",
                              cfg.setup.model) from None
        except p.ProtocolError as exc:
            await ws.close()
            raise LiveError("protocol", f"Gemini sent an invalid setup reply: {exc}", fatal=False) from None
        self.metrics.observe_s("live.setup", time.perf_counter() - t_open)
        return ws

    async def close(self) -> None:
        self._closing = True
        self.session.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        self._end()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._events.put_nowait(None)

    async def suspend(self) -> None:
        if self.session.suspend() and self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def resume(self) -> None:
        if self.session.resume():
            await self.reconnect(Renewal(Why.IDLE), planned=True)

    async def start_fresh(self) -> bool:
        if not self.session.start_fresh(time.monotonic()):
            return False
        reason = self.session.take_reconnect()
        await self.reconnect(reason or Renewal(Why.FRESH))
        return True

    # ---------------------------------------------------------------- sending
    async def send(self, command: Command) -> None:
        if type(command) is SendAudio:
            self.session.send_audio(command.pcm)
        else:
            self.session.send(command, time.monotonic())
        if not self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        """Write what the session wants written, in order; one writer at a time (a second caller's frames
        are picked up by the running loop, so a replay is never overtaken by a newer frame)."""
        if self._flushing:
            return
        self._flushing = True
        session, counters = self.session, self.metrics.counters
        try:
            data = session.data_to_send()
            while data:
                ws = self._ws
                if ws is None:
                    return
                for frame in data:
                    await ws.send(frame)
                counters["messages_sent"] += len(data)
                data = session.data_to_send()
        except ConnectionClosed:
            pass  # the receive loop sees the close; the session replays the turn in progress
        finally:
            self._flushing = False

    # ---------------------------------------------------------------- receiving
    async def events(self) -> AsyncIterator[LiveEvent]:
        while True:
            ev = await self._events.get()
            if ev is None:
                return
            yield ev

    def _deliver(self) -> None:
        for ev in self.session.events_received():
            if isinstance(ev, Reconnected):
                if ev.gap_ms is not None:
                    self.metrics.observe_s("live.reconnect_gap", ev.gap_ms / 1e3)
                if ev.fresh:
                    self.metrics.count("fresh_sessions")
            self._events.put_nowait(ev)

    async def _receive_loop(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                self.session.receive_data(frame, time.monotonic())
                self._deliver()
                reason = self.session.take_reconnect()
                if reason is not None:
                    self._spawn(self.reconnect(reason), "live-reconnect")
                    return
                await asyncio.sleep(0)  # one frame at a time: the sender and the engine run between frames
        except ConnectionClosed:
            pass
        if self._closing or ws is not self._ws:
            return
        close, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        decision = self.session.connection_lost(close.code if close else None, close.reason if close else "",
                                                time.monotonic(), sent_code=sent.code if sent else None)
        self._deliver()
        if isinstance(decision, Fail):
            self._end()
        elif isinstance(decision, Reconnect):
            if decision.delay_s:
                await asyncio.sleep(decision.delay_s)
            await self.reconnect(decision.reason)

    async def reconnect(self, reason: Renewal, *, planned: bool = False) -> None:
        """A new connection with the latest handle; the session replays a turn still in progress on it."""
        if self._reconnecting or self._closing:
            return
        self._reconnecting = True
        self.session.begin_reconnect()
        old = self._ws
        if old is not None:  # closed first: a resume can be refused while the old socket is still open
            with contextlib.suppress(Exception):
                await old.close()
        self.metrics.count("reconnects")
        try:
            attempt = 0
            while True:
                try:
                    ws = await self._open(reason, planned=planned)
                except LiveError as exc:
                    delay = self.session.connect_failed(exc, attempt)
                    self._deliver()
                    if delay is None:
                        self._end()
                        return
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
                self._ws = ws
                await self._flush()
                self._deliver()
                self._receiver = self._spawn(self._receive_loop(ws), "live-receive")
                return
        finally:
            self._reconnecting = False

    async def _keepalive(self) -> None:
        """Ping every ``keepalive_s`` (it keeps NATs and proxies open).  Only while the session is idle, when
        pongs are prompt, does a pong later than its timeout mean the link is dead: it is then dropped and
        the receive loop reconnects.  During a turn pongs may come 8-30 s late and are not waited for."""
        while not self._closing:
            await asyncio.sleep(self.config.keepalive_s)
            ws = self._ws
            if ws is None or self._reconnecting or not self.session.connected:
                continue
            turns = self.session.turns_begun
            try:
                pong = await ws.ping()
                timeout = self.session.pong_timeout()
                if timeout is None:
                    continue
                await asyncio.wait_for(pong, timeout)
            except ConnectionClosed:
                continue
            except TimeoutError:
                if self.session.turns_begun != turns or self.session.pong_timeout() is None or ws is not self._ws:
                    continue  # a turn came and went meanwhile: its reply may hold the pong back
                self.metrics.count("keepalive_timeouts")
                log.warning("no pong within %.1f s while idle: the Gemini connection is dead", timeout)
                ws.transport.abort()

    async def _watch_turns(self) -> None:
        while not self._closing:
            await asyncio.sleep(min(1.0, self.config.turn_timeout_s / 4))
            self.session.tick(time.monotonic())
            self._deliver()
            reason = self.session.take_reconnect()
            if reason is not None:
                await self.reconnect(reason)


def _handshake_error(status: int, url: str) -> LiveError:
    if status in (401, 403):
        return LiveError("auth", f"Gemini refused the connection (HTTP {status}): the API key is missing or wrong.",
                         "Check GEMINI_API_KEY or the key in Settings.")
    if status == 404:
        return LiveError("network", f"No Gemini Live endpoint at {url} (HTTP 404).",
                         "Check GEMINI_LIVE_URL / --live-url and the API version.")
    if status == 429:
        return LiveError("rate_limited", "Gemini is rate limiting new sessions (HTTP 429).",
                         "Wait a minute and try again.", fatal=False)
    return LiveError("network", f"Gemini Live handshake failed with HTTP {status}.",
                     "Try again; check the endpoint URL.", fatal=False)


def _proxy_error(status: int, route: egress.Route) -> LiveError:
    """A proxy that would not open the tunnel to Gemini.  407 (it wants a login) is fatal: retrying with
    the same credentials cannot help."""
    if status == 407:
        why = ("refused the user name and password in its URL" if route.has_credentials
               else "asks for a user name and password")
        return LiveError("network", f"The proxy {route.shown} (from {route.variable}) {why} (HTTP 407).",
                         f"Put them in {route.variable} as http://USER:PASSWORD@HOST:PORT, or add the host to "
                         f"NO_PROXY.")
    return LiveError("network", f"The proxy {route.shown} (from {route.variable}) would not connect to Gemini "
                                f"Live (HTTP {status}).", "Check the proxy, or add the host to NO_PROXY.", fatal=False)


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0].split("?", 1)[0]
