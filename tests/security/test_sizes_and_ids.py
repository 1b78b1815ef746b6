"""Sizes, ids and odd text from the services cannot cost data: a page bigger than asked is cut to the limit, a
run keeps its newest steps only, an id the app cannot keep exactly is refused, one bad row costs that row only
(and an error that lost one is an error), an unanswered create is never sent twice, and an over-long typed
request is refused before anything is sent.  Real SQLite files, the real command in a child process, hostile
peers on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from desktop.codegen.api import MAX_ID
from desktop.codegen.client import CodegenClient, CodegenError
from desktop.engine import MAX_TYPED_CHARS, SessionEngine
from desktop.events import ErrorEvent, EventBus, RunStep
from desktop.live import protocol as p
from desktop.live.client import LiveClient
from desktop.state.runs import MAX_STEPS_PER_RUN
from desktop.state.store import DB_NAME, Store
from tests.faults.conftest import FAKE_TOKEN, wav
from tests.faults.peers import HttpPeer, LivePeer, Reply, accept_setup, answer, until_turn_sent
from tests.standins import client_tls, codegen_emulator, live_config, live_emulator

AREA = "sizes and ids"
RUN_ID = 4242
PAGE_ITEMS = 100_000  # what the hostile service sends for every log page, whatever was asked


# ------------------------------------------------------------------------------------------ helpers
def _rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def _db_mb(data_dir: Path) -> float:
    return sum(f.stat().st_size for f in data_dir.glob(DB_NAME + "*")) / 2**20


async def _respond(reply: Reply, body: bytes, status: int = 200) -> None:
    await reply.send(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                     % (status, len(body)) + body)


def _request_line(head: bytes) -> tuple[str, str]:
    method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    return method, target


def _codegen_env(app, url: str, **extra: str) -> dict[str, str]:
    return app.env(CODEGEN_API_URL=url, CODEGEN_API_TOKEN=FAKE_TOKEN, CODEGEN_ORG_ID="1", **extra)


class FloodingCodegen:
    """A CodeGen service that starts one run (``RUN_ID``) and answers every log page with ``PAGE_ITEMS`` steps,
    whatever ``skip`` and ``limit`` asked; the run completes ``running_s`` after it was created."""

    def __init__(self, running_s: float) -> None:
        self.running_s = running_s
        self.created_at: float | None = None
        self.log_pages = 0
        self.logs_blob = b",".join([b'{"thought":"a step"}'] * PAGE_ITEMS)
        self.peer = HttpPeer(self.script)

    def run_json(self) -> dict[str, Any]:
        done = self.created_at is not None and time.monotonic() - self.created_at > self.running_s
        return {"id": RUN_ID, "organization_id": 1, "status": "COMPLETE" if done else "RUNNING",
                "created_at": "2025-01-01T00:00:00+00:00", "web_url": f"https://codegen.example/runs/{RUN_ID}",
                "summary": "Done." if done else None, "metadata": {}, "github_pull_requests": []}

    async def script(self, head: bytes, reply: Reply) -> None:
        method, target = _request_line(head)
        if method == "POST":
            self.created_at = time.monotonic()
            await _respond(reply, json.dumps(self.run_json()).encode())
        elif "/logs" in target:
            self.log_pages += 1
            run = json.dumps(self.run_json()).encode()
            await _respond(reply, run[:-1] + b', "total_logs": %d, "logs": [' % PAGE_ITEMS + self.logs_blob + b"]}")
        elif "/agent/runs" in target:
            await _respond(reply, json.dumps({"items": [self.run_json()], "total": 1, "page": 1, "size": 1,
                                              "pages": 1}).encode())
        else:
            await _respond(reply, json.dumps(self.run_json()).encode())


# ------------------------------------------------------------------------------------------ pages and steps
def test_a_log_page_far_bigger_than_asked_is_cut_to_the_limit(app, peers, threat):
    service = FloodingCodegen(running_s=8.0)
    peers.call(service.peer.start())
    live = live_emulator(model_delay_s=0.05, speedup=40)
    peers.call(live.start())
    result = app.run("run", "--wav", wav("create_pr.wav"), "--fast", "--then", "yes", "--follow", "--json",
                     "--live-url", live.url,
                     env=_codegen_env(app, service.peer.url, GEMINI_API_KEY="AIzaFAKE-sizes-and-ids-live-only"),
                     timeout=90)
    peers.call(live.stop())
    peers.call(service.peer.stop())
    assert result.rc == 0, result.stderr[-3000:]
    assert service.created_at is not None, (result.stdout[-4000:], result.stderr[-2000:])  # the run was started
    steps = [e for e in result.events if e["event"] == "RunStep" and e["run_id"] == RUN_ID]
    pages = service.log_pages
    assert pages >= 1 and 0 < len(steps) <= 100 * pages, (len(steps), pages)
    said = [line for line in result.error_lines if "were asked for" in line]
    assert len(said) == 1 and f"a page of {PAGE_ITEMS} items where at most 100" in said[0], said
    db = app.data_dir / DB_NAME
    (stored,) = _rows(db, "SELECT count(*) FROM run_steps WHERE run_id = ?", (RUN_ID,))[0]
    assert stored == len(steps) <= MAX_STEPS_PER_RUN
    size = _db_mb(app.data_dir)
    assert size < 2 and result.seconds < 60 and result.peak_rss_mb < 250
    summary = result.events[-1]
    assert summary["event"] == "Summary" and summary["ok"] is True
    threat(AREA, "memory, the history database, the session's time",
           f"`run --follow`: every log page holds {PAGE_ITEMS:,} steps whatever `skip`/`limit` asked (was: 3.9 M "
           "step rows, 159 MB in 120 s)",
           "each page checked against what was asked: cut to `limit` (100), counted as a service fault, said "
           "once in the log",
           f"{pages} pages of {PAGE_ITEMS:,} -> {len(steps)} steps shown, {stored} rows kept, {size:.2f} MB "
           f"database, 1 log line, {result.seconds:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB")


async def test_a_run_keeps_only_its_newest_steps(tmp_path, peers, threat):
    """The real tracker, client and store against a service that ignores ``skip``: simulated time, so hundreds
    of polls pass in a few seconds; the database keeps the newest ``MAX_STEPS_PER_RUN`` steps."""
    from desktop.codegen.tracker import RunTracker, SimulatedTime
    from desktop.state.recorder import Recorder

    service = FloodingCodegen(running_s=1e9)
    peers.call(service.peer.start())
    sim = SimulatedTime()
    bus = EventBus()
    emitted: list[RunStep] = []
    bus.on(RunStep, emitted.append)
    store = Store.open(tmp_path / DB_NAME)
    recorder = Recorder(store).attach(bus)
    client = CodegenClient(service.peer.url, FAKE_TOKEN, 1, bus=bus, ssl_context=client_tls(), clock=sim,
                           sleep=sim.sleep)
    tracker = RunTracker(client, bus, clock=sim, sleep=sim.sleep)
    tracker.track(RUN_ID, "flood", focus=True)
    try:
        for _ in range(40):
            await tracker.poll_focus()
    finally:
        await client.close()
        peers.call(service.peer.stop())
    assert recorder.close() and store.lost == 0
    rows = store.query("SELECT min(idx) AS lo, max(idx) AS hi, count(*) AS n FROM run_steps WHERE run_id = ?",
                       [RUN_ID])[0]
    store.close()
    size = _db_mb(tmp_path)
    assert len(emitted) == 40 * 100 and client.oversized_pages == 40
    assert rows == {"lo": 4000 - MAX_STEPS_PER_RUN, "hi": 3999, "n": MAX_STEPS_PER_RUN}
    assert size < 1
    threat(AREA, "the history database",
           "a run whose service sends steps without end (every page again, `skip` ignored)",
           f"a run keeps its newest {MAX_STEPS_PER_RUN} steps: a step past that deletes the older ones in the same "
           "write",
           f"40 pages of {PAGE_ITEMS:,} -> {len(emitted):,} steps recorded, {rows['n']} rows kept "
           f"(steps {rows['lo']}-{rows['hi']}), {size:.2f} MB database")


# ------------------------------------------------------------------------------------------ ids
BAD_IDS = [("2**70", str(2**70)), ("2**53", str(2**53)), ("true", "true"), ("1.9", "1.9"), ("-3", "-3"),
           ("0", "0"), ("a string", '"12"'), ("Infinity", "Infinity"), ("NaN", "NaN"), ("1e999", "1e999")]


def _run_with_id(raw_id: str) -> bytes:
    return (b'{"id": %s, "organization_id": 1, "status": "RUNNING", "created_at": "", "web_url": "", '
            b'"metadata": {}, "github_pull_requests": []}' % raw_id.encode())


async def test_ids_the_app_cannot_keep_exactly_are_refused(peers, threat):
    sent: dict[str, str] = {}

    async def script(head: bytes, reply: Reply) -> None:
        await _respond(reply, _run_with_id(sent["id"]))

    peer = peers.call(HttpPeer(script).start())
    client = CodegenClient(peer.url, FAKE_TOKEN, 1, ssl_context=client_tls())
    refused: dict[str, str] = {}
    try:
        for name, raw in BAD_IDS:
            sent["id"] = raw
            with pytest.raises(CodegenError) as err:  # the same run each time: a refused response is not cached
                await client.get_run(1)
            refused[name] = str(err.value)
        sent["id"] = str(MAX_ID)
        assert (await client.get_run(1)).id == MAX_ID  # the largest id that is kept exactly is taken
    finally:
        await client.close()
        peers.call(peer.stop())
    for name, message in refused.items():
        assert message.startswith("CodeGen sent a response I could not read"), (name, message)
    assert "1 to 2**53 - 1: 1180591620717411303424" in refused["2**70"]
    assert "JSON does not allow" in refused["Infinity"] and "JSON does not allow" in refused["NaN"]
    threat(AREA, "run ids (what the app follows, stores and names)",
           "a run id that is not a whole number the app can keep exactly: " + ", ".join(n for n, _ in BAD_IDS),
           "ids must be JSON integers from 1 to 2**53 - 1 (JSON's `Infinity`/`NaN` refused while parsing); the "
           "rest is refused with a response-shape error, never clamped",
           f"{len(refused)} of {len(BAD_IDS)} refused; 2**53 - 1 accepted; e.g. `{refused['2**70']}`")


def test_runs_show_with_a_run_id_of_2_to_the_70_is_one_line(app, peers, threat):
    async def script(head: bytes, reply: Reply) -> None:
        await _respond(reply, _run_with_id(str(2**70)))

    peer = peers.call(HttpPeer(script).start())
    result = app.run("runs", "show", "1", env=_codegen_env(app, peer.url), timeout=30)
    peers.call(peer.stop())
    line = result.one_line_error()
    assert result.rc == 1 and "could not read" in line and "2**53" in line, line
    threat(AREA, "the command's output and exit status", "`runs show` gets a run id of 2**70 (was: OverflowError)",
           "refused as a response the app could not read", f"exit 1, `{line.removeprefix('gemini-codegen: error: ')}`")


# ------------------------------------------------------------------------------------------ one bad row
def test_one_bad_row_costs_that_row_only(tmp_path, threat):
    path = tmp_path / DB_NAME
    store = Store.open(path)
    store.turns.start_session("s1")
    store.turns.add("s1", 1, started_at=1.0, finished_at=2.0, user_text="first question", assistant_text="first")
    store.runs.upsert(2**70, "RUNNING", "running", prompt="a run id past 64 bits")
    store.turns.add("s1", 2, started_at=3.0, finished_at=4.0, user_text="half a pair \ud800 here",
                    assistant_text="lone \udfff too")
    store.runs.upsert(7, "RUNNING", "running", prompt="a good run")
    assert store.flush()
    open_after_first = store._write_conn.in_transaction
    store.turns.add("s1", 3, started_at=5.0, finished_at=6.0, user_text="the next batch", assistant_text="saved")
    assert store.flush()
    lost = store.lost
    store.close()
    turns = _rows(path, "SELECT user_text, assistant_text FROM turns ORDER BY id")
    runs = _rows(path, "SELECT id FROM runs")
    assert not open_after_first and lost == 1
    assert turns == [("first question", "first"), ("half a pair \ufffd here", "lone \ufffd too"),
                     ("the next batch", "saved")]
    assert runs == [(7,)]
    threat(AREA, "the session's history",
           "one batch holds a run id of 2**70 (OverflowError) and a transcript with lone surrogates (was: the batch "
           "dropped, the transaction left open, the next batch failed too)",
           "the batch is written again statement by statement under savepoints: the bad row is skipped and "
           "counted; text is stored with invalid code points replaced (U+FFFD); no transaction left open",
           f"{len(turns)} of 3 turns and 1 of 2 runs kept, {lost} row lost (counted), surrogates stored as U+FFFD, "
           f"transaction open after the batch: {open_after_first}")


def test_run_reports_a_lost_history_write_as_an_error(app, history_kept, threat):
    db = app.data_dir / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("CREATE TRIGGER refuse_one BEFORE INSERT ON turns WHEN NEW.user_text = 'and now?' "
                 "BEGIN SELECT RAISE(ABORT, 'this row is refused'); END")
    conn.commit()
    conn.close()
    result = app.run("run", "--wav", wav("status.wav"), "--offline", "--fast", "--json", "--then", "and now?",
                     timeout=60)
    summary = result.events[-1]
    assert result.rc == 1, result.stderr[-3000:]
    assert summary["event"] == "Summary" and summary["ok"] is False and summary["lost_history_items"] == 1
    assert "could not be saved" in summary["error"]
    texts = [t["user_text"] for t in app.history()]
    assert "and now?" not in texts and set(history_kept) <= set(texts) and len(texts) == len(history_kept) + 1
    threat(AREA, "the command's verdict", "a history write is refused by the database (a trigger stands in for "
           "any statement SQLite rejects) (was: a turn lost while `run` exited 0)",
           "a write that was lost makes `run` fail: summary ok false, exit 1, the count in `lost_history_items`",
           f"exit {result.rc}, ok {summary['ok']}, {summary['lost_history_items']} item lost, "
           f"{len(texts)} other turns kept: `{summary['error']}`")


def test_a_lone_surrogate_in_a_transcript_keeps_the_session(app, peers, threat):
    async def script(ws) -> None:
        await accept_setup(ws)
        await until_turn_sent(ws)
        # as JSON escapes (\\ud800): valid JSON, valid UTF-8 on the wire, a lone surrogate once parsed
        await ws.send(json.dumps({"serverContent": {"inputTranscription": {"text": "what is \ud800 this",
                                                                             "finished": True}}}))
        await ws.send(p.server_audio(b"\0\0" * 2400).encode())
        await ws.send(json.dumps({"serverContent": {"outputTranscription": {"text": "an answer with \udc00 half"}}}))
        await ws.send(p.server_content(generation_complete=True).encode())
        await ws.send(p.server_content(turn_complete=True).encode())
        async for _ in ws:
            pass

    peer = peers.call(LivePeer(script).start())
    result = app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--live-url", peer.url,
                     env=app.env(GEMINI_API_KEY="AIzaFAKE-sizes-and-ids-live-only"), timeout=60)
    peers.call(peer.stop())
    assert result.rc == 0, result.stderr[-3000:]
    turns = app.history()
    assert len(turns) == 1 and "\ufffd" in turns[0]["assistant_text"], turns
    assert "\ufffd" in turns[0]["user_text"]
    threat(AREA, "the session's history", "a transcript from Gemini with lone surrogates (was: the whole session's "
           "history lost, with `ok: true`)",
           "text stored with invalid code points replaced by U+FFFD",
           f"exit 0, the turn saved: `{turns[0]['assistant_text']}`")


# ------------------------------------------------------------------------------------------ creates
def test_an_unanswered_create_is_not_sent_twice(app, peers, threat):
    emu = codegen_emulator(step_s=1000)
    emu.inject("stall_create", 6)  # the run is created, the answer held past the client's 2 s deadline
    peers.call(emu.start())
    result = app.run("runs", "create", "fix the flaky login test", "--json",
                     env=_codegen_env(app, emu.url, GEMINI_CODEGEN_CODEGEN_TIMEOUT_S="2"), timeout=60)
    posts, runs = emu.stats.by_route["create"], list(emu.runs.values())
    peers.call(emu.stop())
    assert result.rc == 0, result.stderr[-3000:]
    answered = result.events[-1]
    assert posts == 1 and len(runs) == 1 and answered["run_id"] == runs[0].id
    marker = next(v for k, v in runs[0].metadata.items() if k == "gemini_codegen_request")
    assert len(marker) == 32 and 2 <= result.seconds < 12
    threat(AREA, "the user's CodeGen runs (and their plan's allowance)",
           "a create reaches CodeGen, which starts the run and answers only after the client's deadline (2 s)",
           "each create carries a marker in its metadata; before a create is sent again the recent runs are "
           "searched for it, and the run found is returned",
           f"{posts} POST, {len(runs)} run, run {answered['run_id']} returned after {result.seconds:.1f} s")


# ------------------------------------------------------------------------------------------ typed input
def test_run_then_refuses_an_over_long_request_before_sending(app, threat):
    text = "x" * 100_000  # (one argument of a command line holds at most 128 KB)
    result = app.run("run", "--wav", wav("status.wav"), "--offline", "--fast", "--json", "--then", text,
                     timeout=60)
    line = result.one_line_error()
    assert result.rc == 2 and f"the limit is {MAX_TYPED_CHARS:,}" in line and "Gemini" not in line, line
    assert not (app.data_dir / DB_NAME).exists() and result.seconds < 10  # no session was started
    threat(AREA, "the user's request (blamed on the wrong party)",
           "`run --then` with a 100,000-character typed request (was, at 1 MB: \"Gemini sent a message larger than 1 MB\")",
           f"refused locally before anything is sent; the limit ({MAX_TYPED_CHARS:,} characters) is said",
           f"exit 2 in {result.seconds:.1f} s, no session started: `{line.removeprefix('gemini-codegen: error: ')}`")


async def test_the_engine_refuses_an_over_long_typed_request_before_sending(peers, threat):
    received: list[dict[str, Any]] = []

    async def script(ws) -> None:
        await accept_setup(ws)
        async for message in ws:
            msg = json.loads(message)
            received.append(msg)
            if msg.get("clientContent", {}).get("turnComplete"):
                await answer(ws, "Hello.")

    peer = peers.call(LivePeer(script).start())
    bus = EventBus()
    errors: list[ErrorEvent] = []
    bus.on(ErrorEvent, errors.append)
    engine = SessionEngine(LiveClient(live_config(peer)), bus=bus)
    await engine.start()
    try:
        await engine.send_text("y" * (MAX_TYPED_CHARS + 1))
        await engine.send_text("hello")
        turn = await engine.wait_turn(20)
    finally:
        await engine.stop()
        peers.call(peer.stop())
    texts = [m for m in received if "clientContent" in m]
    assert turn is not None and len(texts) == 1 and "hello" in json.dumps(texts[0])
    assert len(errors) == 1 and f"the limit is {MAX_TYPED_CHARS:,}" in errors[0].message
    threat(AREA, "the user's request", f"a typed request of {MAX_TYPED_CHARS + 1:,} characters in the engine's "
           "send-text path (the window's text box)",
           "refused before anything is sent, with an error saying the limit (`MAX_TYPED_CHARS` for the text box)",
           f"0 bytes of it sent, the next request answered: `{errors[0].message}`")
