"""Gemini 3.8 semantics over real sockets: the engine and client against the Live stand-in.

A BLOCKING call is cancelled when the user speaks during it (toolCallCancellation): the engine stops it and
its result never reaches the server; a NON_BLOCKING one is not cancelled and its result is sent.  After a
question the server says it waits for the user (waitingForInput), which the engine shows; nothing it does
not use makes a warning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from audio.sources import WavSource
from desktop.engine import EngineOptions, SessionEngine
from desktop.events import (
    WAITING_FOR_YOU,
    ErrorEvent,
    EventBus,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from desktop.live import protocol as p
from desktop.live.client import LiveClient
from desktop.metrics import Metrics
from desktop.simulated_user import speak_frames
from tests.standins import live_config, live_emulator


class SlowStatus:
    """get_run_status that answers only when ``release`` is set."""

    def __init__(self, behavior: str) -> None:
        self.declarations = (p.FunctionDeclaration("get_run_status", "status of a run",
                                                   {"type": "OBJECT", "properties": {}}, behavior),)
        self.state_changing: frozenset[str] = frozenset()
        self.release = asyncio.Event()
        self.finished = 0

    async def call(self, name: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        await self.release.wait()
        self.finished += 1
        return {"status": "ok", "speech": "Run 7 is running."}


async def until(cond, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)


@pytest.fixture(scope="module")
def status_frames(fixtures_dir):
    return WavSource(fixtures_dir / "status.wav").frames


@pytest.mark.parametrize("behavior", ["BLOCKING", "NON_BLOCKING"])
async def test_speaking_during_a_call_cancels_it_only_when_it_is_blocking(status_frames, behavior, caplog):
    tools = SlowStatus(behavior)
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    async with live_emulator(model_delay_s=0.05, speedup=40) as emu:
        client = LiveClient(live_config(emu, setup=p.SetupOptions(tools=tools.declarations)), Metrics())
        engine = SessionEngine(client, bus=bus, tools=tools, options=EngineOptions(preroll_ms=300, tail_ms=200))
        await engine.start()
        try:
            with caplog.at_level(logging.INFO):
                await speak_frames(engine, status_frames, realtime=False)  # "what is the status of my last task"
                await until(lambda: any(isinstance(e, ToolCallStarted) for e in seen))
                # the key goes down while the call runs (a barge-in: activityStart); nothing is said, so the
                # stand-in asks again: a question
                await speak_frames(engine, [bytes(320)] * 80, realtime=False)
                await until(lambda: emu.stats.turns == 2 and engine.waiting_for_user)
                tools.release.set()
                if behavior == "BLOCKING":
                    await until(lambda: any(isinstance(e, ToolCallFinished) for e in seen))
                    (finished,) = [e for e in seen if isinstance(e, ToolCallFinished)]
                    assert finished.error == "cancelled" and tools.finished == 0  # stopped where it was
                else:  # not cancelled: it finishes and its result goes to the server
                    await until(lambda: len(emu.stats.tool_responses) == 1)
                    assert tools.finished == 1
        finally:
            await engine.stop()
    assert emu.stats.tool_calls == 1
    if behavior == "BLOCKING":
        assert emu.stats.tool_responses == []  # the cancelled call's result was never sent
    assert StateChanged(engine.state.READY, WAITING_FOR_YOU) in seen  # the question's end: Gemini waits
    assert not [e for e in seen if isinstance(e, ErrorEvent)]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
