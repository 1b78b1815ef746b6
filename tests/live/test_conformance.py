"""Conformance against code nobody here wrote: the official google-genai SDK and its strict pydantic types."""

from __future__ import annotations

import asyncio
import json
import wave

import pytest
from google import genai
from google.genai import types

from desktop.events import PullRequest
from desktop.live import protocol as p
from desktop.live.emulator import LiveEmulator
from desktop.run_updates import Outcome, Report, RunNews
from tests.standins import client_tls, live_emulator

# run news the way the app sends it (desktop.run_reporter): a user-role client turn, sent when the user is idle
RUN_NEWS = Report((RunNews(1001, Outcome.DONE, pull_requests=(
    PullRequest("Fix the flaky login test", "https://github.com/acme/api/pull/42"),)),
    RunNews(1002, Outcome.FAILED, "The tests kept failing.")), spoken=True)

TOOLS = [p.FunctionDeclaration("get_run_status", "status of a run",
                               {"type": "OBJECT", "properties": {"run_id": {"type": "INTEGER"}}}, behavior="NON_BLOCKING")]


def _client_messages() -> list[str]:
    full = p.SetupOptions(system_instruction="be brief", tools=TOOLS, resumption_handle="h",
                          start_sensitivity="START_SENSITIVITY_HIGH", end_sensitivity="END_SENSITIVITY_LOW",
                          prefix_padding_ms=20, silence_duration_ms=100)
    vocabulary = p.SetupOptions(spoken_languages=("en-US", "es-419"), vocabulary=("flaky-login-test", "acme", "api"),
                                tools=[p.FunctionDeclaration("list_runs", "runs", behavior="BLOCKING")])
    return [p.setup_message(full), p.setup_message(p.SetupOptions(push_to_talk=False, voice=None, language=None)),
            p.setup_message(vocabulary),
            p.audio_message(b"\x00\x01" * 320), p.text_input("hi"), p.ACTIVITY_START, p.ACTIVITY_END,
            p.AUDIO_STREAM_END, p.client_content("hello"),
            p.tool_response([p.FunctionResult("c1", "get_run_status", {"speech": "ok"}, scheduling="WHEN_IDLE",
                                              will_continue=False),
                             p.FunctionResult("c2", "get_run_status", error={"message": "no"})]),
            p.client_content(RUN_NEWS.prompt),
            # the alternative for asynchronous results: a NON_BLOCKING call answered at once with willContinue,
            # and again later with a scheduling hint (the types accept each; see desktop/run_updates.py)
            *(p.tool_response([p.FunctionResult("c3", "get_run_status", {"speech": "started"}, will_continue=True),
                               p.FunctionResult("c3", "get_run_status", {"speech": "done"}, scheduling=hint)])
              for hint in ("SILENT", "WHEN_IDLE", "INTERRUPT"))]


@pytest.mark.parametrize("message", _client_messages())
def test_every_client_message_validates_with_sdk_types(message):
    body = json.loads(message)
    assert len(body) == 1
    if "setup" in body:  # LiveClientSetup lacks realtimeInputConfig although the SDK sends it
        ric = body["setup"].pop("realtimeInputConfig")
        types.RealtimeInputConfig.model_validate(ric)
    types.LiveClientMessage.model_validate(body)


async def _collect_server_frames(emu: LiveEmulator) -> list[bytes]:
    """Drive a raw socket through audio, text, tool call, interruption and goAway; keep every server frame."""
    from websockets.asyncio.client import connect

    emu.inject("goaway")
    frames: list[bytes] = []
    wav = wave.open("tests/fixtures/status.wav")
    pcm = wav.readframes(wav.getnframes())
    async with connect(p.live_url(emu.url), additional_headers={"x-goog-api-key": "k"}, ssl=client_tls()) as ws:
        await ws.send(p.setup_message(p.SetupOptions(tools=TOOLS[:1])))
        frames.append(await ws.recv())

        async def until_turn_complete():
            while True:
                f = await ws.recv()
                frames.append(f)
                for ev in p.parse_server_message(f):
                    if isinstance(ev, p.ToolCall):
                        await ws.send(p.tool_response([p.FunctionResult(ev.calls[0].id, ev.calls[0].name, {"speech": "fine"})]))
                        await ws.send(p.text_input(" "))
                    if isinstance(ev, p.TurnComplete):
                        return

        await ws.send(p.ACTIVITY_START)
        for i in range(0, len(pcm), 640):
            await ws.send(p.audio_message(pcm[i:i + 640]))
        await ws.send(p.ACTIVITY_END)
        await until_turn_complete()
        # barge in on a reply: interrupted + turnComplete
        await ws.send(p.client_content("hello"))
        await asyncio.sleep(emu.model_delay_s + 0.05)
        await ws.send(p.ACTIVITY_START)
        await until_turn_complete()
        await ws.send(p.ACTIVITY_END)
        await until_turn_complete()
        while True:  # the rest, including goAway, until the server closes
            try:
                frames.append(await asyncio.wait_for(ws.recv(), 2))
            except Exception:
                break
    return frames


async def test_every_server_message_validates_with_sdk_types():
    # the cut comes 2 s after the goAway: long after the steps below, however busy the machine
    async with live_emulator(model_delay_s=0.05, speedup=50, goaway_s=2.0) as emu:
        frames = await _collect_server_frames(emu)
    kinds = set()
    for frame in frames:
        assert isinstance(frame, bytes), "server frames are binary"
        body = json.loads(frame)
        types.LiveServerMessage.model_validate(body)
        kinds |= set(body) | set(body.get("serverContent", {}))
    for expected in ("setupComplete", "serverContent", "toolCall", "goAway", "sessionResumptionUpdate",
                     "usageMetadata", "modelTurn", "inputTranscription", "outputTranscription", "interrupted",
                     "generationComplete", "turnComplete",
                     # Gemini 3.8: voice activity, interim transcripts, interaction status, a question's end
                     "voiceActivity", "interimInputTranscription", "interactionStatus", "turnCompleteReason",
                     "waitingForInput"):
        assert expected in kinds, expected


def _sdk_client(port: int) -> genai.Client:
    return genai.Client(api_key="sdk-test-key", http_options=types.HttpOptions(
        base_url=f"https://127.0.0.1:{port}", api_version="v1beta", async_client_args={"ssl": client_tls()}))


async def _receive_turn(session, on_tool=None):
    audio, texts, calls = 0, [], []
    async for msg in session.receive():
        sc = msg.server_content
        if sc and sc.model_turn:
            for part in sc.model_turn.parts or []:
                if part.inline_data:
                    audio += len(part.inline_data.data)
        if sc and sc.output_transcription and sc.output_transcription.text:
            texts.append(sc.output_transcription.text)
        if msg.tool_call:
            calls.extend(msg.tool_call.function_calls)
            if on_tool:
                await on_tool(msg.tool_call)
    return audio, "".join(texts), calls


async def test_official_sdk_completes_audio_text_and_tool_turns_over_tls():
    async with live_emulator(model_delay_s=0.05, speedup=50) as emu:
        config = types.LiveConnectConfig(
            response_modalities=["AUDIO"], input_audio_transcription={}, output_audio_transcription={},
            realtime_input_config=types.RealtimeInputConfig(
                automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)),
            tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
                name="get_run_status", description="status", parameters={"type": "OBJECT", "properties": {}})])])
        client = _sdk_client(emu.port)
        async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
            # 1. push-to-talk audio turn; "what is the status..." makes the emulator call the tool
            wav = wave.open("tests/fixtures/status.wav")
            pcm = wav.readframes(wav.getnframes())
            await session.send_realtime_input(activity_start=types.ActivityStart())
            for i in range(0, len(pcm), 640):
                await session.send_realtime_input(audio=types.Blob(data=pcm[i:i + 640], mime_type="audio/pcm;rate=16000"))
            await session.send_realtime_input(activity_end=types.ActivityEnd())

            async def answer(tool_call):
                fc = tool_call.function_calls[0]
                await session.send_tool_response(function_responses=[types.FunctionResponse(
                    id=fc.id, name=fc.name, response={"speech": "Run 7 is running"})])
                # Gemini 3.x waits for new realtime input after a tool response (the emulator does too)
                await session.send_realtime_input(text=" ")

            audio, text, calls = await _receive_turn(session, answer)  # receive() ends at turnComplete
            assert [c.name for c in calls] == ["get_run_status"]
            assert audio > 0 and "Run 7 is running" in text
            # 2. a text turn
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="hello")]))
            audio, text, _ = await _receive_turn(session)
            assert audio > 0 and text.startswith("Hi")
    assert emu.stats.tool_calls == 1


async def test_run_news_sent_as_a_client_turn_through_the_official_sdk_is_spoken():
    async with live_emulator(model_delay_s=0.05, speedup=50) as emu:
        config = types.LiveConnectConfig(
            response_modalities=["AUDIO"], output_audio_transcription={}, tools=[types.Tool(function_declarations=[
                types.FunctionDeclaration(name="get_run_status", description="status", behavior="NON_BLOCKING",
                                          parameters={"type": "OBJECT", "properties": {}})])],
            realtime_input_config=types.RealtimeInputConfig(
                automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)))
        async with _sdk_client(emu.port).aio.live.connect(model="gemini-3.8-live", config=config) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=RUN_NEWS.prompt)]),
                                              turn_complete=True)
            audio, text, calls = await _receive_turn(session)
    assert audio > 0 and not calls  # spoken in the stand-in's canned voice; no tool called for news
    assert text == RUN_NEWS.text == ("Run 1001 is done and opened pull request #42, “Fix the flaky login test”; "
                                     "and run 1002 failed: The tests kept failing.")
