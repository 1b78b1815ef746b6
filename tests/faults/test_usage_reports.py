"""A Live server whose usageMetadata is malformed (strings, negatives, huge numbers, wrong types), alone or
bundled with the turnComplete: each bad report is dropped alone, no turn is lost, nothing crashes, and the
good reports around it are counted, stored and priced."""

from __future__ import annotations

import json
import sqlite3

from desktop.live import protocol as p
from desktop.live.usage import MAX_TOKENS
from desktop.state.store import DB_NAME
from tests.faults.conftest import FAKE_KEY, wav
from tests.faults.peers import LivePeer, accept_setup, drain, until_turn_sent

BAD_REPORTS = [
    {"promptTokenCount": "lots", "responseTokenCount": 10},
    {"promptTokenCount": -5, "responseTokenCount": 10},
    {"promptTokenCount": MAX_TOKENS * 1000, "responseTokenCount": 10},
    {"promptTokenCount": 10**40},
    {"promptTokensDetails": "AUDIO", "promptTokenCount": 10},
    [1, 2, 3],
    "usage",
    {"responseTokensDetails": [{"modality": {"nested": True}, "tokenCount": 3}]},
]
GOOD = {"promptTokenCount": 30, "responseTokenCount": 50, "totalTokenCount": 80,
        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 30}],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 50}]}


def _finish(report: object, *, bundled: bool) -> list[bytes]:
    """A short spoken answer whose end carries ``report``: in the turnComplete's message, or just before it."""
    done = {"serverContent": {"turnComplete": True}}
    frames = [p.server_audio(b"\0\0" * 2400), p.server_content(output_text="Done."),
              p.server_content(generation_complete=True)]
    if bundled:
        frames.append(json.dumps({**done, "usageMetadata": report}))
    else:
        frames += [json.dumps({"usageMetadata": report}), json.dumps(done)]
    return [f.encode() for f in frames]


def test_malformed_usage_reports_cost_nothing_but_themselves(app, peers):
    async def script(ws) -> None:
        await accept_setup(ws)
        for n, report in enumerate([*BAD_REPORTS, GOOD]):
            await until_turn_sent(ws)
            for frame in _finish(report, bundled=n % 2 == 0):
                await ws.send(frame)
        await drain(ws)

    peer = peers.call(LivePeer(script).start())
    follow_ups = [f"question {n}" for n in range(len(BAD_REPORTS))]
    args = ["run", "--wav", wav("status.wav"), "--json", "--fast", "--live-url", peer.url]
    for text in follow_ups:
        args += ["--then", text]
    result = app.run(*args, env=app.env(GEMINI_API_KEY=FAKE_KEY), timeout=90)
    peers.call(peer.stop())
    assert result.rc == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    summary = result.events[-1]
    assert summary["ok"] and summary["turns"] == len(BAD_REPORTS) + 1 and summary["failed_turns"] == 0
    reports = [e for e in result.events if e["event"] == "UsageReported"]
    assert [r["turn_id"] for r in reports] == [len(BAD_REPORTS) + 1]  # only the good one, on the last turn
    assert summary["usage"] == {"prompt_tokens": 30, "response_tokens": 50, "total_tokens": 80,
                                "prompt": {"audio": 30}, "response": {"audio": 50}}
    assert summary["estimated_cost"]["session_usd"] == round((30 * 3.0 + 50 * 12.0) / 1e6, 6)
    turns = app.history()
    assert len(turns) == len(BAD_REPORTS) + 1 and not any(t["error"] for t in turns)
    assert sorted(t["user_text"] for t in turns if t["user_text"]) == sorted(follow_ups)
    db = sqlite3.connect(app.data_dir / DB_NAME)
    assert db.execute("SELECT turn_no, sum(tokens) FROM turn_usage GROUP BY turn_no").fetchall() == [
        (len(BAD_REPORTS) + 1, 80)]
    assert db.execute("SELECT sum(tokens) FROM daily_usage").fetchone()[0] == 80
