"""The recorder turns engine events into rows; secrets are replaced before anything is queued."""

from __future__ import annotations

import json
from dataclasses import replace

from desktop.codegen.api import DONE, RUNNING, UNKNOWN
from desktop.events import (
    EventBus,
    MetricsSnapshot,
    PullRequest,
    RunFinished,
    RunReport,
    RunStep,
    RunUpdate,
    StageSummary,
    ToolCallFinished,
    TurnFinished,
)
from desktop.redaction import REDACTED
from desktop.state.recorder import Recorder
from desktop.state.store import Store

SECRET = "sk-test-SECRET-1234"
PR = PullRequest("Fix it", "https://github.com/o/r/pull/1", "fix")


def test_turns_tool_calls_and_metrics_are_recorded(store: Store) -> None:
    bus = EventBus()
    rec = Recorder(store, model="gemini-test", offline=True).attach(bus)
    bus.emit(ToolCallFinished(1, "c1", "create_run", {"prompt": f"use key {SECRET}"}, {"run_id": 7}, 12.5))
    bus.emit(TurnFinished(1, "open a PR", f"done, your key {SECRET} is safe", {"turn_total": 900.0},
                          started_at=1000.0))
    bus.emit(MetricsSnapshot({"turn.total": StageSummary(1, 900.0, 900.0, 900.0, 900.0, None)}, {}))
    assert rec.close()
    [turn] = store.turns.history()
    assert turn.user_text == "open a PR" and turn.started_at == 1000.0
    assert turn.assistant_text == f"done, your key {REDACTED} is safe"
    assert turn.timings_ms == {"turn_total": 900.0}
    [call] = store.turns.tool_calls(rec.session_id, 1)
    assert call["name"] == "create_run" and call["args"] == {"prompt": f"use key {REDACTED}"}
    assert call["result"] == {"run_id": 7} and call["duration_ms"] == 12.5
    [summary] = store.turns.metric_summaries(rec.session_id)
    assert summary["stage"] == "turn.total" and summary["p99_ms"] == 900.0
    session = store.query("SELECT * FROM sessions")[0]
    assert session["model"] == "gemini-test" and session["ended_at"] is not None
    bus.emit(TurnFinished(2, "after close", "", {}))  # detached: not recorded
    assert store.flush() and len(store.turns.history()) == 1


def test_runs_are_upserted_and_readable_at_startup(store: Store, db_path) -> None:
    bus = EventBus()
    rec = Recorder(store).attach(bus)
    bus.emit(RunUpdate(7, "RUNNING", "running", prompt="fix the flaky test", updated_at=10.0))
    bus.emit(RunUpdate(8, "RUNNING", "running", prompt="bump deps", updated_at=11.0))
    bus.emit(RunStep(7, 0, "ACTION", "cloned the repo"))
    bus.emit(RunStep(7, 0, "ACTION", "cloned the repo"))  # seen twice: stored once
    bus.emit(RunStep(7, 1, "ACTION", "ran the tests"))
    pr = PullRequest("Fix flaky login test", "https://example.invalid/pr/1", "fix-login")
    bus.emit(RunUpdate(8, "COMPLETE", "done", summary="deps bumped", pull_requests=(pr,), updated_at=12.0))
    bus.emit(RunFinished(8, "done", "deps bumped"))
    assert rec.close()
    store.close()
    # a restarted app: the runs it was following are there at once, without the network
    with Store.open(db_path) as again:
        assert [r.run_id for r in again.runs.active()] == [7]
        assert [s.text for s in again.runs.steps(7)] == ["cloned the repo", "ran the tests"]
        assert [s.text for s in again.runs.steps(7, after_index=0)] == ["ran the tests"]
        recent = {r.run_id: r for r in again.runs.recent()}
        assert recent[8].category == "done" and recent[8].pull_requests == (pr,)
        assert recent[8].prompt == "bump deps" and recent[8].summary == "deps bumped"
        assert recent[7].prompt == "fix the flaky test"


def test_cache_bodies_are_scrubbed(store: Store) -> None:
    store.api_cache.save("GET /me", f'{{"token": "{SECRET}"}}'.encode(), None, None)
    assert store.flush()
    body, _, _ = store.api_cache.load("GET /me")
    assert SECRET.encode() not in body and REDACTED.encode() in body


def test_a_run_id_given_out_again_names_the_new_run_with_nothing_of_the_old(store: Store) -> None:
    bus = EventBus()
    first = Recorder(store).attach(bus)
    bus.emit(RunUpdate(1001, "COMPLETE", DONE, "Fix the login test", "Done: fixed", "http://x/1001", (),
                       "2026-01-01T10:00:00+00:00", 100.0))
    bus.emit(RunStep(1001, 0, "ACTION", "edited login_test.py"))
    assert first.close()
    second = Recorder(store).attach(bus)  # a later session whose service handed out 1001 again
    bus.emit(RunUpdate(1001, "PENDING", UNKNOWN, "Bump the version", "", "", (), "2026-01-02T09:00:00+00:00",
                       200.0))
    bus.emit(RunUpdate(1001, "COMPLETE", DONE, "", "Done: bumped", "", (), "", 300.0))  # no date: the run 1001 is now
    assert second.close()
    [run] = store.runs.recent()
    assert (run.prompt, run.summary, run.web_url) == ("Bump the version", "Done: bumped", "")
    assert run.created_at == "2026-01-02T09:00:00+00:00" and not run.reported
    assert store.runs.steps(1001) == []  # the old run's steps went with it


# (updates in order) -> the record both the run card and the database end with
MERGES = [
    [RunUpdate(7, "RUNNING", RUNNING, "p", "", "", (), "t1"), RunUpdate(7, "COMPLETE", DONE, "", "s", "u", (), "")],
    [RunUpdate(7, "RUNNING", RUNNING, "p", "s", "u", (PR,), "t1"),
     RunUpdate(7, "QUEUED", UNKNOWN, "q", "", "", (), "t2")],  # reused id: nothing of the first
    [RunUpdate(7, "RUNNING", RUNNING, "", "", "", (), ""), RunUpdate(7, "RUNNING", RUNNING, "p", "", "", (), "t1"),
     RunUpdate(7, "COMPLETE", DONE, "", "", "", (PR,), "t1")],
    [RunUpdate(7, "RUNNING", RUNNING, "p", "s", "", (PR,), "t1"),
     RunUpdate(7, "RUNNING", RUNNING, "", "", "u", (), "t1")],
]


def test_the_database_and_the_run_cards_merge_updates_by_the_same_rule(store: Store) -> None:
    for i, updates in enumerate(MERGES):
        run_id = 100 + i
        record = None
        for update in updates:
            update = replace(update, run_id=run_id)
            record = update.after(record)  # the run card's rule
            store.runs.upsert(run_id, update.status, update.category, prompt=update.prompt, summary=update.summary,
                              web_url=update.web_url, pull_requests=update.pull_requests,
                              created_at=update.created_at)
        assert store.flush() and record is not None
        [row] = store.query("SELECT * FROM runs WHERE id = ?", [run_id])
        stored = (row["status"], row["category"], row["prompt"], row["summary"], row["web_url"], row["created_at"],
                  tuple(PullRequest(p["title"], p["url"], p["branch"]) for p in json.loads(row["pull_requests"])))
        assert stored == (record.status, record.category, record.prompt, record.summary, record.web_url,
                          record.created_at, record.pull_requests), f"case {i}"


def test_every_stored_text_field_is_bounded(store: Store) -> None:
    from desktop.state.schema import MAX_STORED_TEXT

    bus = EventBus()
    rec = Recorder(store).attach(bus)
    huge = "x" * (MAX_STORED_TEXT * 3)
    bus.emit(ToolCallFinished(1, "c1", "create_run", {"prompt": huge}, {"summary": huge}, 1.0, error=huge))
    bus.emit(TurnFinished(1, huge, huge, {}, error=huge))
    bus.emit(RunUpdate(9, "RUNNING", "running", prompt=huge, summary=huge,
                       pull_requests=tuple(PullRequest(huge, huge, huge) for _ in range(50))))
    assert rec.close()
    [turn] = store.turns.history()
    assert len(turn.user_text) <= MAX_STORED_TEXT + 10 and len(turn.error or "") <= MAX_STORED_TEXT + 10
    [call] = store.turns.tool_calls(rec.session_id, 1)
    assert call["args"]["truncated"] is True and call["args"]["chars"] > MAX_STORED_TEXT
    [run] = store.runs.recent()
    assert len(run.prompt) <= MAX_STORED_TEXT + 10 and len(run.pull_requests) == 20


def test_an_ended_run_is_reported_once_and_again_after_a_resume(store: Store) -> None:
    bus = EventBus()
    rec = Recorder(store).attach(bus)
    bus.emit(RunUpdate(5, "RUNNING", "running", updated_at=1.0))
    bus.emit(RunUpdate(6, "COMPLETE", "done", updated_at=2.0))
    bus.emit(RunUpdate(7, "ERROR", "failed", updated_at=3.0))
    assert store.flush()
    assert [r.run_id for r in store.runs.unreported()] == [6, 7]  # oldest first; a going run is not news yet
    store.runs.mark_reported([6, 7])
    assert store.flush() and store.runs.unreported() == []
    bus.emit(RunUpdate(7, "RUNNING", "running", updated_at=4.0))  # resumed: its next end is news again
    bus.emit(RunUpdate(7, "COMPLETE", "done", updated_at=5.0))
    bus.emit(RunReport((7,), "Run 7 is done.", spoken=False, why_not_spoken="off"))  # shown, not spoken
    assert rec.close()
    assert [r.run_id for r in store.runs.unreported()] == [7]
    assert {r.run_id: r.reported for r in store.runs.recent()} == {5: False, 6: True, 7: False}
    (shown,) = store.turns.history()
    assert shown.user_text == "" and shown.assistant_text == "Run 7 is done."  # Gemini's side of the history
