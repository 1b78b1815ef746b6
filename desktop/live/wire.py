"""What the Live connection costs on the network, and the compression it offers.

``WireMeter`` counts every WebSocket frame of a Live connection, both ways, twice: as the application
wrote or read it (the JSON text, before compression) and as it crossed the socket (the frame header, the
client's mask and the compressed data).  It does so with two pass-through ``websockets`` extensions put
around the negotiated ones after the handshake — the first sees a frame before permessage-deflate, the
last after it — so the numbers are the bytes ``websockets`` really wrote and parsed, not a model of them.
Each message is filed under what it carries (audio, transcripts, tool traffic, typed text, session
signals, pings), the HTTP upgrade is counted once per connection, and the TLS bytes are estimated from the
record overhead of the negotiated cipher (one record per frame: each frame is one write to the TLS
transport).  Only the TLS handshake itself is out of sight.

``Deflate`` is one permessage-deflate offer (RFC 7692).  The window and context takeover are negotiated;
the level, memory level and strategy are our own and never leave the machine.  A server that does not
accept the offer simply answers without the extension, and the connection carries plain frames exactly as
if nothing had been offered.  ``PRESETS`` holds the two offers the quality profiles choose between; how
they were chosen is measured by ``gemini-codegen bench --only network`` (docs/optimization-guide.md).
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.typing import ExtensionName

# ------------------------------------------------------------------------------------ compression


@dataclass(frozen=True, slots=True)
class Deflate:
    """A permessage-deflate offer and the compressor behind it."""

    name: str
    level: int  # zlib level 1-9 (local)
    window_bits: int  # client_max_window_bits offered, 9-15 (the server may lower it)
    mem_level: int  # zlib memLevel 1-9 (local): hash size, and the Huffman block length
    huffman_only: bool = False  # Z_HUFFMAN_ONLY: entropy coding without string matching (local)
    context_takeover: bool = True  # False: offer client_no_context_takeover (every message alone)

    def compress_settings(self) -> dict[str, int]:
        settings = {"level": self.level, "memLevel": self.mem_level}
        if self.huffman_only:
            settings["strategy"] = zlib.Z_HUFFMAN_ONLY
        return settings

    def factory(self) -> ClientPerMessageDeflateFactory:
        return ClientPerMessageDeflateFactory(client_no_context_takeover=not self.context_takeover,
                                              client_max_window_bits=self.window_bits,
                                              compress_settings=self.compress_settings())

    def compressor(self) -> Any:
        """The compressor ``websockets`` builds for this offer when the server keeps its window (the bench
        compresses recorded messages with it to draw the CPU/bytes curve)."""
        return zlib.compressobj(self.level, zlib.DEFLATED, -self.window_bits, self.mem_level,
                                zlib.Z_HUFFMAN_ONLY if self.huffman_only else zlib.Z_DEFAULT_STRATEGY)

    def describe(self) -> str:
        how = "Huffman coding only" if self.huffman_only else f"zlib level {self.level}"
        window = f"{1 << self.window_bits >> 10} KB window" if self.window_bits >= 10 else f"{1 << self.window_bits} B window"
        share = "shared across messages" if self.context_takeover else "reset for every message"
        return f"{how}, {window} {share}, memLevel {self.mem_level}"


# The offers the quality profiles choose between (docs/optimization-guide.md, "Network and compression"):
# "deflate" finds the repeated JSON prefix and the pauses as well as coding base64's 64-letter alphabet in
# about six bits; "huffman" only does the latter, for about half the CPU.
PRESETS: dict[str, Deflate] = {
    "deflate": Deflate("deflate", level=1, window_bits=12, mem_level=8),
    "huffman": Deflate("huffman", level=1, window_bits=12, mem_level=7, huffman_only=True),
}
COMPRESSION_CHOICES = ("auto", "off", *PRESETS)  # the live_compression setting


def choose_deflate(setting: str, profile_choice: str) -> Deflate | None:
    """The offer for a connection: the ``live_compression`` setting, or the quality profile's choice when the
    setting is ``auto``; None: offer nothing."""
    name = profile_choice if setting == "auto" else setting
    if name != "off" and name not in PRESETS:
        raise ValueError(f"unknown compression {name!r}; choose from {', '.join(COMPRESSION_CHOICES)}")
    return PRESETS.get(name)


def negotiated_deflate(extensions: list[Extension]) -> PerMessageDeflate | None:
    return next((e for e in extensions if isinstance(e, PerMessageDeflate)), None)


# ------------------------------------------------------------------------------------ byte accounting

KINDS = ("audio", "transcripts", "tools", "text", "session", "control")
HANDSHAKE = "handshake"  # the HTTP upgrade request / response, once per connection
TLS_RECORD = 16384  # largest TLS record payload
_UP_AUDIO = b'{"realtimeInput":{"audio"'
_UP_TEXT = (b'{"realtimeInput":{"text"', b'{"clientContent"')
_UP_TOOLS = b'{"toolResponse"'
_HEAD = 256  # the downlink is classified by the keys in a message's first bytes


def classify_up(data: bytes) -> str:
    """What a client message carries, from its first bytes (the client's own encoders, ``protocol``)."""
    if data.startswith(_UP_AUDIO):
        return "audio"
    if data.startswith(_UP_TOOLS):
        return "tools"
    if data.startswith(_UP_TEXT):
        return "text"
    return "session"  # setup, activityStart / activityEnd


def classify_down(data: bytes) -> str:
    """What a server message carries, from the keys in its first bytes (when several are bundled: audio
    before a tool call before a transcript)."""
    head = data[:_HEAD]
    if b'"modelTurn"' in head:
        return "audio"
    if b'"toolCall' in head:
        return "tools"
    if b'Transcription"' in head:
        return "transcripts"
    return "session"  # setupComplete, turn signals, usage, resumption handles, goAway


def frame_header_bytes(length: int, masked: bool) -> int:
    """RFC 6455 section 5.2: 2 bytes, 2 or 8 more for longer payloads, 4 for a client's mask."""
    return (2 if length < 126 else 4 if length < 65536 else 10) + (4 if masked else 0)


def tls_record_overhead(ssl_object: ssl.SSLObject | None) -> int:
    """Bytes a TLS record adds to its payload for the negotiated version and cipher (0 without TLS)."""
    if ssl_object is None:
        return 0
    cipher = (ssl_object.cipher() or ("",))[0]
    if ssl_object.version() == "TLSv1.3":
        return 5 + 1 + 16  # header, inner content type, AEAD tag
    if "CHACHA20" in cipher:
        return 5 + 16
    return 5 + 8 + 16  # TLS 1.2 AES-GCM: header, explicit nonce, tag


@dataclass(slots=True)
class Tally:
    messages: int = 0
    payload: int = 0  # bytes as written / read by the application (before compression)
    wire: int = 0  # bytes of the WebSocket frames (header, mask, compressed data)

    def as_dict(self) -> dict[str, int]:
        return {"messages": self.messages, "payload_bytes": self.payload, "wire_bytes": self.wire}


@dataclass(slots=True)
class Direction:
    """One direction of the connection, over every connection the meter has seen."""

    kinds: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in (*KINDS, HANDSHAKE)})
    tls_overhead: int = 0  # estimated TLS record bytes on top of the frames
    current: Tally = field(default_factory=Tally)  # the message being written / read (continuations)

    @property
    def payload(self) -> int:
        return sum(t.payload for k, t in self.kinds.items() if k != HANDSHAKE)

    @property
    def wire(self) -> int:
        return sum(t.wire for k, t in self.kinds.items() if k != HANDSHAKE)

    @property
    def messages(self) -> int:
        return sum(t.messages for k, t in self.kinds.items() if k != HANDSHAKE)

    @property
    def tls_estimate(self) -> int:
        return self.wire + self.kinds[HANDSHAKE].wire + self.tls_overhead

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "payload_bytes": self.payload, "wire_bytes": self.wire,
                "handshake_bytes": self.kinds[HANDSHAKE].wire, "tls_bytes_estimate": self.tls_estimate,
                "by_kind": {k: t.as_dict() for k, t in self.kinds.items() if k != HANDSHAKE and t.messages}}


_CONT, _CLOSE, _PING, _PONG = Opcode.CONT, Opcode.CLOSE, Opcode.PING, Opcode.PONG  # (enum lookups, once)


class _Plain(Extension):
    """First in the chain: sees what the application sends before compression, and what it receives after.
    (Both sides are on the send path of every audio chunk: written for speed, measured by the bench.)"""

    name = ExtensionName("x-wire-meter-plain")  # local only: never offered, never on the wire

    def __init__(self, meter: WireMeter) -> None:
        self.meter, self.up, self.down, self.counters = meter, meter.up, meter.down, meter.counters
        self.up_audio = self.up.kinds["audio"]

    def encode(self, frame: Frame) -> Frame:
        up, data = self.up, frame.data
        if type(data) is bytes and data.startswith(_UP_AUDIO):  # (no control frame or continuation starts so)
            up.current = tally = self.up_audio
            tally.messages += 1
        elif (op := frame.opcode) is _CONT:  # a continuation adds to the message it continues
            tally = up.current
        else:
            if op is _PING or op is _PONG or op is _CLOSE:
                tally = up.kinds["control"]
            else:
                tally = up.kinds[classify_up(bytes(data[:32]))]
            up.current = tally
            tally.messages += 1
        tally.payload += len(data)
        self.counters["payload_bytes_up"] += len(data)
        return frame

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        down, data, op = self.down, frame.data, frame.opcode
        if op is _CONT:
            tally = down.current
        else:
            if op is _PING or op is _PONG or op is _CLOSE:
                tally = down.kinds["control"]
            else:
                tally = down.kinds[classify_down(bytes(data[:_HEAD]))]
            down.current = tally
            tally.messages += 1
        tally.payload += len(data)
        tally.wire += self.meter.pending_down
        self.counters["payload_bytes_down"] += len(data)
        return frame


class _Wire(Extension):
    """Last in the chain: sees a frame as it goes out after compression, and as it came in before."""

    name = ExtensionName("x-wire-meter-wire")

    def __init__(self, meter: WireMeter) -> None:
        self.meter, self.up, self.down, self.counters = meter, meter.up, meter.down, meter.counters
        self.record_overhead = 0  # TLS bytes per record on the current connection

    def encode(self, frame: Frame) -> Frame:
        n = len(frame.data)
        size = n + (6 if n < 126 else 8 if n < 65536 else 14)  # header + mask (frame_header_bytes)
        up = self.up
        up.current.wire += size
        up.tls_overhead += self.record_overhead if size <= TLS_RECORD else self.record_overhead * -(-size // TLS_RECORD)
        self.counters["wire_bytes_up"] += size
        return frame

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        n = len(frame.data)
        size = n + (2 if n < 126 else 4 if n < 65536 else 10)  # a server does not mask
        self.meter.pending_down = size
        self.down.tls_overhead += (self.record_overhead if size <= TLS_RECORD
                                   else self.record_overhead * -(-size // TLS_RECORD))
        self.counters["wire_bytes_down"] += size
        return frame


COUNTERS = ("wire_bytes_up", "wire_bytes_down", "payload_bytes_up", "payload_bytes_down",
            "deflate_offered", "deflate_accepted")


class WireMeter:
    """Bytes of every Live connection a client opens (``attach`` each one right after its handshake)."""

    def __init__(self, counters: dict[str, int] | None = None) -> None:
        self.counters = counters if counters is not None else {}
        for name in COUNTERS:
            self.counters.setdefault(name, 0)
        self.up = Direction()
        self.down = Direction()
        self.connections = 0
        self.offer: str | None = None  # the last Sec-WebSocket-Extensions we sent (None: nothing offered)
        self.answer: str | None = None  # ... and the server's answer (None: not accepted)
        self.negotiated: PerMessageDeflate | None = None
        self.pending_down = 0  # wire size of the frame being parsed, until its plain side is seen
        self.socket: Any = None  # the current connection's socket (tools read the kernel's counters from it)
        self._plain = _Plain(self)
        self._wire = _Wire(self)

    def attach(self, ws: ClientConnection) -> None:
        """Count ``ws`` from now on (call it before the first frame: the setup message)."""
        protocol = ws.protocol
        inner = [e for e in protocol.extensions if not isinstance(e, _Plain | _Wire)]
        protocol.extensions = [self._plain, *inner, self._wire]
        self.connections += 1
        self.negotiated = negotiated_deflate(inner)
        request, response = ws.request, ws.response
        self.offer = request.headers.get("Sec-WebSocket-Extensions") if request is not None else None
        self.answer = response.headers.get("Sec-WebSocket-Extensions") if response is not None else None
        if self.offer:
            self.counters["deflate_offered"] += 1
        if self.negotiated is not None:
            self.counters["deflate_accepted"] += 1
        for side, message in ((self.up, request), (self.down, response)):
            if message is not None:
                shake = side.kinds[HANDSHAKE]
                shake.messages += 1
                shake.wire += len(message.serialize())
        ssl_object = ws.transport.get_extra_info("ssl_object")
        self.socket = ws.transport.get_extra_info("socket")
        self._wire.record_overhead = overhead = tls_record_overhead(ssl_object)
        self.up.tls_overhead += overhead  # the HTTP upgrade rides in one record each way
        self.down.tls_overhead += overhead

    def compression(self) -> dict[str, Any]:
        return {"offered": self.offer, "accepted": self.answer if self.negotiated is not None else None,
                "connections": self.connections, "connections_offered": self.counters["deflate_offered"],
                "connections_accepted": self.counters["deflate_accepted"]}

    def summary(self, *, user_audio_s: float = 0.0, reply_audio_s: float = 0.0) -> dict[str, Any]:
        """Both directions by kind, the compression negotiated, and rates per minute: of the user talking
        (uplink), of Gemini talking (downlink) and of conversation (either speaking), on the TLS estimate."""
        up, down = self.up.tls_estimate, self.down.tls_estimate
        rates = {"up_per_minute_of_user_speech": _per_minute(up, user_audio_s),
                 "down_per_minute_of_reply_speech": _per_minute(down, reply_audio_s),
                 "both_per_minute_of_conversation": _per_minute(up + down, user_audio_s + reply_audio_s)}
        return {"up": self.up.as_dict(), "down": self.down.as_dict(), "compression": self.compression(),
                "tls_record_overhead": self._wire.record_overhead,
                "speech_seconds": {"user": round(user_audio_s, 2), "reply": round(reply_audio_s, 2)},
                "bytes_per_minute": {k: v for k, v in rates.items() if v is not None}}


def _per_minute(n: int, seconds: float) -> int | None:
    return round(n * 60 / seconds) if seconds > 0 else None


# ------------------------------------------------------------------------------------ reporting


def human_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def compression_state(counters: Mapping[str, int]) -> str:
    """off | on | declined | partly (accepted on some connections only), from the connection counters."""
    offered, accepted = counters.get("deflate_offered", 0), counters.get("deflate_accepted", 0)
    if not offered:
        return "off"
    if not accepted:
        return "declined"
    return "on" if accepted >= offered else "partly"


def network_line(counters: Mapping[str, int]) -> str | None:
    """One line for people: bytes each way (and before compression), and whether compression is in use."""
    up, down = counters.get("wire_bytes_up", 0), counters.get("wire_bytes_down", 0)
    if not up and not down:
        return None
    state = compression_state(counters)
    what = {"off": "compression off", "on": "compression on (permessage-deflate)",
            "declined": "compression offered, declined by the server",
            "partly": (f"compression on for {counters.get('deflate_accepted', 0)} of "
                       f"{counters.get('deflate_offered', 0)} connections")}[state]

    def side(wire: int, payload: int) -> str:
        if state in ("on", "partly") and payload:
            return f"{human_bytes(wire)} ({wire / payload:.2f} of {human_bytes(payload)})"
        return human_bytes(wire)

    return (f"Network: {side(up, counters.get('payload_bytes_up', 0))} sent, "
            f"{side(down, counters.get('payload_bytes_down', 0))} received; {what}")
