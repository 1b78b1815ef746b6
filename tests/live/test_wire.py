"""The Live connection's byte meter and its permessage-deflate offer, over TLS to the stand-in.

Byte accounting is checked three ways: against the frames our session wrote and read (plain sizes, and the
compressed sizes recomputed with the same zlib settings), against the same conversation with nothing
offered (a server that declines changes no byte), and against the kernel's own count of the socket's bytes
(Linux ``TCP_INFO``), which may differ from the meter's TLS estimate only by the TLS handshake.
"""

from __future__ import annotations

import asyncio
import dataclasses
import zlib

import pytest
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from audio.sources import WavSource
from desktop.engine import SessionEngine
from desktop.live import protocol as p
from desktop.live.client import LiveClient, LiveConfig
from desktop.live.emulator import LiveEmulator
from desktop.live.wire import (
    PRESETS,
    Deflate,
    WireMeter,
    choose_deflate,
    classify_down,
    classify_up,
    compression_state,
    frame_header_bytes,
    network_line,
)
from desktop.quality import PROFILES
from desktop.simulated_user import speak_frames
from devtools.bench_network import settled_tcp_bytes
from tests.standins import client_tls, server_tls


# ------------------------------------------------------------------------------------------ pure parts
def test_client_messages_are_filed_by_what_they_carry():
    assert classify_up(p.audio_message(b"\x01\x02" * 320).encode()) == "audio"
    assert classify_up(p.tool_response([p.FunctionResult("c1", "list_runs", {"runs": []})]).encode()) == "tools"
    assert classify_up(p.text_input(" ").encode()) == "text"
    assert classify_up(p.client_content("status?").encode()) == "text"
    for frame in (p.ACTIVITY_START, p.ACTIVITY_END, p.setup_message(p.SetupOptions())):
        assert classify_up(frame.encode()) == "session"


def test_server_messages_are_filed_by_what_they_carry():
    def kind(text: str | bytes) -> str:
        return classify_down(text if isinstance(text, bytes) else text.encode())

    assert kind(p.server_audio(b"\x00" * 960)) == "audio"
    assert kind(p.server_content(output_text="Two runs")) == "transcripts"
    assert kind(p.server_content(input_text="status", input_finished=True)) == "transcripts"
    assert kind(p.server_tool_call([p.FunctionCall("c1", "list_runs", {})])) == "tools"
    assert kind(p.server_tool_cancellation(["c1"])) == "tools"
    for text in (p.SERVER_SETUP_COMPLETE, p.server_content(turn_complete=True),
                 p.server_content(turn_complete=True, usage=p.Usage({"audio": 25}, {"audio": 50})),
                 p.server_resumption_update("h", True), p.server_go_away(5)):
        assert kind(text) == "session"
    # the server's pretty-printed JSON is filed the same way
    assert kind(b'{\n  "serverContent": {\n    "modelTurn": {"parts": []}}}') == "audio"


@pytest.mark.parametrize("length, masked, size", [(0, True, 6), (125, True, 6), (126, True, 8), (65535, False, 4),
                                                   (65536, False, 10)])
def test_frame_header_sizes_follow_rfc6455(length, masked, size):
    assert frame_header_bytes(length, masked) == size


def test_the_setting_or_the_profile_chooses_the_offer():
    assert choose_deflate("auto", "deflate") is PRESETS["deflate"]
    assert choose_deflate("auto", "off") is None
    assert choose_deflate("off", "deflate") is None
    assert choose_deflate("huffman", "off") is PRESETS["huffman"]
    with pytest.raises(ValueError, match="unknown compression 'zstd'"):
        choose_deflate("auto", "zstd")
    for profile in PROFILES.values():  # every profile names an offer that exists
        choose_deflate("auto", profile.compression)


def test_an_offer_negotiates_only_window_and_context_takeover():
    offer = dataclasses.replace(PRESETS["deflate"], context_takeover=False).factory()
    assert isinstance(offer, ClientPerMessageDeflateFactory)
    params = dict(offer.get_request_params())
    assert params == {"client_max_window_bits": "12", "client_no_context_takeover": None}
    assert PRESETS["huffman"].compress_settings()["strategy"] == zlib.Z_HUFFMAN_ONLY  # local, never sent


@pytest.mark.parametrize("counters, state, words", [
    ({}, "off", None),
    ({"wire_bytes_up": 1000, "wire_bytes_down": 2000}, "off", "compression off"),
    ({"wire_bytes_up": 1000, "deflate_offered": 2}, "declined", "declined by the server"),
    ({"wire_bytes_up": 680, "payload_bytes_up": 1000, "deflate_offered": 2, "deflate_accepted": 2}, "on",
     "680 B (0.68 of 1.00 kB) sent"),
    ({"wire_bytes_up": 1000, "deflate_offered": 2, "deflate_accepted": 1}, "partly", "on for 1 of 2 connections"),
])
def test_network_line_says_what_the_counters_say(counters, state, words):
    assert compression_state(counters) == state
    line = network_line(counters)
    assert (line is None) if words is None else (words in line)


# ------------------------------------------------------------------------------------------ over TLS
@pytest.fixture
def tls():
    """The stand-in's server TLS (the client trusts it through ``client_tls``)."""
    return server_tls()


@pytest.fixture(scope="module")
def status_frames(fixtures_dir):
    return WavSource(fixtures_dir / "status_noisy.wav").frames


@dataclasses.dataclass
class Recorded:
    engine: SessionEngine
    meter: WireMeter
    uplink: list[bytes]
    downlink: list[bytes]
    user_text: str
    tcp_minus_estimate: list[tuple[int, int]]  # after connecting, after the turn (Linux only)


def _tcp_minus_estimate(meter: WireMeter) -> tuple[int, int] | None:
    tcp = settled_tcp_bytes(meter.socket)
    if tcp is None:
        return None
    return tcp[0] - meter.up.tls_estimate, tcp[1] - meter.down.tls_estimate


async def _converse(emu: LiveEmulator, frames, deflate: Deflate | None) -> Recorded:
    """One spoken turn; every frame the session wrote and read is kept (observed, not changed)."""
    live = LiveClient(LiveConfig(url=p.live_url(emu.url), api_key="k", ssl_context=client_tls(),
                                 deflate=deflate))
    uplink: list[bytes] = []
    downlink: list[bytes] = []
    drain, feed = live.session.data_to_send, live.session.receive_data

    def drained() -> list[str]:
        out = drain()
        uplink.extend(f.encode() for f in out)
        return out

    def fed(frame, now):
        downlink.append(frame if isinstance(frame, bytes) else frame.encode())
        feed(frame, now)

    live.session.data_to_send = drained
    live.session.receive_data = fed
    engine = SessionEngine(live)
    await engine.start()
    # connect wrote the setup and read setupComplete itself, before the session's queue
    uplink.append(live.session.setup_message().encode())
    downlink.append(p.SERVER_SETUP_COMPLETE.encode())
    checks = [c for c in [_tcp_minus_estimate(live.wire)] if c is not None]
    await speak_frames(engine, frames, realtime=False)
    turn = await engine.wait_turn(15)
    assert turn is not None
    # the last message of a turn is the resumption handle; then the meter and the session agree
    for _ in range(500):
        if live.handle is not None and live.wire.down.payload == sum(len(m) for m in downlink):
            break
        await asyncio.sleep(0.01)
    if checks:
        checks.append(_tcp_minus_estimate(live.wire))
    return Recorded(engine, live.wire, uplink, downlink, turn.user_text, checks)


def _plain_wire(messages: list[bytes], masked: bool) -> int:
    return sum(len(m) + frame_header_bytes(len(m), masked) for m in messages)


async def test_offer_accepted_compresses_both_ways_and_every_byte_is_counted(tls, status_frames):
    async with LiveEmulator(model_delay_s=0.02, speedup=40, tls=tls) as emu:
        rec = await _converse(emu, status_frames, PRESETS["deflate"])
        await rec.engine.stop()
    meter = rec.meter
    assert rec.user_text == "What is the status of my last task"
    assert emu.stats.deflate_offered == 1 and emu.stats.deflate_accepted == 1
    assert meter.negotiated is not None and "permessage-deflate" in (meter.answer or "")
    assert meter.counters["deflate_offered"] == meter.counters["deflate_accepted"] == 1
    assert compression_state(meter.counters) == "on"
    # uplink: the plain bytes are the session's frames; the wire bytes are those frames compressed with the
    # negotiated window, recomputed here with zlib itself
    up = rec.uplink
    close_up, close_down = meter.up.kinds["control"], meter.down.kinds["control"]  # no ping in a turn this short
    assert (close_up.messages, close_up.payload, close_up.wire) == (1, 2, 8)  # the close frame: code, masked
    assert (close_down.messages, close_down.payload, close_down.wire) == (1, 2, 4)
    assert meter.up.payload - close_up.payload == sum(len(m) for m in up)
    window = meter.negotiated.local_max_window_bits
    compressor = dataclasses.replace(PRESETS["deflate"], window_bits=window).compressor()
    sizes = [len(compressor.compress(m) + compressor.flush(zlib.Z_SYNC_FLUSH)) - 4 for m in up]
    assert meter.up.wire - close_up.wire == sum(n + frame_header_bytes(n, True) for n in sizes)
    assert meter.up.wire < 0.8 * meter.up.payload  # the noisy room's audio shrinks
    # downlink: the plain bytes are what the session parsed; the stand-in compressed them
    assert meter.down.payload - close_down.payload == sum(len(m) for m in rec.downlink)
    assert meter.down.wire < 0.8 * meter.down.payload
    by_kind = meter.summary()["up"]["by_kind"]
    assert set(by_kind) >= {"audio", "session"} and by_kind["audio"]["messages"] > 50
    # the kernel's count differs from the TLS estimate by the TLS handshake only: the same before and after
    if rec.tcp_minus_estimate:
        assert rec.tcp_minus_estimate[0] == rec.tcp_minus_estimate[1], rec.tcp_minus_estimate
        assert 0 < rec.tcp_minus_estimate[0][0] < 4096


async def test_a_server_that_declines_changes_no_byte(tls, status_frames):
    async with LiveEmulator(model_delay_s=0.02, speedup=40, tls=tls, deflate=False) as emu:
        declined = await _converse(emu, status_frames, PRESETS["huffman"])
        await declined.engine.stop()
        plain = await _converse(emu, status_frames, None)
        await plain.engine.stop()
    assert emu.stats.deflate_offered == 1 and emu.stats.deflate_accepted == 0
    assert declined.meter.negotiated is None and declined.meter.answer is None
    assert compression_state(declined.meter.counters) == "declined"
    assert plain.meter.offer is None and compression_state(plain.meter.counters) == "off"
    assert declined.user_text == plain.user_text == "What is the status of my last task"
    # frames carry exactly their text: plain sizes plus the header (and the client's mask going up)
    for rec in (declined, plain):
        up, down = rec.meter.up, rec.meter.down
        assert up.wire - up.kinds["control"].wire == _plain_wire(rec.uplink, masked=True)
        assert down.wire - down.kinds["control"].wire == _plain_wire(rec.downlink, masked=False)
    # and the offer that was declined cost nothing but its header in the HTTP upgrade
    assert declined.meter.up.wire == plain.meter.up.wire
    assert declined.meter.down.wire == plain.meter.down.wire
    shake = "permessage-deflate; client_max_window_bits=12"
    assert declined.meter.offer == shake
    assert (declined.meter.up.kinds["handshake"].wire - plain.meter.up.kinds["handshake"].wire
            == len(f"Sec-WebSocket-Extensions: {shake}\r\n"))
    for rec in (declined, plain):
        if rec.tcp_minus_estimate:
            assert rec.tcp_minus_estimate[0] == rec.tcp_minus_estimate[1], rec.tcp_minus_estimate

