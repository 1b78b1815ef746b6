"""Items 12 and 13: a turn that gets no answer is a failure in the exit code, the summary and the history; a
close reason is read for what it says, and a fatal one ends a headless run at once."""

from __future__ import annotations

import pytest

from tests.faults.conftest import FAKE_KEY, AppRun, wav
from tests.faults.peers import LivePeer, accept_setup, answer, drain, until_turn_sent
from tests.standins import live_emulator


def _run(app, url: str, **env: str):
    return app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--live-url", url,
                   env=app.env(GEMINI_API_KEY=FAKE_KEY, **env), timeout=60)


def _run_against(app, peers, script) -> tuple[AppRun, LivePeer]:
    """``run`` against a ``LivePeer`` playing ``script``; the one line it printed is checked by the caller."""
    peer = peers.call(LivePeer(script).start())
    result = _run(app, peer.url)
    peers.call(peer.stop())
    return result, peer


async def _silent_after_setup(ws) -> None:
    await accept_setup(ws)
    await drain(ws)


@pytest.mark.parametrize("server", ["stand-in --fault stall", "silent after setupComplete"])
def test_item12_a_turn_without_an_answer_is_a_failure(app, peers, reliability, history_kept, server):
    if server.startswith("stand-in"):
        peer = live_emulator(model_delay_s=0.05)
        peer.inject("stall", connections=10)
    else:
        peer = LivePeer(_silent_after_setup)
    peers.call(peer.start())
    result = _run(app, peer.url, GEMINI_CODEGEN_TURN_TIMEOUT_S="1")
    peers.call(peer.stop())
    line = result.one_line_error()
    assert result.rc == 1 and "Gemini did not answer within 1 s" in line, line
    summary = result.events[-1]
    assert summary["event"] == "Summary" and summary["ok"] is False and summary["failed_turns"] == 1
    assert summary["error"].startswith("Gemini did not answer within 1 s")
    assert result.seconds < 8
    turns = app.history()
    assert turns[0]["error"].startswith("Gemini did not answer within 1 s")
    assert [t["user_text"] for t in turns[1:]][::-1] == history_kept
    reliability(12, f"a Live server that never answers the turn ({server}; turn timeout shrunk to 1 s, "
                    "default 30 s)",
                f"exit 1, `\"ok\": false`, the turn is stored as failed with its reason: "
                f"`{line.removeprefix('gemini-codegen: error: ')}`", result)


def test_item13_an_invalid_key_close_after_setup_ends_the_run_at_once(app, peers, reliability, history_kept):
    async def reject_key(ws) -> None:
        await accept_setup(ws)
        await ws.close(1008, "API key not valid. Please pass a valid API key.")

    result, peer = _run_against(app, peers, reject_key)
    line = result.one_line_error()
    assert result.rc == 1 and "rejected the API key" in line and "Check GEMINI_API_KEY" in line, line
    assert "GEMINI_MODEL" not in line and result.seconds < 5
    assert peer.connections == 1  # a fatal close is not retried
    assert [t["user_text"] for t in app.history()][-3:][::-1] == history_kept
    reliability(13, "close 1008 \"API key not valid\" right after setupComplete",
                f"read as a key problem (not a model one), the run ends at once: "
                f"`{line.removeprefix('gemini-codegen: error: ')}`", result)


def test_item13_a_server_that_keeps_dropping_the_reply_ends_the_run(app, peers, reliability, history_kept):
    async def drop_every_reply(ws) -> None:
        await accept_setup(ws)
        await until_turn_sent(ws)
        await ws.close(1011, "Internal error encountered.")

    result, peer = _run_against(app, peers, drop_every_reply)
    line = result.one_line_error()
    assert result.rc == 1 and "closed the connection 6 times without finishing a reply" in line, line
    assert peer.connections == 6 and result.seconds < 15
    assert [t["user_text"] for t in app.history()][-3:][::-1] == history_kept
    reliability(13, "close 1011 in the middle of every reply (the turn is resent on each new connection)",
                f"five reconnects with backoff, then the run ends: `{line.removeprefix('gemini-codegen: error: ')}`",
                result)


def test_a_healthy_peer_completes_the_turn(app, peers):
    """The fault peers' own baseline: the same peer, answering, gives exit 0."""
    async def fine(ws) -> None:
        await accept_setup(ws)
        await until_turn_sent(ws)
        await answer(ws)
        await drain(ws)

    result, _ = _run_against(app, peers, fine)
    assert result.rc == 0 and result.events[-1]["ok"] is True, result.stderr[-2000:]
