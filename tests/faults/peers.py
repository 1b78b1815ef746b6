"""Misbehaving peers on loopback, over TLS: a Gemini Live server and a CodeGen API server that do what real
networks and hostile servers do (oversized frames, floods, stalls, trickled and endless bodies, odd closes).

Each runs on a ``LoopThread`` (its own asyncio loop on its own thread), so a test can drive the real
command in a child process with blocking calls while the peer answers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from desktop.live import protocol as p
from tests.standins import server_tls


class LoopThread:
    """An asyncio loop on a daemon thread; ``call`` runs a coroutine on it and waits for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fault-peer", daemon=True)
        self._thread.start()

    def call(self, coro: Awaitable[Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(cancel_rest(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


# ------------------------------------------------------------------------------------------ Live
Script = Callable[[ServerConnection], Awaitable[None]]


@dataclass
class LivePeer:
    """A wss:// server on 127.0.0.1 that runs ``script`` for each connection (after recording the request)."""

    script: Script
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: Any = None

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port}"

    async def start(self) -> LivePeer:
        self._server = await serve(self._handler, "127.0.0.1", 0, ssl=server_tls(), compression=None,
                                   ping_interval=None, max_size=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 3)

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.requests.append((ws.request.path, {k.lower(): v for k, v in ws.request.headers.raw_items()}))
        with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
            await self.script(ws)


async def accept_setup(ws: ServerConnection) -> dict[str, Any]:
    """Read the client's setup and confirm it; returns the setup body."""
    setup = json.loads(await ws.recv())["setup"]
    await ws.send(p.SERVER_SETUP_COMPLETE.encode())
    return setup


async def until_turn_sent(ws: ServerConnection) -> None:
    """Read client messages until the user's turn is complete (activityEnd or a complete clientContent)."""
    while True:
        msg = json.loads(await ws.recv())
        if "activityEnd" in msg.get("realtimeInput", {}) or msg.get("clientContent", {}).get("turnComplete"):
            return


async def until_turn_started(ws: ServerConnection) -> None:
    """Read client messages until the user's turn has begun (activityStart): what the peer sends next arrives
    while the user speaks, however long the app took to start its microphone."""
    while "activityStart" not in json.loads(await ws.recv()).get("realtimeInput", {}):
        pass


async def answer(ws: ServerConnection, text: str = "Done.") -> None:
    """A short, well-formed spoken answer: audio, its transcript, generationComplete, turnComplete."""
    await ws.send(p.server_audio(b"\0\0" * 2400).encode())
    await ws.send(p.server_content(output_text=text).encode())
    await ws.send(p.server_content(generation_complete=True).encode())
    await ws.send(p.server_content(turn_complete=True).encode())


async def drain(ws: ServerConnection) -> None:
    """Keep reading until the client goes away."""
    async for _ in ws:
        pass


# ------------------------------------------------------------------------------------------ HTTP
@dataclass
class Reply:
    """One connection's answering side; ``send`` raises once the client has hung up."""

    peer: HttpPeer
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        # TLS transports drop writes after the client left without saying so: watch for its EOF
        if self.reader.at_eof() or self.writer.transport.is_closing():
            raise ConnectionResetError("the client closed the connection")
        self.writer.write(data)
        self.peer.bytes_sent += len(data)
        await self.writer.drain()
        await asyncio.sleep(0)  # let a close from the client be noticed


HttpScript = Callable[[bytes, Reply], Awaitable[None]]


@dataclass
class HttpPeer:
    """An https:// server on 127.0.0.1: reads each request head, then ``script(head, reply)`` answers."""

    script: HttpScript
    requests: int = 0
    bytes_sent: int = 0
    port: int = 0
    _server: Any = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def start(self) -> HttpPeer:
        ctx = server_tls()
        ctx.set_alpn_protocols(["http/1.1"])
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                await self.script(head, Reply(self, reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, OSError):
            pass
        finally:
            writer.close()


@dataclass
class SilentPeer:
    """Accepts TCP connections (with TLS) and never says a word."""

    tls: bool = True
    port: int = 0
    accepted: int = 0
    _server: Any = None

    async def start(self) -> SilentPeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=server_tls() if self.tls else None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        with contextlib.suppress(Exception):
            await reader.read()  # until the client gives up
        writer.close()
