"""Confirm-before-create end to end: Gemini tool calls on the Live emulator drive the CodeGen emulator."""

from __future__ import annotations

import asyncio
import contextlib

from audio.sources import WavSource
from desktop import session as wiring
from desktop.config import Settings
from desktop.events import EventBus, RunFinished, RunUpdate, ToolCallFinished, TranscriptDelta
from desktop.session import open_session
from desktop.simulated_user import speak_frames


async def _wait_for(events, kind, timeout: float = 10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(isinstance(e, kind) for e in events):
        assert loop.time() < deadline, f"no {kind.__name__} within {timeout} s"
        await asyncio.sleep(0.01)
    return [e for e in events if isinstance(e, kind)]


@contextlib.asynccontextmanager
async def _demo_session(tmp_path, events: list):
    """An offline-demo session (not recorded) whose every engine event lands in ``events``."""
    bus = EventBus()
    bus.subscribe(events.append)
    async with open_session(Settings(offline=True, data_dir=str(tmp_path)), bus=bus, model_delay_s=0.05,
                            record=False) as session:
        yield session


def _said(events, turn_id: int) -> str:
    return "".join(e.text for e in events if isinstance(e, TranscriptDelta) and e.role == "assistant"
                   and e.turn_id == turn_id)


async def test_spoken_request_is_confirmed_before_a_run_starts(tmp_path, monkeypatch, fixtures_dir):
    monkeypatch.setattr(wiring, "OFFLINE_STEP_S", 0.05)
    events: list = []
    async with _demo_session(tmp_path, events) as session:
        engine = session.engine
        await speak_frames(engine, WavSource(fixtures_dir / "create_pr.wav").frames, realtime=False)
        assert await engine.wait_turn(15) is not None
        (asked,) = [e for e in events if isinstance(e, ToolCallFinished)]
        assert asked.name == "create_agent_run" and asked.result["needs_confirmation"] is True
        assert "run_id" not in asked.result and not any(isinstance(e, RunUpdate) for e in events)
        assert "Should I start an agent run" in _said(events, 1)

        await engine.send_text("yes")
        assert await engine.wait_turn(15) is not None
        created = [e for e in events if isinstance(e, ToolCallFinished)][-1]
        assert created.args["confirmed"] is True and created.error is None
        run_id = created.result["run_id"]
        assert created.args["prompt"] == asked.result["prompt"]
        assert f"Started run {run_id}" in _said(events, 2)
        (finished,) = await _wait_for(events, RunFinished)
    assert finished.run_id == run_id and finished.category == "done"
    statuses = [e.status for e in events if isinstance(e, RunUpdate) and e.run_id == run_id]
    assert statuses[-1] == "COMPLETE" and len(statuses) >= 2


async def test_typed_no_starts_nothing(tmp_path, monkeypatch):
    events: list = []
    async with _demo_session(tmp_path, events) as session:
        engine = session.engine
        await engine.send_text("Create a pull request that fixes the flaky login test")
        assert await engine.wait_turn(15) is not None
        await engine.send_text("no, never mind")
        assert await engine.wait_turn(15) is not None
    calls = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [c.result.get("needs_confirmation") for c in calls] == [True]
    assert not any(isinstance(e, RunUpdate) for e in events)


async def test_noise_is_not_a_request_and_a_yes_with_nothing_read_back_starts_nothing(tmp_path, fixtures_dir):
    events: list = []
    async with _demo_session(tmp_path, events) as session:
        engine = session.engine
        noise = WavSource(fixtures_dir / "noise_only_3s.wav").frames
        await speak_frames(engine, noise, realtime=False, release_at=len(noise) - 30)
        turn = await engine.wait_turn(15)
        assert turn is not None and turn.user_text == ""  # no invented transcript
        assert _said(events, turn.id).startswith("I did not hear anything")
        assert not any(isinstance(e, ToolCallFinished) for e in events)

        await engine.send_text("yes")
        turn = await engine.wait_turn(15)
        assert turn is not None
        (call,) = [e for e in events if isinstance(e, ToolCallFinished)]
        assert call.name == "create_agent_run" and call.result.get("nothing_pending") is True
        assert "run_id" not in call.result and not any(isinstance(e, RunUpdate) for e in events)
        assert _said(events, turn.id).startswith("There is nothing waiting for a yes")
