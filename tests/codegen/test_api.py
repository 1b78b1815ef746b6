"""The API shapes: tolerant parsing and the status classifier."""

from __future__ import annotations

import pytest

from desktop.codegen.api import (
    DONE,
    FAILED,
    RUNNING,
    UNKNOWN,
    LogPage,
    Run,
    RunPage,
    ShapeError,
    classify,
    error_message,
)


@pytest.mark.parametrize("status,category", [
    ("ACTIVE", RUNNING), ("running", RUNNING), ("Pending", RUNNING), ("EVALUATION", RUNNING),
    ("COMPLETE", DONE), ("completed", DONE), ("ERROR", FAILED), ("failed", FAILED), ("cancelled", FAILED),
    ("MAX_ITERATIONS_REACHED", FAILED), ("out-of-tokens", FAILED), ("THINKING_HARD", UNKNOWN), ("", UNKNOWN),
    (None, UNKNOWN)])
def test_classify_any_case(status, category):
    assert classify(status) == category


def test_run_ignores_unknown_fields_and_fills_missing_ones():
    run = Run.from_json({"id": 5, "status": "completed", "state": "x", "cost": 1.5,
                         "github_pull_requests": [{"id": 1, "title": "Fix", "url": "u", "merged": False}],
                         "metadata": {"prompt": "fix it"}})
    assert (run.id, run.category, run.final, run.prompt, run.web_url) == (5, DONE, True, "fix it", "")
    assert run.pull_requests[0].title == "Fix"


def test_unknown_status_is_shown_as_is_and_not_final():
    run = Run.from_json({"id": 1, "status": "WARMING_UP"})
    assert run.category == UNKNOWN and not run.final and run.status == "WARMING_UP"


def test_shapes_that_are_not_runs_are_rejected():
    with pytest.raises(ShapeError):
        Run.from_json({"status": "RUNNING"})
    with pytest.raises(ShapeError):
        RunPage.from_json({"total": 3})
    with pytest.raises(ShapeError):
        Run.from_json(["not", "an", "object"])


def test_pages_and_logs():
    page = RunPage.from_json({"items": [{"id": 2, "status": "RUNNING"}, {"id": 1, "status": "ERROR"}],
                              "total": 2, "page": 1, "size": 10, "pages": 1, "extra": True})
    assert [r.id for r in page.items] == [2, 1] and page.total == 2
    logs = LogPage.from_json({"id": 2, "status": "RUNNING", "total_logs": 1, "logs": [
        {"agent_run_id": 2, "created_at": "t", "message_type": "ACTION", "thought": None, "tool_name": "grep",
         "span": "?"}]})
    assert logs.logs[0].text == "grep" and logs.total_logs == 1


@pytest.mark.parametrize("status,words", [(401, "token"), (403, "permission"), (402, "plan"), (404, "run 9"),
                                          (422, "prompt is required"), (503, "trouble")])
def test_error_messages_are_clear(status, words):
    body = {"detail": [{"msg": "prompt is required"}]} if status == 422 else {"message": "x"}
    assert words in error_message(status, body, what="run 9")
