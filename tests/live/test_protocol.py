import base64
import json
import logging

import pytest
from google.genai import types

from desktop.live import protocol as p
from desktop.live.errors import LiveError
from desktop.live.session import LiveSession


def test_audio_message_is_exact_json_without_dumps():
    pcm = bytes(range(256)) * 3
    msg = p.audio_message(pcm)
    assert json.loads(msg) == json.loads(p.audio_message_naive(pcm))
    assert base64.b64decode(json.loads(msg)["realtimeInput"]["audio"]["data"]) == pcm
    assert json.loads(p.audio_message(b"\x01\x02", rate=24000))["realtimeInput"]["audio"]["mimeType"] == "audio/pcm;rate=24000"


def test_setup_carries_every_field():
    opts = p.SetupOptions(model="gemini-3.8-live", system_instruction="be brief", resumption_handle="h1",
                          tools=[p.FunctionDeclaration("f", "does f", {"type": "OBJECT", "properties": {}}, "NON_BLOCKING")],
                          start_sensitivity="START_SENSITIVITY_HIGH", silence_duration_ms=100, prefix_padding_ms=20)
    setup = json.loads(p.setup_message(opts))["setup"]
    assert setup["model"] == "models/gemini-3.8-live"
    assert setup["realtimeInputConfig"]["automaticActivityDetection"]["disabled"] is True
    assert setup["sessionResumption"] == {"handle": "h1"}
    assert setup["tools"][0]["functionDeclarations"][0]["behavior"] == "NON_BLOCKING"
    assert setup["contextWindowCompression"]["slidingWindow"]["targetTokens"] == 12800
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Kore"


def test_tool_response_requires_id():
    with pytest.raises(p.ProtocolError):
        p.tool_response([p.FunctionResult("", "f", {})])
    body = json.loads(p.tool_response([p.FunctionResult("c1", "f", error={"message": "nope"})]))
    assert body["toolResponse"]["functionResponses"][0]["response"] == {"error": {"message": "nope"}}


def test_parser_handles_bundled_server_content_in_binary_and_text_frames():
    audio = base64.b64encode(b"\x00\x01" * 10).decode()
    msg = {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}]},
                             "outputTranscription": {"text": "hi"}, "generationComplete": True, "turnComplete": True,
                             "someFutureField": {"x": 1}},
           "usageMetadata": {"promptTokenCount": 5, "responseTokenCount": "4", "totalTokenCount": 9}}
    for frame in (json.dumps(msg), json.dumps(msg).encode()):
        events = p.parse_server_message(frame)
        assert [type(e).__name__ for e in events] == ["AudioChunk", "OutputTranscript", "GenerationComplete",
                                                      "TurnComplete", "Usage"]
        assert events[0].data == b"\x00\x01" * 10 and events[0].rate == 24000
        assert events[-1] == p.Usage({"unspecified": 5}, {"unspecified": 4})


def test_parser_reads_every_server_message_kind():
    frames = [p.SERVER_SETUP_COMPLETE, p.server_content(input_text="a", input_finished=True),
              p.server_content(interrupted=True), p.server_tool_call([p.FunctionCall("c1", "f", {"a": 1})]),
              p.server_tool_cancellation(["c1"]), p.server_go_away(50), p.server_resumption_update("h", True),
              p.server_content(waiting_for_input=True)]
    kinds = [type(e).__name__ for f in frames for e in p.parse_server_message(f)]
    assert kinds == ["SetupComplete", "InputTranscript", "Interrupted", "ToolCall", "ToolCallCancellation", "GoAway",
                     "ResumptionUpdate", "WaitingForInput"]
    assert p.parse_server_message(p.server_go_away(1.5))[0].time_left_s == 1.5


@pytest.mark.parametrize("frame", [
    b"\xff\xfe", "not json", "[1,2]", '{"toolCall": {"functionCalls": [{"id": "x"}]}}',
    '{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "***"}}]}}}',
    '{"goAway": {"timeLeft": "soon"}}', '{"whatIsThis": {}}', '{"serverContent": {"modelTurn": {"parts": 5}}}',
])
def test_malformed_frames_raise_protocol_error(frame):
    with pytest.raises(p.ProtocolError):
        p.parse_server_message(frame)


def test_client_parser_accepts_snake_and_camel_case():
    snake = {"realtime_input": {"audio": {"data": base64.b64encode(b"ab").decode(), "mime_type": "audio/pcm;rate=16000"}}}
    assert p.parse_client_message(json.dumps(snake)) == p.ClientAudio(b"ab", 16000)
    assert isinstance(p.parse_client_message('{"realtime_input": {"activity_start": {}}}'), p.ClientActivityStart)
    setup = p.parse_client_message(json.dumps({"setup": {"model": "models/m", "realtime_input_config": {
        "automatic_activity_detection": {"disabled": True}}, "session_resumption": {}}}))
    assert setup.push_to_talk and setup.resumption_requested and setup.resumption_handle is None
    tr = p.parse_client_message('{"tool_response": {"function_responses": [{"id": "c", "name": "f", "response": {"output": {"a": 1}}}]}}')
    assert tr.responses[0].output == {"a": 1}
    with pytest.raises(p.ProtocolError):
        p.parse_client_message('{"realtimeInput": {"text": "a", "activityEnd": {}}}')  # exactly one field


def test_url_building_and_path_normalisation():
    assert p.live_url("wss://x.googleapis.com/") == (
        "wss://x.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent")
    assert p.normalise_path("//ws//a.b?key=1") == "/ws/a.b"


def test_setup_carries_the_spoken_languages_and_the_vocabulary():
    setup = json.loads(p.setup_message(p.SetupOptions(spoken_languages=("en-US", "de-DE"),
                                                      vocabulary=("flaky-login-test", "acme"))))["setup"]
    assert setup["inputAudioTranscription"] == {"languageCodes": ["en-US", "de-DE"],
                                                "customVocabulary": ["flaky-login-test", "acme"]}
    config = types.AudioTranscriptionConfig.model_validate(setup["inputAudioTranscription"])
    assert config.custom_vocabulary == ["flaky-login-test", "acme"] and config.language_codes == ["en-US", "de-DE"]
    assert json.loads(p.setup_message(p.SetupOptions()))["setup"]["inputAudioTranscription"] == {}
    parsed = p.parse_client_message(p.setup_message(p.SetupOptions(
        spoken_languages=("fr-FR",), vocabulary=("api",),
        tools=[p.FunctionDeclaration("f", "does f", behavior="BLOCKING"), p.FunctionDeclaration("g", "does g")])))
    assert parsed.spoken_languages == ("fr-FR",) and parsed.vocabulary == ("api",) and parsed.blocking_tools == ("f",)


GEMINI_38_FRAMES = [
    p.server_voice_activity(True, 0.12),
    '{"voiceActivityDetectionSignal": {"vadSignalType": "VAD_SIGNAL_TYPE_SOS"}}',
    p.server_content(interaction_status="IN_PROGRESS"),
    p.server_content(interim_text="what is the"),
    '{"serverContent": {"outputTranscription": {"text": "hi"}, "someFieldFromTomorrow": {"a": 1}}}',
    p.server_voice_activity(False, 1.5),
    p.server_content(turn_complete=True, turn_complete_reason="NEED_MORE_INPUT", waiting_for_input=True,
                     interaction_status="IDLE"),
]


def test_gemini_38_fields_are_read_or_passed_over_without_a_word(caplog):
    session = LiveSession(p.SetupOptions())
    session.connection_made(0.0)
    with caplog.at_level(logging.DEBUG):
        for frame in GEMINI_38_FRAMES:
            if "Tomorrow" not in frame:  # the shapes the SDK knows (the last one: a field newer than it)
                types.LiveServerMessage.model_validate(json.loads(frame))
            session.receive_data(frame, 1.0)
    events = session.events_received()
    assert [type(e).__name__ for e in events] == ["InterimInputTranscript", "Transcript", "WaitingForInput",
                                                  "TurnComplete"]  # (the core keeps the transcript: its own event)
    assert events[0] == p.InterimInputTranscript("what is the") and events[-1] == p.TurnComplete("NEED_MORE_INPUT")
    assert not [e for e in events if isinstance(e, LiveError)] and session.guard.malformed == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
