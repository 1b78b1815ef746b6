"""The session engine against an in-memory transport: our own LiveSession encodes every command and decodes
every server frame; only the socket is gone, and the test plays Gemini.  Turn logic, barge-in, tool calls,
errors and reconnect notices are checked in milliseconds, without a server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from desktop.engine import EngineOptions, NullPlayer, SessionEngine
from desktop.events import (
    WAITING_FOR_YOU,
    EngineState,
    ErrorEvent,
    EventBus,
    Notice,
    Reconnected,
    StateChanged,
    ToolCallFinished,
    TranscriptDelta,
    TurnFinished,
)
from desktop.live import protocol as p
from desktop.live.errors import LiveError
from desktop.live.session import Command, LiveEvent, LiveSession, Reconnect, Renewal, Why

FRAME = b"\x10\x00" * 160  # 10 ms


class InMemoryTransport:
    """A ``LiveTransport`` whose far end is the test: frames our session writes are parsed back into
    ``sent``; ``server(frame)`` feeds a frame from "Gemini" through the session to the engine."""

    def __init__(self) -> None:
        self.session = LiveSession(p.SetupOptions())
        self.sent: list[p.ClientEvent] = []
        self._events: asyncio.Queue[LiveEvent | None] = asyncio.Queue()

    connected = property(lambda self: self.session.connected)
    suspended = property(lambda self: self.session.suspended)

    async def connect(self) -> None:
        self.session.connection_made(time.monotonic())

    async def close(self) -> None:
        self.session.close()
        self._events.put_nowait(None)

    async def send(self, command: Command) -> None:
        self.session.send(command, time.monotonic())
        self.sent += [p.parse_client_message(f) for f in self.session.data_to_send()]

    async def suspend(self) -> None:
        self.session.suspend()

    async def resume(self) -> None:
        if self.session.resume():
            self.session.connection_made(time.monotonic(), Renewal(Why.IDLE), planned=True)
            self.sent += [p.parse_client_message(f) for f in self.session.data_to_send()]

    async def start_fresh(self) -> bool:
        if not self.session.start_fresh(time.monotonic()):
            return False
        reason = self.session.take_reconnect() or Renewal(Why.FRESH)
        self.session.begin_reconnect()
        self.session.connection_made(time.monotonic(), reason)
        self.sent += [p.parse_client_message(f) for f in self.session.data_to_send()]
        self.deliver()
        return True

    async def events(self) -> AsyncIterator[LiveEvent]:
        while (ev := await self._events.get()) is not None:
            yield ev

    def drop_and_reconnect(self, code: int, reason: str) -> None:
        """The connection drops and comes back at once (the core decides what is replayed and says so)."""
        decision = self.session.connection_lost(code, reason, time.monotonic())
        assert isinstance(decision, Reconnect)
        self.session.begin_reconnect()
        self.session.connection_made(time.monotonic(), decision.reason)
        self.sent += [p.parse_client_message(f) for f in self.session.data_to_send()]
        self.deliver()

    def server(self, frame: str) -> None:
        self.session.receive_data(frame, time.monotonic())
        self.deliver()

    def deliver(self, *extra: LiveEvent) -> None:
        for ev in [*self.session.events_received(), *extra]:
            self._events.put_nowait(ev)

    def kinds(self) -> list[str]:
        return [type(m).__name__.removeprefix("Client") for m in self.sent]


class Tools:
    declarations = (p.FunctionDeclaration("list_runs", "List runs", {"type": "OBJECT", "properties": {}}),)
    state_changing = frozenset({"create_agent_run"})

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()

    async def call(self, name: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        self.calls.append(name)
        await self.release.wait()
        return {"runs": []}


async def until(cond, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


@pytest.fixture
async def rig():
    transport, bus, events = InMemoryTransport(), EventBus(), []
    bus.subscribe(events.append)
    tools = Tools()
    engine = SessionEngine(transport, bus=bus, tools=tools, options=EngineOptions(preroll_ms=30, tail_ms=0))
    await engine.start()
    yield engine, transport, tools, events
    tools.release.set()
    await engine.stop()


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


async def test_a_push_to_talk_turn_goes_out_in_order_and_its_reply_completes_it(rig):
    engine, transport, _, events = rig
    for _ in range(3):
        engine.feed_frame(FRAME)  # before the key: the pre-roll
    engine.press()
    for _ in range(4):
        engine.feed_frame(FRAME)
    engine.release()
    assert engine.state is EngineState.THINKING
    await until(lambda: transport.kinds()[-1:] == ["ActivityEnd"])
    kinds = transport.kinds()
    assert kinds[0] == "ActivityStart" and kinds[-1] == "ActivityEnd" and set(kinds[1:-1]) == {"Audio"}
    audio = b"".join(m.data for m in transport.sent if isinstance(m, p.ClientAudio))
    assert audio == FRAME * 7  # pre-roll + what was said, nothing lost or doubled
    transport.server(p.server_content(input_text="list my runs", input_finished=True))
    transport.server(p.server_audio(b"\0\0" * 480))
    await until(lambda: engine.state is EngineState.SPEAKING)
    transport.server(p.server_content(output_text="You have none.", turn_complete=True))
    turn = await engine.wait_turn(2)
    assert turn is not None and turn.user_text == "list my runs" and turn.assistant_text == "You have none."
    assert engine.state is EngineState.READY and engine.player.bytes_written == 960
    assert {"key_to_wire", "speech_end_to_first_audio", "turn_total"} <= set(turn.timings_ms)
    assert [e.role for e in of(events, TranscriptDelta)] == ["user", "assistant"]


async def test_pressing_while_gemini_speaks_barges_in(rig):
    engine, transport, _, events = rig
    await engine.send_text("tell me a story")
    transport.server(p.server_audio(b"\0\0" * 480))
    await until(lambda: engine.state is EngineState.SPEAKING)
    engine.press()
    assert engine.state is EngineState.LISTENING
    assert isinstance(engine.player, NullPlayer) and engine.player.flushes == 1
    (finished,) = of(events, TurnFinished)
    assert finished.interrupted
    await until(lambda: transport.kinds()[-1:] == ["ActivityStart"])
    transport.server(p.server_audio(b"\0\0" * 480))  # late audio of the interrupted reply is not played
    await asyncio.sleep(0)
    assert engine.player.bytes_written == 960


async def test_a_reply_end_not_yet_handled_when_the_key_goes_down_ends_the_old_turn_not_the_new_one(rig):
    engine, transport, _, events = rig
    await engine.send_text("tell me a story")
    transport.server(p.server_audio(b"\0\0" * 480))
    await until(lambda: engine.state is EngineState.SPEAKING)
    # the core has seen the reply end (queued for the engine, not handled yet) when the user talks over it
    transport.session.receive_data(p.server_content(output_text="The end.", turn_complete=True), time.monotonic())
    engine.press()
    transport.deliver()  # the old reply's end, then the new turn's beginning
    await until(lambda: engine._live_turn == 2)
    (finished,) = of(events, TurnFinished)
    assert finished.turn_id == 1 and finished.interrupted and finished.assistant_text == ""
    assert engine.turn is not None and engine.turn.id == engine.turns == 2 and await engine.wait_turn(0.05) is None
    engine.release()
    await until(lambda: transport.kinds()[-1:] == ["ActivityEnd"])
    transport.server(p.server_content(output_text="Stopped.", turn_complete=True))
    turn = await engine.wait_turn(2)
    assert turn is not None and turn.id == 2 and turn.assistant_text == "Stopped." and not turn.interrupted


async def test_a_tool_call_is_answered_and_a_cancellation_stops_it(rig):
    engine, transport, tools, events = rig
    await engine.send_text("list my runs")
    transport.server(p.server_tool_call([p.FunctionCall("c1", "list_runs", {})]))
    await until(lambda: tools.calls == ["list_runs"])
    tools.release.set()
    await until(lambda: "ToolResponse" in transport.kinds())
    (response,) = [m for m in transport.sent if isinstance(m, p.ClientToolResponse)]
    assert response.responses[0].id == "c1" and response.responses[0].output == {"runs": []}
    assert transport.kinds()[-1] == "Text"  # the nudge after a tool response (Gemini 3.x)
    tools.release.clear()
    transport.server(p.server_tool_call([p.FunctionCall("c2", "list_runs", {})]))
    await until(lambda: len(tools.calls) == 2)
    transport.server(p.server_tool_cancellation(["c2"]))
    await until(lambda: any(e.call_id == "c2" for e in of(events, ToolCallFinished)))
    (cancelled,) = [e for e in of(events, ToolCallFinished) if e.call_id == "c2"]
    assert cancelled.error == "cancelled"


async def test_a_cancelled_call_that_changes_something_finishes_but_its_result_is_never_sent(rig):
    engine, transport, tools, events = rig
    await engine.send_text("start a run")
    transport.server(p.server_tool_call([p.FunctionCall("c3", "create_agent_run", {"prompt": "fix it"})]))
    await until(lambda: tools.calls == ["create_agent_run"])
    transport.server(p.server_tool_cancellation(["c3"]))  # 3.8: the user spoke during the BLOCKING call
    tools.release.set()  # the request was already with CodeGen: it finishes
    await until(lambda: any(e.call_id == "c3" for e in of(events, ToolCallFinished)))
    (finished,) = [e for e in of(events, ToolCallFinished) if e.call_id == "c3"]
    assert finished.error is None and finished.result == {"runs": []}  # shown with what it did
    assert "ToolResponse" not in transport.kinds()  # ... and never sent to Gemini
    transport.server(p.server_tool_cancellation(["c3", "unknown"]))  # late or foreign ids: nothing happens
    assert not of(events, ErrorEvent)


async def test_waiting_for_input_shows_in_the_ready_state_until_the_next_turn(rig):
    engine, transport, _, events = rig
    await engine.send_text("start a run")
    transport.server(p.server_content(turn_complete=True, turn_complete_reason="NEED_MORE_INPUT",
                                      waiting_for_input=True, interaction_status="IDLE"))
    await until(lambda: engine.state is EngineState.READY)
    assert of(events, StateChanged)[-1] == StateChanged(EngineState.READY, WAITING_FOR_YOU)
    await engine.send_text("yes")
    transport.server(p.server_content(turn_complete=True))
    await until(lambda: len(of(events, TurnFinished)) == 2)
    assert of(events, StateChanged)[-1] == StateChanged(EngineState.READY, "")


async def test_a_timeout_ends_the_turn_and_a_fatal_error_the_session(rig):
    engine, transport, _, events = rig
    await engine.send_text("hello")
    transport.deliver(LiveError("timeout", "Gemini did not answer within 30 s.", "Try again.", fatal=False,
                                turn_failed=True))
    turn = await engine.wait_turn(2)
    assert turn is not None and turn.error == "Gemini did not answer within 30 s. Try again."
    assert engine.state is EngineState.READY and engine.metrics.counters["errors"] == 1
    assert [t.error for t in of(events, TurnFinished)] == [turn.error]  # a failure in the history too
    transport.deliver(LiveError("auth", "Gemini rejected the API key."))
    await until(lambda: engine.state is EngineState.ERROR)
    assert [e.kind for e in of(events, ErrorEvent)] == ["timeout", "auth"]
    assert engine.failure is not None and engine.failure.kind == "auth"
    engine.press()  # a failed session takes no new turn: nobody would answer it
    assert await engine.wait_turn(0.1) is turn


async def test_a_replayed_turn_keeps_one_transcript_and_tells_the_user(rig):
    engine, transport, _, events = rig
    await engine.send_text("open a PR")
    transport.server(p.server_content(input_text="open a PR"))
    transport.drop_and_reconnect(1011, "internal")  # the core replays the turn on the new connection
    transport.server(p.server_content(input_text="open a PR"))  # the server transcribes the replay again
    transport.server(p.server_content(output_text="Done.", turn_complete=True))
    turn = await engine.wait_turn(2)
    assert turn is not None and turn.replayed and turn.user_text == "open a PR"
    assert [n.message for n in of(events, Notice)] == [
        "Reconnected to Gemini (connection closed (code 1011: internal)); your last request was resent"]


async def test_a_planned_reconnect_is_not_news(rig):
    engine, transport, _, events = rig
    transport.deliver(Reconnected(Renewal(Why.IDLE), resumed=True, planned=True))
    await engine.send_text("hi")
    transport.server(p.server_content(output_text="Hi.", turn_complete=True))
    assert await engine.wait_turn(2) is not None
    assert not of(events, Notice)


async def test_a_fresh_session_between_turns_carries_the_last_turns(rig):
    engine, transport, _, events = rig
    await engine.send_text("list my runs")
    transport.server(p.server_content(output_text="You have none.", turn_complete=True))
    assert await engine.wait_turn(2) is not None
    assert await engine.fresh_session()
    seed = transport.sent[-1]
    assert isinstance(seed, p.ClientContent) and not seed.turn_complete and "list my runs" in seed.text
    assert not of(events, Notice)  # everything was carried over: nothing to tell
    engine.press()
    assert not await engine.fresh_session()  # never in the middle of a turn
