"""The Gemini tools: declarations, confirm-before-create, speakable results with ids and links."""

from __future__ import annotations

import pytest

from desktop.codegen.client import CodegenError
from desktop.codegen.tools import NOT_CONFIGURED, CodegenTools
from desktop.codegen.tracker import RunTracker
from desktop.config import Settings
from desktop.events import TranscriptDelta, TurnStarted
from desktop.session import codegen_tools

NAMES = {"create_agent_run", "get_run_status", "list_runs", "resume_run", "get_run_logs"}


def said(tools: CodegenTools, turn: int, text: str, origin: str = "typed") -> None:
    """The user's turn ``turn`` (begun by them) in which they said or typed ``text``."""
    tools.observe(TurnStarted(turn, origin))
    tools.observe(TranscriptDelta(turn, "user", text, finished=True))


@pytest.fixture
def tools(emulator, make_client, bus_events):
    client = make_client()
    return CodegenTools(client, RunTracker(client, bus_events[0]))


def test_declarations():
    decls = {d.name: d for d in CodegenTools(None).declarations}
    assert set(decls) == NAMES
    assert decls["create_agent_run"].parameters["required"] == ["prompt"]
    assert "confirmed" in decls["create_agent_run"].parameters["properties"]


async def test_create_asks_first_and_starts_nothing(tools, emulator):
    out = await tools.call("create_agent_run", {"prompt": "Fix the flaky login test", "repo": "api"})
    assert out["needs_confirmation"] is True and out["prompt"] == "Fix the flaky login test"
    assert "Fix the flaky login test" in out["speech"] and "yes" in out["speech"].lower()
    assert emulator.stats.requests == 0 and not emulator.runs
    out = await tools.call("create_agent_run", {"prompt": "Fix the flaky login test", "repo": "api",
                                                "confirmed": "true"})  # only a real true confirms
    assert out["needs_confirmation"] is True and emulator.stats.requests == 0


async def test_confirmed_create_starts_a_run_and_tracks_it(tools, emulator):
    said(tools, 1, "fix the flaky login test in api")
    await tools.call("create_agent_run", {"prompt": "Fix the flaky login test", "repo": "api"})
    said(tools, 2, "yes")
    out = await tools.call("create_agent_run", {"prompt": "Fix the flaky login test", "repo": "api",
                                                "confirmed": True})
    (run,) = emulator.runs.values()
    assert out["run_id"] == run.id and out["web_url"].endswith(str(run.id))
    assert f"run {run.id}" in out["speech"] and "api" in run.prompt
    assert tools.tracker.focus_id == run.id and run.id in tools.tracker.active


async def test_a_yes_with_nothing_read_back_starts_nothing(tools, emulator):
    said(tools, 1, "yes")
    out = await tools.call("create_agent_run", {"prompt": "yes", "confirmed": True})
    assert out["nothing_pending"] is True and out["speech"].startswith("There is nothing waiting for a yes")
    assert emulator.stats.requests == 0 and not emulator.runs


async def test_confirmed_is_refused_until_the_user_answers_the_read_back_of_that_prompt(tools, emulator):
    said(tools, 1, "fix the flaky login test")
    await tools.call("create_agent_run", {"prompt": "Fix the flaky login test"})
    # the model confirms on its own in the same turn: read back again, nothing starts
    out = await tools.call("create_agent_run", {"prompt": "Fix the flaky login test", "confirmed": True})
    assert out["needs_confirmation"] is True and not emulator.runs
    said(tools, 2, "yes")
    # a yes to a different prompt than the one read back: that one is read back first
    out = await tools.call("create_agent_run", {"prompt": "Delete the login tests", "confirmed": True})
    assert out["needs_confirmation"] is True and "Delete the login tests" in out["speech"] and not emulator.runs
    said(tools, 3, "yes")
    out = await tools.call("create_agent_run", {"prompt": "delete the login  tests", "confirmed": True})
    assert out["run_id"] in emulator.runs and tools.read_back is None
    said(tools, 4, "yes")  # the read-back is used up: a second yes starts nothing
    out = await tools.call("create_agent_run", {"prompt": "delete the login tests", "confirmed": True})
    assert out["nothing_pending"] is True and len(emulator.runs) == 1


async def test_confirmation_can_be_switched_off(tools, emulator):
    tools.confirm_before_create = False
    said(tools, 1, "bump the version")
    out = await tools.call("create_agent_run", {"prompt": "Bump the version"})
    assert out["run_id"] in emulator.runs and out["status"] == "started"


async def test_status_list_logs_and_resume(tools, emulator):
    first = emulator.seed("Fix the flaky login test")
    failed = emulator.seed("Upgrade and fail the build")
    out = await tools.call("get_run_status", {})  # the latest
    assert out["run_id"] == failed.id and out["category"] == "failed" and "failed" in out["speech"]
    out = await tools.call("get_run_status", {"run_id": first.id})
    assert out["category"] == "done" and "pull request" in out["speech"] and out["pull_requests"][0]["url"]
    out = await tools.call("list_runs", {"state": "failed"})
    assert [r["run_id"] for r in out["runs"]] == [failed.id] and out["speech"].startswith("1 failed run")
    out = await tools.call("list_runs", {"limit": 5})
    assert len(out["runs"]) == 2 and str(first.id) in out["speech"]
    out = await tools.call("get_run_logs", {"run_id": first.id, "last": 2})
    assert [s["type"] for s in out["steps"]] == ["INITIAL_PR_GENERATION", "FINAL_ANSWER"]
    assert "last 2 steps" in out["speech"]
    said(tools, 1, "tell run one to also add a unit test")
    out = await tools.call("resume_run", {"run_id": first.id, "prompt": "Also add a unit test"})
    assert out["needs_confirmation"] is True and f"Should I tell run {first.id} to" in out["speech"]
    said(tools, 2, "yes")
    out = await tools.call("resume_run", {"run_id": first.id, "prompt": "Also add a unit test", "confirmed": True})
    assert out["run_id"] == first.id and "Sent that" in out["speech"] and out["status"] == "sent"
    assert emulator.runs[first.id].prompt == "Also add a unit test"


async def test_no_runs_yet_and_bad_arguments(tools):
    answer = await tools.call("get_run_status", {})  # asking with no runs is an answer, not a failure
    assert answer["run_id"] is None and "no CodeGen runs yet" in answer["speech"]
    with pytest.raises(CodegenError, match="no CodeGen runs yet"):
        await tools.call("get_run_logs", {})
    with pytest.raises(CodegenError, match="run_id must be a number"):
        await tools.call("get_run_status", {"run_id": "latest please"})
    with pytest.raises(CodegenError, match="state must be"):
        await tools.call("list_runs", {"state": "sleeping"})
    with pytest.raises(CodegenError, match="no tool named"):
        await tools.call("delete_everything", {})


async def test_without_credentials_the_tools_say_so(bus_events):
    bus, seen = bus_events
    async with codegen_tools(Settings(), bus=bus) as tools:
        assert {d.name for d in tools.declarations} == NAMES
        with pytest.raises(CodegenError) as err:
            await tools.call("list_runs", {})
    assert str(err.value) == NOT_CONFIGURED
    assert any(getattr(e, "message", "") == NOT_CONFIGURED for e in seen)
