"""Run news told through the session engine (desktop.run_reporter) against an in-memory Live transport: our own
LiveSession encodes every message and decodes every server frame, the test plays Gemini and the run tracker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from desktop.engine import EngineOptions, SessionEngine
from desktop.events import (
    EngineState,
    EventBus,
    PullRequest,
    RunReport,
    RunUpdate,
    TranscriptDelta,
    TurnFinished,
)
from desktop.live import protocol as p
from desktop.run_reporter import RunReporter
from desktop.run_updates import Policy
from desktop.state.recorder import Recorder
from desktop.state.store import Store
from tests.test_engine import FRAME, InMemoryTransport, Tools, of, until

PR = PullRequest("Fix the flaky login test", "https://github.com/acme/api/pull/42")
FAST = Policy(settle_s=0.05)


class Rig:
    def __init__(self, policy: Policy = FAST, store: Store | None = None) -> None:
        self.transport, self.bus, self.events = InMemoryTransport(), EventBus(), []
        self.bus.subscribe(self.events.append)
        self.tools = Tools()
        self.engine = SessionEngine(self.transport, bus=self.bus, tools=self.tools,
                                    options=EngineOptions(preroll_ms=30, tail_ms=0))
        self.reporter = RunReporter(self.bus, policy, store=store, metrics=self.engine.metrics, check_s=0.01)

    async def __aenter__(self) -> Rig:
        await self.reporter.restore()
        await self.engine.start()
        self.reporter.speak_through(self.engine)
        return self

    async def __aexit__(self, *exc) -> None:
        self.tools.release.set()
        await self.reporter.stop()
        await self.engine.stop()

    def updates_sent(self) -> list[str]:
        return [m.text for m in self.transport.sent if isinstance(m, p.ClientContent) and "[Run update" in m.text]

    def reports(self) -> list[RunReport]:
        return of(self.events, RunReport)

    def gemini_says(self, text: str) -> None:
        """Gemini's spoken answer to whatever is on the wire: audio, its transcript, turn complete."""
        self.transport.server(p.server_audio(b"\0\0" * 480))
        self.transport.server(p.server_content(output_text=text, generation_complete=True, turn_complete=True))

    async def settle(self) -> None:
        """Time for the reporter to look again (several of its checks, and the settle time)."""
        await asyncio.sleep(0.15)


def done(run_id: int, *prs: PullRequest) -> RunUpdate:
    return RunUpdate(run_id, "COMPLETE", "done", summary="Opened a pull request.", pull_requests=prs)


async def test_a_run_finishing_while_idle_is_spoken_and_shown_as_geminis_turn():
    async with Rig() as r:
        r.bus.emit(done(1001, PR))
        await until(lambda: r.updates_sent())
        (prompt,) = r.updates_sent()
        assert prompt.startswith("[Run update: done]")
        assert prompt.endswith("Run 1001 is done and opened pull request #42, “Fix the flaky login test”.")
        (report,) = r.reports()
        assert report.spoken and report.run_ids == (1001,) and report.turn_id == r.engine.turn.id
        r.gemini_says("Run 1001 is done; it opened pull request 42.")
        turn = await r.engine.wait_turn(2)
        assert turn is not None and turn.id == report.turn_id
        (finished,) = of(r.events, TurnFinished)
        assert finished.user_text == "" and finished.assistant_text == "Run 1001 is done; it opened pull request 42."
        assert [d.role for d in of(r.events, TranscriptDelta)] == ["assistant"]  # the app's turn is not the user's
        assert r.engine.metrics.stage("run_update.news_to_speech").count == 1
        await r.settle()
        assert len(r.updates_sent()) == 1  # once


async def test_a_pull_request_and_the_run_ending_soon_after_are_one_update():
    async with Rig(Policy(settle_s=0.05, hold_s=5.0)) as r:
        r.reporter.updates.seed(1002)  # started in this session, without pull requests
        r.bus.emit(RunUpdate(1002, "EVALUATION", "running", pull_requests=(PR,)))
        await r.settle()
        assert r.updates_sent() == []  # quiet, settled: the pull request waits for the run's outcome
        r.bus.emit(done(1002, PR))
        await until(lambda: r.updates_sent())
        (prompt,) = r.updates_sent()
        assert prompt.endswith("Run 1002 is done and opened pull request #42, “Fix the flaky login test”.")
        r.gemini_says("Run 1002 is done; it opened pull request 42.")
        await r.settle()
        assert len(r.updates_sent()) == 1 and len(r.reports()) == 1


async def test_news_while_the_key_is_held_is_spoken_right_after_the_reply_once():
    async with Rig() as r:
        r.engine.press()
        r.engine.feed_frame(FRAME)
        r.bus.emit(done(7))
        await r.settle()
        assert not r.updates_sent() and not r.reports()
        r.engine.release()
        await until(lambda: r.transport.kinds()[-1:] == ["ActivityEnd"])
        await r.settle()
        assert not r.updates_sent()  # the user's request is still waiting for its reply
        r.gemini_says("You have no runs going.")
        assert await r.engine.wait_turn(2) is not None
        await until(lambda: r.updates_sent())
        r.gemini_says("Run 7 is done.")
        await r.engine.wait_turn(2)
        await r.settle()
        assert len(r.updates_sent()) == 1 and len(r.reports()) == 1


async def test_news_while_gemini_speaks_waits_for_the_end_of_its_reply():
    async with Rig() as r:
        await r.engine.send_text("tell me a story")
        r.transport.server(p.server_audio(b"\0\0" * 480))
        await until(lambda: r.engine.state is EngineState.SPEAKING)
        r.bus.emit(RunUpdate(8, "ERROR", "failed", summary="The tests kept failing."))
        await r.settle()
        assert not r.updates_sent()
        r.transport.server(p.server_content(output_text="Once upon a time.", turn_complete=True))
        await until(lambda: r.updates_sent())
        assert r.updates_sent()[0].startswith("[Run update: failed]")
        assert r.updates_sent()[0].endswith("Run 8 failed: The tests kept failing.")


async def test_two_runs_finishing_together_are_one_update():
    async with Rig() as r:
        r.engine.press()
        r.bus.emit(done(11))
        r.bus.emit(RunUpdate(12, "CANCELLED", "failed"))
        r.engine.release()
        await until(lambda: r.transport.kinds()[-1:] == ["ActivityEnd"])
        r.gemini_says("Okay.")
        await until(lambda: r.updates_sent())
        await r.settle()
        (prompt,) = r.updates_sent()
        assert prompt.startswith("[Run update: several]") and prompt.endswith(
            "Run 11 is done: Opened a pull request; and run 12 was cancelled.")
        (report,) = r.reports()
        assert report.run_ids == (11, 12)


async def test_news_during_a_tool_call_waits_for_the_tool_and_its_reply():
    async with Rig() as r:
        await r.engine.send_text("list my runs")
        r.transport.server(p.server_tool_call([p.FunctionCall("c1", "list_runs", {})]))
        await until(lambda: r.tools.calls == ["list_runs"])
        r.bus.emit(done(21))
        await r.settle()
        assert not r.updates_sent()
        r.tools.release.set()
        await until(lambda: "ToolResponse" in r.transport.kinds())
        await r.settle()
        assert not r.updates_sent()  # Gemini has yet to answer with the tool's result
        r.gemini_says("You have no runs going.")
        await until(lambda: r.updates_sent())
        last = max(i for i, m in enumerate(r.transport.sent) if isinstance(m, p.ClientContent))
        assert r.transport.kinds().index("ToolResponse") < last and len(r.updates_sent()) == 1


async def test_barge_in_on_an_update_works_like_on_any_reply_and_it_is_not_repeated():
    async with Rig() as r:
        r.bus.emit(done(31))
        await until(lambda: r.updates_sent())
        r.transport.server(p.server_audio(b"\0\0" * 480))
        await until(lambda: r.engine.state is EngineState.SPEAKING)
        r.engine.press()
        assert r.engine.state is EngineState.LISTENING and r.engine.player.flushes == 1
        (interrupted,) = of(r.events, TurnFinished)
        assert interrupted.interrupted
        r.engine.release()
        await until(lambda: r.transport.kinds()[-1:] == ["ActivityEnd"])
        r.gemini_says("Yes?")
        await r.engine.wait_turn(2)
        await r.settle()
        assert len(r.updates_sent()) == 1


async def test_speaking_off_shows_the_news_and_sends_nothing():
    async with Rig(Policy(speak=False)) as r:
        r.bus.emit(done(41, PR))
        await until(lambda: r.reports())
        (report,) = r.reports()
        assert not report.spoken and report.turn_id is None and report.why_not_spoken == "off"
        assert report.text == "Run 41 is done and opened pull request #42, “Fix the flaky login test”."
        await r.settle()
        assert not r.updates_sent() and r.engine.turns == 0


def _store(path: Path) -> Store:
    return Store.open(path / "state.db")


async def test_a_run_that_ended_while_the_app_was_closed_is_reported_once(tmp_path: Path):
    store = _store(tmp_path)  # the first session saw run 51 going, then the app was closed
    recorder = Recorder(store).attach(bus := EventBus())
    bus.emit(RunUpdate(51, "RUNNING", "running", prompt="fix the flaky login test", updated_at=0.0))
    recorder.close()
    store.close()

    store = _store(tmp_path)  # the app is opened again; the tracker finds the run done
    async with Rig(store=store) as r:
        Recorder(store).attach(r.bus)
        assert [run.run_id for run in store.runs.active()] == [51]
        r.bus.emit(done(51, PR))
        await r.settle()
        assert not r.updates_sent() and not r.reports()  # the app does not start talking on its own
        await r.engine.send_text("hello")
        r.gemini_says("Hi.")
        await r.engine.wait_turn(2)
        await until(lambda: r.updates_sent())
        assert "Since your last session, run 51 is done" in r.updates_sent()[0]
        r.gemini_says("Run 51 finished while you were away.")
        await r.engine.wait_turn(2)
        await r.reporter.stop()
        assert store.flush()
        assert store.runs.unreported() == [] and store.runs.recent()[0].reported
    store.close()

    store = _store(tmp_path)  # and once more: nothing to tell
    async with Rig(store=store) as r:
        await r.engine.send_text("hello")
        r.gemini_says("Hi.")
        await r.engine.wait_turn(2)
        await r.settle()
        assert not r.reports() and not r.updates_sent()
    store.close()


async def test_an_ended_run_nobody_was_told_of_is_reported_at_the_next_start(tmp_path: Path):
    store = _store(tmp_path)
    recorder = Recorder(store).attach(bus := EventBus())
    bus.emit(RunUpdate(61, "RUNNING", "running"))
    bus.emit(RunUpdate(61, "ERROR", "failed", summary="The tests kept failing."))  # ended; app closed before telling
    recorder.close()
    assert [run.run_id for run in store.runs.unreported()] == [61]
    store.close()

    store = _store(tmp_path)
    async with Rig(Policy(speak=False), store=store) as r:
        await until(lambda: r.reports())
        (report,) = r.reports()
        assert report.text == "Since your last session, run 61 failed: The tests kept failing."
        await r.reporter.stop()
        assert store.flush() and store.runs.unreported() == []
    store.close()


@pytest.mark.parametrize("category", ["done", "failed"])
async def test_an_outcome_a_tool_already_told_is_not_announced(category: str):
    from desktop.events import ToolCallFinished

    async with Rig() as r:
        r.bus.emit(ToolCallFinished(1, "c1", "get_run_status", {"run_id": 71},
                                    {"run_id": 71, "status": "X", "category": category, "pull_requests": []}, 5.0))
        r.bus.emit(RunUpdate(71, "COMPLETE" if category == "done" else "ERROR", category))
        await r.settle()
        assert not r.reports() and not r.updates_sent()
