"""Items 2 and 3: the API key and the CodeGen token never reach a log line (DEBUG included, every library),
the `--json` event stream or the database, online and offline, even when a server echoes them back."""

from __future__ import annotations

from desktop.live import protocol as p
from desktop.state.store import DB_NAME
from tests.faults.conftest import FAKE_KEY, FAKE_TOKEN, wav
from tests.faults.peers import LivePeer, accept_setup, drain, until_turn_sent
from tests.standins import codegen_emulator, live_emulator


def _assert_nowhere(result, data_dir, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr, f"{secret[:8]}... leaked"
        for path in data_dir.glob(DB_NAME + "*"):
            assert secret.encode() not in path.read_bytes(), f"{secret[:8]}... in {path.name}"


def test_item02_debug_log_of_a_full_session_has_no_secret_online_and_offline(app, peers, reliability):
    live = live_emulator(model_delay_s=0.05, speedup=40)
    codegen = codegen_emulator(step_s=0)
    peers.call(live.start())
    peers.call(codegen.start())
    online = app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--log-level", "DEBUG",
                     "--live-url", live.url, "--codegen-url", codegen.url,
                     env=app.env(GEMINI_API_KEY=FAKE_KEY, CODEGEN_API_TOKEN=FAKE_TOKEN, CODEGEN_ORG_ID="1"))
    peers.call(live.stop())
    peers.call(codegen.stop())
    assert online.rc == 0, online.stderr[-3000:]
    assert codegen.stats.requests >= 1  # the tool call reached CodeGen with the token in its header
    debug = online.stderr
    assert "DEBUG websockets.client: > x-goog-api-key: [secret]" in debug  # the header line is there, scrubbed
    assert debug.count(" DEBUG ") > 50
    _assert_nowhere(online, app.data_dir, FAKE_KEY, FAKE_TOKEN)

    offline = app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--log-level", "DEBUG", "--offline",
                      env=app.env(GEMINI_API_KEY=FAKE_KEY, CODEGEN_API_TOKEN=FAKE_TOKEN, CODEGEN_ORG_ID="1"))
    assert offline.rc == 0, offline.stderr[-3000:]
    assert offline.stderr.count(" DEBUG ") > 50
    _assert_nowhere(offline, app.data_dir, FAKE_KEY, FAKE_TOKEN)
    reliability(2, "`run --log-level DEBUG`, a full online session (fake key and token against TLS stand-ins)",
                "every log record of every library passes a redacting filter: `x-goog-api-key: [secret]`; "
                "neither secret in stderr, stdout or the database", online)
    reliability(2, "the same, offline demo with both secrets configured", "neither secret anywhere", offline)


def test_item03_a_server_echoing_the_key_does_not_get_it_printed(app, peers, reliability, history_kept):
    async def echo_the_key(ws) -> None:
        await accept_setup(ws)
        await until_turn_sent(ws)
        await ws.send(p.server_content(input_text=f"my key is {FAKE_KEY}", input_finished=True).encode())
        await ws.send(p.server_content(output_text=f"I heard your key {FAKE_KEY}").encode())
        await ws.send(p.server_audio(b"\0\0" * 2400).encode())
        await ws.send(p.server_content(turn_complete=True).encode())
        await until_turn_sent(ws)
        await ws.close(1008, f"API key {FAKE_KEY} not valid. Please pass a valid API key.")
        await drain(ws)

    peer = peers.call(LivePeer(echo_the_key).start())
    result = app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--then", "and now?",
                     "--live-url", peer.url, env=app.env(GEMINI_API_KEY=FAKE_KEY))
    peers.call(peer.stop())
    _assert_nowhere(result, app.data_dir, FAKE_KEY)
    deltas = [e for e in result.events if e["event"] == "TranscriptDelta"]
    assert any(e["text"] == "my key is [secret]" for e in deltas), deltas
    assert any("[secret]" in e["text"] for e in deltas if e["role"] == "assistant")
    errors = [e for e in result.events if e["event"] == "ErrorEvent"]
    assert errors and all("[secret]" in e["message"] for e in errors), result.stdout[-2000:]  # the close reason
    turns = app.history()
    assert "my key is [secret]" in [t["user_text"] for t in turns]
    assert set(history_kept) <= {t["user_text"] for t in turns}
    reliability(3, "a Live server echoing the key in transcripts and in its close reason",
                "the bus scrubs every event (window, `run --json`, database): `[secret]`; the error line too",
                result)
