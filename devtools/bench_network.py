"""`gemini-codegen bench --only network`: what a conversation costs on the network, and what compression buys.

Three measurements, each with the exact messages the client sends:

1. **A recorded conversation per quality profile** — the four spoken fixtures through the profile's own
   input chain, chunk size and tool calls (CodeGen stand-in), over TLS to the Live stand-in (both in child
   processes), compression off.  The client's ``WireMeter`` gives the bytes each way by kind (audio,
   transcripts, tool traffic, session signals, pings) as payload, WebSocket frames and a TLS estimate; on
   Linux the kernel's own count of the socket's bytes (``TCP_INFO``) is read beside it.  Every uplink and
   downlink message is kept.  Two audio sets: ``noisy`` (the fixtures with office noise at 15-18 dB SNR, what
   a laptop microphone hears) and ``clean`` (synthetic speech padded with digital silence: the best case).
2. **The CPU/bytes curve** — the recorded uplink messages compressed exactly as websockets' permessage-deflate
   does (one compressor per connection or per message, ``Z_SYNC_FLUSH``, the 4-byte tail dropped) for every
   setting in ``SETTINGS``: bytes, and CPU per message (process time, median of repeats).  The downlink is
   compressed with the stand-in's (websockets' server) settings to time our inflate per message.
3. **The same conversation with the profile's offer negotiated**, and the send path's CPU per message over
   wss with compression off and on (``bench._send_cpu_ours`` fed the recorded audio, not random bytes).

Whether compression pays is then a comparison of two times per minute of talking: the CPU it adds
(measured) against the time the radio needs for the bytes it saves at a given uplink rate (bytes / rate).
The break-even rate is reported per profile and setting; the profiles' choices live in
``desktop.quality`` and are checked against it here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import socket
import ssl
import statistics
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop.live.wire import PRESETS, TLS_RECORD, Deflate, frame_header_bytes

FIXTURE_NAMES = ("create_pr", "status", "list_runs", "resume")
TLS13_RECORD = 22  # TLS 1.3 AEAD record: header 5 + content type 1 + tag 16 (what the stand-in and Google use)
MSS = 1448  # TCP payload per segment on a 1500-byte Ethernet/Wi-Fi MTU with TCP timestamps
IP_TCP_HEADERS = 52  # IPv4 20 + TCP 20 + timestamps 12, per segment
# Uplink rates at which the radio time saved is compared with the CPU time spent (the CPU side is measured;
# these only turn the bytes saved into seconds).
LINK_MBPS = {"slow or metered (2 Mbit/s)": 2.0, "typical (20 Mbit/s)": 20.0, "fast Wi-Fi (200 Mbit/s)": 200.0}
# The stand-in accepts the offer with websockets' server defaults: it compresses its own messages with these.
SERVER_DEFLATE = Deflate("stand-in server", level=6, window_bits=12, mem_level=5)

# The CPU/bytes curve: both presets, then one knob at a time around them.
SETTINGS: tuple[Deflate, ...] = (
    PRESETS["huffman"],
    PRESETS["deflate"],
    Deflate("deflate, 512 B window", level=1, window_bits=9, mem_level=8),
    Deflate("deflate, 32 KB window", level=1, window_bits=15, mem_level=8),
    Deflate("deflate, no context takeover", level=1, window_bits=12, mem_level=8, context_takeover=False),
    Deflate("zlib level 6, 32 KB window", level=6, window_bits=15, mem_level=8),
    Deflate("zlib level 9, 32 KB window", level=9, window_bits=15, mem_level=8),
)


# ------------------------------------------------------------------------------------------ kernel counters
def _tcp_info(sock: Any) -> tuple[int, int, int] | None:
    """(bytes sent and acknowledged, bytes received, segments not yet acknowledged) from Linux's
    ``TCP_INFO`` (``tcpi_bytes_acked``, ``tcpi_bytes_received``: kernel 4.2+; ``tcpi_unacked``)."""
    if sock is None or not sys.platform.startswith("linux") or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    except OSError:
        return None
    if len(info) < 136:
        return None
    (unacked,) = struct.unpack_from("=I", info, 24)
    acked, received = struct.unpack_from("=QQ", info, 120)
    return int(acked), int(received), int(unacked)


def settled_tcp_bytes(sock: Any, timeout_s: float = 2.0) -> tuple[int, int] | None:
    """(bytes sent and acknowledged, bytes received) on a TCP socket, as the kernel counts them: everything above
    TCP, so TLS records and handshakes included; read once everything sent is acknowledged and two reads 20 ms
    apart agree.  None where the kernel does not say (not Linux)."""
    last = _tcp_info(sock)
    deadline = time.monotonic() + timeout_s
    while last is not None and time.monotonic() < deadline:
        time.sleep(0.02)
        now = _tcp_info(sock)
        if now == last and now is not None and now[2] == 0:
            break
        last = now
    return None if last is None else (last[0], last[1])


# ------------------------------------------------------------------------------------------ conversations
@dataclass
class Conversation:
    """One recorded session: what the meter saw, every message each way, and the CPU it took."""

    profile: str
    audio: str  # noisy | clean
    compression: str  # off, or the preset offered
    summary: dict[str, Any]
    uplink: list[bytes] = field(default_factory=list)
    downlink: list[bytes] = field(default_factory=list)
    cpu_s: float = 0.0
    tcp: tuple[int, int] | None = None  # kernel's count (up, down), Linux
    turns: int = 0

    @property
    def user_s(self) -> float:
        return float(self.summary["speech_seconds"]["user"])

    @property
    def reply_s(self) -> float:
        return float(self.summary["speech_seconds"]["reply"])

    def as_dict(self) -> dict[str, Any]:
        out = {"profile": self.profile, "audio": self.audio, "compression": self.compression, "turns": self.turns,
               "cpu_ms_per_minute_of_speech": round(self.cpu_s * 1e3 * 60 / max(self.user_s + self.reply_s, 1e-9), 1),
               **self.summary}
        if self.tcp is not None:
            out["tcp_measured"] = {"up_bytes": self.tcp[0], "down_bytes": self.tcp[1],
                                   "minus_estimate_up": self.tcp[0] - self.summary["up"]["tls_bytes_estimate"],
                                   "minus_estimate_down": self.tcp[1] - self.summary["down"]["tls_bytes_estimate"]}
        return out


async def converse(url: str, tls: ssl.SSLContext, codegen_url: str, codegen_tls: ssl.SSLContext, profile: Any,
                   utterances: Sequence[Any], deflate: Deflate | None, audio: str) -> Conversation:
    """The fixture turns through the real engine and client with ``profile``, recording every message."""
    from desktop.config import Settings
    from desktop.events import EventBus
    from desktop.live import protocol as p
    from desktop.live.client import LiveClient
    from desktop.metrics import Metrics
    from desktop.session import network_summary, open_session
    from desktop.simulated_user import speak_frames
    from devtools.bench_core import bench_endpoints
    from devtools.loadtest import session_tools

    # the session as the app opens it with ``profile`` pinned (its chain without the neural VAD stage, its chunk
    # size) offering ``deflate``; run news is not spoken (the fixture turns are the conversation measured)
    settings = Settings(offline=True, vad_neural=False, speak_run_updates=False)
    pinned = dataclasses.replace(profile, compression=deflate.name if deflate is not None else "off")
    bus, metrics = EventBus(), Metrics()
    async with (session_tools(codegen_url, bus, metrics, codegen_tls) as tools,
                open_session(settings, bus=bus, metrics=metrics, record=False, endpoints=bench_endpoints(url, tls),
                             tools=tools, profile=pinned) as opened):
        engine = opened.engine
        live = engine.transport
        assert isinstance(live, LiveClient)
        uplink: list[bytes] = []
        downlink: list[bytes] = []
        session = live.session
        drain, feed = session.data_to_send, session.receive_data

        def recorded_drain() -> list[str]:
            frames = drain()
            uplink.extend(f.encode() for f in frames)
            return frames

        def recorded_feed(frame: bytes | str, now: float) -> None:
            downlink.append(frame.encode() if isinstance(frame, str) else bytes(frame))
            feed(frame, now)

        session.data_to_send = recorded_drain  # type: ignore[method-assign]
        session.receive_data = recorded_feed  # type: ignore[method-assign]
        uplink.insert(0, session.setup_message().encode())  # connect wrote it (and read the reply) itself
        downlink.insert(0, p.SERVER_SETUP_COMPLETE.encode())
        turns = 0
        cpu0 = time.process_time()
        for frames, release_at in utterances:
            await speak_frames(engine, frames, realtime=False, release_at=release_at)
            turns += await engine.wait_turn(30) is not None
        cpu = time.process_time() - cpu0
        tcp = await asyncio.to_thread(settled_tcp_bytes, live.wire.socket)
        summary = network_summary(engine)
    assert summary is not None
    return Conversation(profile.name, audio, deflate.name if deflate else "off", summary, uplink, downlink, cpu,
                        tcp, turns)


# ------------------------------------------------------------------------------------------ the curve
def deflate_messages(setting: Deflate, messages: Sequence[bytes]) -> tuple[list[int], float]:
    """Each message's compressed size, as websockets' permessage-deflate writes it, and the CPU seconds."""
    compressor = setting.compressor()
    sizes = []
    t0 = time.process_time()
    for message in messages:
        if not setting.context_takeover:
            compressor = setting.compressor()
        sizes.append(len(compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)) - 4)
    return sizes, time.process_time() - t0


def inflate_cpu(setting: Deflate, messages: Sequence[bytes], repeats: int) -> float:
    """Median CPU (us) to inflate one message compressed with ``setting`` (the client's downlink cost)."""
    compressor = setting.compressor()
    packed = [compressor.compress(m) + compressor.flush(zlib.Z_SYNC_FLUSH) for m in messages]
    runs = []
    for _ in range(repeats):
        inflater = zlib.decompressobj(-setting.window_bits)
        t0 = time.process_time()
        for data in packed:
            inflater.decompress(data)
        runs.append((time.process_time() - t0) / len(packed) * 1e6)
    return statistics.median(runs)


@dataclass(frozen=True)
class Ladder:
    """The uplink of one conversation at each layer, per minute of the user talking."""

    payload: float
    frames: float
    tls: float
    ip: float  # estimated: TCP/IP headers of the segments the TLS records need

    def as_dict(self) -> dict[str, float]:
        return {k: round(v) for k, v in dataclasses.asdict(self).items()}


def ladder(sizes: Sequence[int], seconds: float) -> Ladder:
    payload = frames = tls = ip = 0
    for n in sizes:
        frame = n + frame_header_bytes(n, masked=True)
        record = frame + TLS13_RECORD * (1 + (frame - 1) // TLS_RECORD)
        payload, frames, tls = payload + n, frames + frame, tls + record
        ip += record + IP_TCP_HEADERS * (1 + (record - 1) // MSS)
    per_min = 60 / seconds
    return Ladder(payload * per_min, frames * per_min, tls * per_min, ip * per_min)


def curve(conversation: Conversation, repeats: int) -> list[dict[str, Any]]:
    """Every setting in ``SETTINGS`` (and none) on ``conversation``'s exact uplink."""
    messages, seconds = conversation.uplink, conversation.user_s
    plain = ladder([len(m) for m in messages], seconds)
    rows = [{"setting": "off", "describe": "no compression", "ratio": 1.0, "cpu_us_per_message": 0.0,
             "per_minute": plain.as_dict()}]
    for setting in SETTINGS:
        cpu_runs: list[float] = []
        sizes: list[int] = []
        for _ in range(repeats):
            sizes, cpu = deflate_messages(setting, messages)
            cpu_runs.append(cpu / len(messages) * 1e6)
        deflated = ladder(sizes, seconds)
        rows.append({"setting": setting.name, "describe": setting.describe(),
                     "ratio": round(sum(sizes) / sum(len(m) for m in messages), 4),
                     "cpu_us_per_message": round(statistics.median(cpu_runs), 2),
                     "cpu_us_runs": [round(v, 2) for v in cpu_runs], "per_minute": deflated.as_dict()})
    return rows


def break_even(saved_bytes_per_min: float, cpu_ms_per_min: float) -> float | None:
    """The uplink rate (Mbit/s) below which the radio time saved exceeds the CPU time spent."""
    if cpu_ms_per_min <= 0:
        return None
    return saved_bytes_per_min * 8 / (cpu_ms_per_min / 1e3) / 1e6


def trade(saved_bytes_per_min: float, cpu_ms_per_min: float) -> dict[str, Any]:
    """CPU time spent against radio time saved, per minute, at each reference uplink rate."""
    rate = break_even(saved_bytes_per_min, cpu_ms_per_min)
    radio = {name: saved_bytes_per_min * 8 / (mbps * 1e6) * 1e3 for name, mbps in LINK_MBPS.items()}
    return {"saved_bytes_per_min": round(saved_bytes_per_min), "cpu_ms_per_min": round(cpu_ms_per_min, 2),
            "break_even_mbps": round(rate, 1) if rate is not None else None,
            "radio_ms_saved_per_min": {k: round(v, 1) for k, v in radio.items()},
            "wins": {k: "compression" if v > cpu_ms_per_min else "no compression" for k, v in radio.items()}}


def decide(profile: Any, rows: list[dict[str, Any]], messages_per_min: float, send_us: dict[str, list[float]],
           audio_per_min: float, off: Conversation, on: Conversation | None,
           inflate_us: float) -> dict[str, Any]:
    """Each offer's trade for this profile — every curve setting with its offline CPU, each preset end to end
    (the send path's extra CPU per audio message over wss) — which one the measurement picks (on mains power
    the preset that saves the most bytes; on battery the one with the best break-even), and whether that is
    the profile's configured offer."""
    plain = rows[0]["per_minute"]["tls"]
    saved = {r["setting"]: plain - r["per_minute"]["tls"] for r in rows[1:]}
    curve = {r["setting"]: trade(saved[r["setting"]], r["cpu_us_per_message"] * messages_per_min / 1e3)
             for r in rows[1:]}
    base = statistics.median(send_us["off"])
    presets = {}
    for name in PRESETS:
        if send_us.get(name):
            extra = statistics.median(send_us[name]) - base
            presets[name] = {"extra_cpu_us_per_audio_message": round(extra, 2),
                             **trade(saved[name], max(extra, 0.0) * audio_per_min / 1e3)}
    on_mains = profile.name == "performance"  # the profile the battery monitor picks on mains power
    measured = (max(presets, key=lambda k: presets[k]["saved_bytes_per_min"]) if on_mains
                else max(presets, key=lambda k: presets[k]["break_even_mbps"] or 0.0))
    out: dict[str, Any] = {"configured": profile.compression, "measured_choice": measured,
                           "agrees": measured == profile.compression, "presets": presets, "curve": curve}
    if on is not None and off.reply_s > 0:
        replies = sum(1 for m in off.downlink if b'"modelTurn"' in m[:256]) * 60 / off.reply_s
        down_saved = (off.summary["down"]["tls_bytes_estimate"] - on.summary["down"]["tls_bytes_estimate"]) * 60 / off.reply_s
        out["downlink"] = trade(down_saved, inflate_us * replies / 1e3)
    chosen = presets.get(profile.compression)
    if chosen is None:
        out["reason"] = "no compression offered in this profile"
    elif on_mains:
        out["reason"] = (f"mains power, so CPU is not paid from a battery: the offer that saves the most bytes; "
                         f"{chosen['saved_bytes_per_min'] / 1e6:.2f} MB per minute of talking for "
                         f"{chosen['cpu_ms_per_min']:.0f} ms of CPU, paying in radio time on uplinks slower than "
                         f"{chosen['break_even_mbps'] or 0:.0f} Mbit/s")
    else:
        out["reason"] = (f"battery, so the least CPU per byte saved: {chosen['cpu_ms_per_min']:.0f} ms of CPU per "
                         f"minute of talking saves {chosen['saved_bytes_per_min'] / 1e6:.2f} MB, paying in radio time "
                         f"on uplinks slower than {chosen['break_even_mbps'] or 0:.0f} Mbit/s")
    if chosen is not None and not out["agrees"]:
        out["reason"] += f" (this run's numbers favour {measured})"
    return out


# ------------------------------------------------------------------------------------------ the section
@contextlib.contextmanager
def stand_ins(emulator_process: Callable[..., Any]
              ) -> Iterator[tuple[str, ssl.SSLContext, str, ssl.SSLContext]]:
    """The Live and the CodeGen stand-ins over TLS, each in its own process: URL and trusting context each."""
    with emulator_process("live", "--port", "0", "--model-delay", "0.05", "--speedup", "20") as (live_url, tls), \
            emulator_process("codegen", "--port", "0", "--step-seconds", "0") as (codegen_url, codegen_tls):
        yield live_url, tls, codegen_url, codegen_tls


def _audio_chunks(conversation: Conversation) -> list[bytes]:
    """The PCM of every audio message the conversation sent (to feed the send path the same audio)."""
    out = []
    for message in conversation.uplink:
        if message.startswith(b'{"realtimeInput":{"audio"'):
            body = json.loads(message)
            out.append(base64.b64decode(body["realtimeInput"]["audio"]["data"]))
    return out


def network_section(quick: bool, emulator_process: Callable[..., Any], send_cpu: Callable[..., Any], *,
                    profiles: Sequence[str] | None = None, fixtures: Sequence[str] = FIXTURE_NAMES
                    ) -> tuple[dict[str, Any], list[Any]]:
    """The ``network`` section of the bench report and its comparison rows (``profiles``: the quality
    profiles to measure, default all; ``fixtures``: the spoken turns of each conversation)."""
    from desktop.quality import PROFILES
    from desktop.simulated_user import load_utterances
    from devtools.bench_core import FIXTURES, Row, med

    repeats = 3 if quick else 7
    chunks = 600 if quick else 3000
    measured = {name: PROFILES[name] for name in (profiles or PROFILES)}
    sets = {"noisy": [FIXTURES / f"{n}_noisy.wav" for n in fixtures],
            "clean": [FIXTURES / f"{n}.wav" for n in fixtures]}
    utterances = {name: load_utterances(paths, 200) for name, paths in sets.items()}
    recorded: dict[tuple[str, str], Conversation] = {}
    negotiated: dict[str, Conversation] = {}
    send: dict[str, dict[str, list[float]]] = {}
    with stand_ins(emulator_process) as (url, tls, codegen_url, codegen_tls):
        for name, profile in measured.items():
            for audio, utts in utterances.items():
                recorded[name, audio] = asyncio.run(converse(url, tls, codegen_url, codegen_tls, profile, utts, None, audio))
            offer = PRESETS.get(profile.compression)
            if offer is not None:
                negotiated[name] = asyncio.run(converse(url, tls, codegen_url, codegen_tls, profile, utterances["noisy"], offer,
                                                        "noisy"))
            pcm = _audio_chunks(recorded[name, "noisy"])
            variants: dict[str, Deflate | None] = {"off": None, **PRESETS}
            runs: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(repeats):  # interleaved, so drift on the machine hits every variant alike
                for key, deflate in variants.items():
                    runs[key].append(asyncio.run(send_cpu(url, tls, chunks, pcm=pcm, deflate=deflate)))
            send[name] = runs

    section: dict[str, Any] = {"links_mbps": LINK_MBPS, "tls_record_bytes": TLS13_RECORD, "mss": MSS,
                               "ip_tcp_header_bytes": IP_TCP_HEADERS, "profiles": {}}
    rows: list[Any] = []
    for name, profile in measured.items():
        base = recorded[name, "noisy"]
        curves = {audio: curve(recorded[name, audio], repeats) for audio in utterances}
        audio_msgs = sum(1 for m in base.uplink if m.startswith(b'{"realtimeInput":{"audio"'))
        msgs_per_min = audio_msgs * 60 / base.user_s
        inflate_us = inflate_cpu(SERVER_DEFLATE, base.downlink, repeats)
        decision = decide(profile, curves["noisy"], len(base.uplink) * 60 / base.user_s, send[name], msgs_per_min,
                          base, negotiated.get(name), inflate_us)
        entry: dict[str, Any] = {
            "chunk_ms": profile.chunk_ms, "messages_per_minute_of_talking": round(msgs_per_min, 1),
            "curve": curves, "decision": decision, "inflate_us_per_downlink_message": round(inflate_us, 2),
            "conversation_off": {a: recorded[name, a].as_dict() for a in utterances},
            "send_path_us": {k: [round(v, 2) for v in vs] for k, vs in send[name].items()}}
        if name in negotiated:
            entry["conversation_on"] = negotiated[name].as_dict()
        section["profiles"][name] = entry
        plain = curves["noisy"][0]["per_minute"]["tls"]
        chosen = next((r for r in curves["noisy"] if r["setting"] == profile.compression), None)
        if chosen is not None:
            rows.append(Row(f"uplink bytes per minute of talking, {name} ({profile.chunk_ms} ms messages, noisy room)",
                            "MB/min", plain / 1e6, chosen["per_minute"]["tls"] / 1e6, "no compression",
                            f"permessage-deflate: {profile.compression}", note="TLS records, 22 B each"))
        if profile.compression in send[name]:
            rows.append(Row(f"Live client CPU per {profile.chunk_ms} ms chunk sent, {name} (wss, loopback)", "us CPU",
                            med(send[name]["off"]), med(send[name][profile.compression]), "no compression",
                            f"permessage-deflate: {profile.compression}",
                            note="a cost: ratio under 1 is the CPU compression adds"))
    perf = negotiated.get("performance")
    if perf is not None:
        off_rates = recorded["performance", "noisy"].summary["bytes_per_minute"]
        on_rates = perf.summary["bytes_per_minute"]
        rows.append(Row("downlink bytes per minute of reply (the stand-in compresses when the offer is accepted)",
                        "MB/min", off_rates["down_per_minute_of_reply_speech"] / 1e6,
                        on_rates["down_per_minute_of_reply_speech"] / 1e6, "no compression", "offer accepted",
                        note="the server's choice"))
        rows.append(Row("bytes per minute of conversation, both ways (performance profile)", "MB/min",
                        off_rates["both_per_minute_of_conversation"] / 1e6,
                        on_rates["both_per_minute_of_conversation"] / 1e6, "no compression", "offer accepted",
                        note="the seed's estimate: 10 MB+ of audio per minute"))
    section["seed"] = seed_answer(recorded)
    return section, rows


def seed_answer(recorded: dict[tuple[str, str], Conversation]) -> dict[str, Any]:
    """The seed's "10 MB+ of audio per minute", in our numbers (TLS estimate, noisy room, compression off)."""
    out: dict[str, Any] = {}
    for (name, audio), conv in recorded.items():
        if audio != "noisy":
            continue
        rates = conv.summary["bytes_per_minute"]
        out[name] = {k: round(v / 1e6, 2) for k, v in rates.items()}
    raw_up = 16000 * 2 * 60 / 1e6
    raw_down = 24000 * 2 * 60 / 1e6
    out["pcm_only"] = {"up_mb_per_min": round(raw_up, 2), "down_mb_per_min": round(raw_down, 2),
                       "base64_up_mb_per_min": round(raw_up * 4 / 3, 2),
                       "base64_down_mb_per_min": round(raw_down * 4 / 3, 2)}
    return out
