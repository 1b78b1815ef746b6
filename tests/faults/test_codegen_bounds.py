"""Items 4 and 6 (and the 429 of item 15): a CodeGen server that sends too much, or too slowly, costs the app a
bounded amount of memory and time and ends in one line saying what happened."""

from __future__ import annotations

import asyncio
import functools
import zlib

import pytest

from desktop.codegen.client import MAX_RESPONSE_BYTES
from tests.faults.conftest import FAKE_TOKEN, wav
from tests.faults.peers import HttpPeer, Reply
from tests.standins import live_emulator

RSS_BOUND_MB = 150  # the command's own footprint is ~100 MB (~40 MB of it the echo canceller and Silero on ONNX Runtime)
OFFERED = 1 << 30  # every peer offers up to 1 GiB (a bounded loop), far more than any bound


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """256 MiB of zeros in ~256 KB of gzip."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join([c.compress(block) for _ in range(256)] + [c.flush()])


def _script(kind: str):
    async def script(head: bytes, reply: Reply) -> None:
        peer = reply.peer
        if kind == "declared_1gb":
            await reply.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                    b"content-length: %d\r\n\r\n" % OFFERED)
            while peer.bytes_sent < OFFERED:
                await reply.send(b" " * 65536)
        elif kind == "endless_chunked":
            await reply.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                    b"transfer-encoding: chunked\r\n\r\n")
            await reply.send(b"c\r\n{\"id\": 1, \"x\r\n")
            chunk = b"10000\r\n" + b"a" * 65536 + b"\r\n"
            while peer.bytes_sent < OFFERED:
                await reply.send(chunk)
        elif kind == "gzip_bomb":
            body = gzip_bomb()
            await reply.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
                                    b"content-length: %d\r\n\r\n" % len(body) + body)
        elif kind == "trickle":
            await reply.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n")
            for _ in range(1000):  # 1 byte every 0.2 s: 200 s for the whole body
                await reply.send(b" ")
                await asyncio.sleep(0.2)
        elif kind == "retry_after_999999":
            body = b'{"message": "Rate limit exceeded. Please try again later.", "status_code": 429}'
            await reply.send(b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
                                    b"retry-after: 999999\r\ncontent-length: %d\r\n\r\n" % len(body) + body)

    return script


def _codegen_env(app, peer: HttpPeer, **extra: str) -> dict[str, str]:
    return app.env(CODEGEN_API_URL=peer.url, CODEGEN_API_TOKEN=FAKE_TOKEN, CODEGEN_ORG_ID="1", **extra)


def _start(peers, kind: str) -> HttpPeer:
    return peers.call(HttpPeer(_script(kind)).start())


BODIES = [
    ("declared_1gb", "a 1 GiB JSON body (Content-Length: 1 GiB)", "larger than 4 MB (1024 MB)"),
    ("endless_chunked", "an endless chunked body", "larger than 4 MB"),
    ("gzip_bomb", "256 KB of gzip that inflates to 256 MiB", "larger than 4 MB"),
]


@pytest.mark.parametrize("kind, fault, words", BODIES, ids=[b[0] for b in BODIES])
def test_item04_an_oversized_response_is_stopped_at_the_cap(app, peers, reliability, kind, fault, words):
    peer = _start(peers, kind)
    result = app.run("runs", "show", "1", env=_codegen_env(app, peer), timeout=60)
    peers.call(peer.stop())
    line = result.one_line_error()
    assert result.rc == 1 and words in line and "stopped unread" in line, line
    assert result.seconds < 15 and result.peak_rss_mb < RSS_BOUND_MB, (result.seconds, result.peak_rss_mb)
    assert peer.requests == 1  # not retried
    if kind != "gzip_bomb":
        assert peer.bytes_sent < 64 << 20  # the app hung up long before the peer was done (it offered 1 GiB)
    reliability(4, f"`runs show` gets {fault}",
                f"reads at most {MAX_RESPONSE_BYTES >> 20} MB (gzip inflated within the limit), hangs up, "
                f"does not retry: `{line.removeprefix('gemini-codegen: error: ')}`", result)


def test_item04_a_tool_call_meeting_an_endless_body_is_answered_and_the_turn_kept(app, peers, reliability,
                                                                                  history_kept):
    peer = _start(peers, "endless_chunked")
    live = live_emulator(model_delay_s=0.05, speedup=40)
    peers.call(live.start())
    result = app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--live-url", live.url,
                     env=_codegen_env(app, peer, GEMINI_API_KEY="AIzaFAKE-fault-suite-key-live-only"), timeout=60)
    peers.call(live.stop())
    peers.call(peer.stop())
    assert result.rc == 0, result.stderr[-2000:]
    tool = next(e for e in result.events if e["event"] == "ToolCallFinished")
    assert "larger than 4 MB" in tool["error"]
    assert result.peak_rss_mb < RSS_BOUND_MB and result.seconds < 20
    turns = app.history()
    assert turns[0]["assistant_text"].startswith("Sorry, that did not work: CodeGen sent a response larger")
    assert {t["user_text"] for t in turns} >= set(history_kept)
    reliability(4, "a spoken request whose tool call meets an endless CodeGen body",
                "the tool call fails at the cap within the turn; Gemini says so; the turn and history are kept",
                result)


def test_item06_a_trickled_body_meets_the_request_deadline(app, peers, reliability):
    peer = _start(peers, "trickle")
    result = app.run("runs", "show", "1", env=_codegen_env(app, peer, GEMINI_CODEGEN_CODEGEN_TIMEOUT_S="2"),
                     timeout=60)
    peers.call(peer.stop())
    line = result.one_line_error()
    assert result.rc == 1 and "did not finish answering within 2 s" in line, line
    assert 2 <= result.seconds < 8 and result.cpu_s < 3
    reliability(6, "`runs show` gets a body trickled at 5 bytes/s (deadline shrunk to 2 s; default 30 s)",
                f"stops at the deadline, one line: `{line.removeprefix('gemini-codegen: error: ')}`", result)


def test_item15_a_huge_retry_after_is_reported_as_it_is(app, peers, reliability):
    peer = _start(peers, "retry_after_999999")
    result = app.run("runs", "show", "1", env=_codegen_env(app, peer), timeout=30)
    peers.call(peer.stop())
    line = result.one_line_error()
    assert result.rc == 1 and "try again in 12 days" in line and "120" not in line, line
    assert peer.requests == 1 and result.seconds < 8
    reliability(15, "429 with `Retry-After: 999999`",
                f"fails at once with the real wait: `{line.removeprefix('gemini-codegen: error: ')}`", result)
