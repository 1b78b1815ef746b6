"""Gemini Live (BidiGenerateContent) wire format, without any I/O.

Client side: builders that return the exact JSON text of each client message, and a parser that turns
server frames (bytes or str) into typed, frozen events.  Emulator side: a parser for client frames that
accepts both camelCase and snake_case (the official SDK sends a mix), and builders for server messages.

Both the asyncio client and the local emulator are thin shells around this module; nothing here touches a
socket, a clock or an event loop.

The audio hot path is pre-encoded: ``audio_message`` concatenates a constant prefix, the base64 payload
and a constant suffix instead of building a dict and calling ``json.dumps`` for every 20 ms chunk.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from desktop.live.usage import BadUsage, parse_usage, usage_message
from desktop.live.usage import Usage as Usage  # a server event: part of this module's API

DEFAULT_MODEL = "gemini-3.8-live"
DEFAULT_ENDPOINT = "wss://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
INPUT_RATE = 16000
OUTPUT_RATE = 24000
SERVICE_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"


class ProtocolError(ValueError):
    """A frame that is not a valid Live API message (bad JSON, wrong shape, bad base64...)."""


def live_url(endpoint: str, api_version: str = DEFAULT_API_VERSION, method: str = "BidiGenerateContent") -> str:
    """The full WebSocket URL for ``endpoint`` (scheme and host, or an already complete URL)."""
    endpoint = endpoint.rstrip("/")
    if "/ws/" in endpoint:
        return endpoint
    return endpoint + SERVICE_PATH.format(version=api_version, method=method)


def normalise_path(path: str) -> str:
    """Collapse repeated slashes (the SDK's default URI has ``//ws/``) and drop the query string."""
    path = path.split("?", 1)[0]
    return re.sub(r"/{2,}", "/", path)


def model_resource(model: str) -> str:
    return model if model.startswith(("models/", "projects/", "tunedModels/")) else f"models/{model}"


# --------------------------------------------------------------------------------------------------
# Client -> server builders
# --------------------------------------------------------------------------------------------------

def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class FunctionDeclaration:
    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # BLOCKING: the model waits for the result (and 3.8 cancels the call when new user input arrives);
    # NON_BLOCKING: it goes on talking.  None sends no behavior: 3.8 then treats the function as NON_BLOCKING.
    behavior: str | None = None

    def to_wire(self) -> dict[str, Any]:
        decl: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.parameters:
            decl["parameters"] = dict(self.parameters)
        if self.behavior:
            decl["behavior"] = self.behavior
        return decl


@dataclass(frozen=True, slots=True)
class SetupOptions:
    """Everything the ``setup`` message can carry (reference section 2)."""

    model: str = DEFAULT_MODEL
    voice: str | None = "Kore"
    language: str | None = "en-US"
    system_instruction: str | None = None
    tools: Sequence[FunctionDeclaration] = ()
    push_to_talk: bool = True  # automaticActivityDetection.disabled
    start_sensitivity: str | None = None  # START_SENSITIVITY_HIGH | START_SENSITIVITY_LOW
    end_sensitivity: str | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    activity_handling: str = "START_OF_ACTIVITY_INTERRUPTS"
    turn_coverage: str | None = "TURN_INCLUDES_ONLY_ACTIVITY"
    input_transcription: bool = True
    # what the user speaks (BCP-47 codes; empty: the service detects it) and the words their speech should be
    # heard as (repository and branch names): inputAudioTranscription.languageCodes / customVocabulary
    spoken_languages: Sequence[str] = ()
    vocabulary: Sequence[str] = ()
    output_transcription: bool = True
    session_resumption: bool = True
    resumption_handle: str | None = None
    compression_trigger_tokens: int | None = 25600
    compression_target_tokens: int | None = 12800


def setup_message(opts: SetupOptions) -> str:
    generation: dict[str, Any] = {"responseModalities": ["AUDIO"]}
    speech: dict[str, Any] = {}
    if opts.voice:
        speech["voiceConfig"] = {"prebuiltVoiceConfig": {"voiceName": opts.voice}}
    if opts.language:
        speech["languageCode"] = opts.language
    if speech:
        generation["speechConfig"] = speech
    setup: dict[str, Any] = {"model": model_resource(opts.model), "generationConfig": generation}
    if opts.system_instruction:
        setup["systemInstruction"] = {"parts": [{"text": opts.system_instruction}]}
    if opts.tools:
        setup["tools"] = [{"functionDeclarations": [t.to_wire() for t in opts.tools]}]
    aad: dict[str, Any] = {"disabled": opts.push_to_talk}
    for key, value in (
        ("startOfSpeechSensitivity", opts.start_sensitivity),
        ("endOfSpeechSensitivity", opts.end_sensitivity),
        ("prefixPaddingMs", opts.prefix_padding_ms),
        ("silenceDurationMs", opts.silence_duration_ms),
    ):
        if value is not None:
            aad[key] = value
    ric: dict[str, Any] = {"automaticActivityDetection": aad, "activityHandling": opts.activity_handling}
    if opts.turn_coverage:
        ric["turnCoverage"] = opts.turn_coverage
    setup["realtimeInputConfig"] = ric
    if opts.input_transcription:
        transcription: dict[str, Any] = {}
        if opts.spoken_languages:
            transcription["languageCodes"] = list(opts.spoken_languages)
        if opts.vocabulary:
            transcription["customVocabulary"] = list(opts.vocabulary)
        setup["inputAudioTranscription"] = transcription
    if opts.output_transcription:
        setup["outputAudioTranscription"] = {}
    if opts.session_resumption:
        setup["sessionResumption"] = {"handle": opts.resumption_handle} if opts.resumption_handle else {}
    if opts.compression_trigger_tokens:
        window: dict[str, Any] = {}
        if opts.compression_target_tokens:
            window["targetTokens"] = opts.compression_target_tokens
        setup["contextWindowCompression"] = {
            "triggerTokens": opts.compression_trigger_tokens,
            "slidingWindow": window,
        }
    return _dumps({"setup": setup})


_AUDIO_SUFFIX = '"}}}'


def audio_prefix(rate: int = INPUT_RATE) -> str:
    return '{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=%d","data":"' % rate


_AUDIO_PREFIX_16K = audio_prefix(INPUT_RATE)


def audio_message(pcm: bytes, rate: int = INPUT_RATE) -> str:
    """One realtimeInput audio message; no dict, no json.dumps (base64 needs no JSON escaping)."""
    prefix = _AUDIO_PREFIX_16K if rate == INPUT_RATE else audio_prefix(rate)
    return prefix + base64.b64encode(pcm).decode("ascii") + _AUDIO_SUFFIX


def audio_message_naive(pcm: bytes, rate: int = INPUT_RATE) -> str:
    """The straightforward per-chunk dict + json.dumps encoding; kept as the benchmark's baseline."""
    return json.dumps({"realtimeInput": {"audio": {"data": base64.b64encode(pcm).decode("ascii"),
                                                   "mimeType": f"audio/pcm;rate={rate}"}}})


ACTIVITY_START = '{"realtimeInput":{"activityStart":{}}}'
ACTIVITY_END = '{"realtimeInput":{"activityEnd":{}}}'
AUDIO_STREAM_END = '{"realtimeInput":{"audioStreamEnd":true}}'


def text_input(text: str) -> str:
    return _dumps({"realtimeInput": {"text": text}})


def client_content(text: str, *, role: str = "user", turn_complete: bool = True) -> str:
    return _dumps({"clientContent": {"turns": [{"role": role, "parts": [{"text": text}]}],
                                     "turnComplete": turn_complete}})


@dataclass(frozen=True, slots=True)
class FunctionResult:
    id: str
    name: str
    output: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | str | None = None
    scheduling: str | None = None  # SILENT | WHEN_IDLE | INTERRUPT (NON_BLOCKING functions only)
    will_continue: bool | None = None


def tool_response(results: Iterable[FunctionResult]) -> str:
    responses = []
    for r in results:
        if not r.id:
            raise ProtocolError("a function response needs the id of its call")
        body: dict[str, Any] = {"error": r.error} if r.error is not None else {"output": dict(r.output or {})}
        item: dict[str, Any] = {"id": r.id, "name": r.name, "response": body}
        if r.scheduling:
            item["scheduling"] = r.scheduling
        if r.will_continue is not None:
            item["willContinue"] = r.will_continue
        responses.append(item)
    return _dumps({"toolResponse": {"functionResponses": responses}})


# --------------------------------------------------------------------------------------------------
# Server -> client events
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SetupComplete:
    pass


@dataclass(frozen=True, slots=True)
class AudioChunk:
    data: bytes
    rate: int = OUTPUT_RATE


@dataclass(frozen=True, slots=True)
class InputTranscript:
    text: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class InterimInputTranscript:
    """What the user is saying so far (replaced by the next one; the final words come as ``InputTranscript``)."""

    text: str


@dataclass(frozen=True, slots=True)
class OutputTranscript:
    text: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Interrupted:
    pass


@dataclass(frozen=True, slots=True)
class GenerationComplete:
    pass


@dataclass(frozen=True, slots=True)
class TurnComplete:
    reason: str = ""  # turnCompleteReason (e.g. NEED_MORE_INPUT), when the server gives one


@dataclass(frozen=True, slots=True)
class WaitingForInput:
    pass


@dataclass(frozen=True, slots=True)
class FunctionCall:
    id: str
    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    calls: tuple[FunctionCall, ...]


@dataclass(frozen=True, slots=True)
class ToolCallCancellation:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GoAway:
    time_left_s: float


@dataclass(frozen=True, slots=True)
class ResumptionUpdate:
    handle: str
    resumable: bool


ServerEvent = (SetupComplete | AudioChunk | InputTranscript | InterimInputTranscript | OutputTranscript | Interrupted
               | GenerationComplete | TurnComplete | WaitingForInput | ToolCall | ToolCallCancellation
               | GoAway | ResumptionUpdate | Usage)

_RATE_RE = re.compile(r"rate=(\d+)")
_DURATION_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)s\s*$")


@lru_cache(maxsize=256)
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _get(obj: Mapping[str, Any], camel: str) -> Any:
    """Proto-JSON field lookup: camelCase or snake_case."""
    if camel in obj:
        return obj[camel]
    return obj.get(_snake(camel))


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string")
    return value


_URLSAFE = str.maketrans("-_", "+/")


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a base64 string")
    try:
        if "-" in value or "_" in value:  # proto-JSON also accepts the URL-safe alphabet (the SDK sends it)
            return base64.b64decode(value.translate(_URLSAFE), validate=True)
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{what} is not valid base64") from exc


def parse_duration(value: Any) -> float:
    """A proto Duration: "50s", "1.5s" (or a bare number of seconds)."""
    if isinstance(value, bool):
        raise ProtocolError("duration must be a string like '50s'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            return float(m.group(1))
    raise ProtocolError(f"bad duration {value!r}")


def _load(data: bytes | bytearray | memoryview | str) -> Mapping[str, Any]:
    try:
        if not isinstance(data, str):
            data = bytes(data).decode("utf-8")
        msg = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame is not UTF-8 JSON: {exc}") from exc
    if not isinstance(msg, dict):
        raise ProtocolError("frame must be a JSON object")
    return msg


def _server_content(sc: Mapping[str, Any]) -> list[ServerEvent]:
    events: list[ServerEvent] = []
    turn = _mapping(_get(sc, "modelTurn"), "modelTurn")
    parts = _get(turn, "parts") or []
    if not isinstance(parts, list):
        raise ProtocolError("modelTurn.parts must be a list")
    for part in parts:
        part = _mapping(part, "part")
        inline = _get(part, "inlineData")
        if inline is not None:
            inline = _mapping(inline, "inlineData")
            mime = _text(_get(inline, "mimeType"), "mimeType")
            m = _RATE_RE.search(mime)
            events.append(AudioChunk(_b64(_get(inline, "data"), "inlineData.data"),
                                     int(m.group(1)) if m else OUTPUT_RATE))
        # text parts (thoughts, text modality) are not spoken: the transcript carries the words
    for key, cls in (("inputTranscription", InputTranscript), ("outputTranscription", OutputTranscript)):
        tr = _get(sc, key)
        if tr is not None:
            tr = _mapping(tr, key)
            events.append(cls(_text(_get(tr, "text"), f"{key}.text"), bool(_get(tr, "finished"))))
    interim = _get(sc, "interimInputTranscription")
    if interim is not None:
        interim = _mapping(interim, "interimInputTranscription")
        events.append(InterimInputTranscript(_text(_get(interim, "text"), "interimInputTranscription.text")))
    if _get(sc, "interrupted"):
        events.append(Interrupted())
    if _get(sc, "generationComplete"):
        events.append(GenerationComplete())
    if _get(sc, "waitingForInput"):
        events.append(WaitingForInput())
    if _get(sc, "turnComplete"):
        reason = _get(sc, "turnCompleteReason")
        events.append(TurnComplete(reason if isinstance(reason, str) else ""))
    # interactionStatus, groundingMetadata and fields newer than this client: nothing to do, no event
    return events


def _tool_call(tc: Mapping[str, Any]) -> ToolCall:
    calls = _get(tc, "functionCalls") or []
    if not isinstance(calls, list):
        raise ProtocolError("functionCalls must be a list")
    out = []
    for call in calls:
        call = _mapping(call, "functionCall")
        name = _text(_get(call, "name"), "functionCall.name")
        if not name:
            raise ProtocolError("functionCall without a name")
        args = _get(call, "args")
        out.append(FunctionCall(_text(_get(call, "id"), "functionCall.id"), name,
                                dict(_mapping(args, "functionCall.args"))))
    return ToolCall(tuple(out))


def parse_server_message(data: bytes | bytearray | memoryview | str) -> list[ServerEvent]:
    """Turn one server frame into events, in wire order.  Raises ``ProtocolError`` and nothing else."""
    try:
        return _parse_server(data)
    except ProtocolError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        raise ProtocolError(f"malformed server message: {exc}") from exc


def _parse_server(data: bytes | bytearray | memoryview | str) -> list[ServerEvent]:
    msg = _load(data)
    events: list[ServerEvent] = []
    if _get(msg, "setupComplete") is not None:
        events.append(SetupComplete())
    sc = _get(msg, "serverContent")
    if sc is not None:
        events.extend(_server_content(_mapping(sc, "serverContent")))
    tc = _get(msg, "toolCall")
    if tc is not None:
        events.append(_tool_call(_mapping(tc, "toolCall")))
    cancel = _get(msg, "toolCallCancellation")
    if cancel is not None:
        ids = _get(_mapping(cancel, "toolCallCancellation"), "ids") or []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ProtocolError("toolCallCancellation.ids must be a list of strings")
        events.append(ToolCallCancellation(tuple(ids)))
    ga = _get(msg, "goAway")
    if ga is not None:
        left = _get(_mapping(ga, "goAway"), "timeLeft")
        events.append(GoAway(parse_duration(left) if left is not None else 0.0))
    ru = _get(msg, "sessionResumptionUpdate")
    if ru is not None:
        ru = _mapping(ru, "sessionResumptionUpdate")
        events.append(ResumptionUpdate(_text(_get(ru, "newHandle"), "newHandle"), bool(_get(ru, "resumable"))))
    um = _get(msg, "usageMetadata")
    if um is not None:
        try:
            events.append(parse_usage(um))
        except BadUsage:  # one bad report costs that report only: the rest of the message stands
            pass
    if not events and not (msg.keys() & _KNOWN_EMPTY_OK):
        raise ProtocolError(f"unknown server message with keys {sorted(msg)[:5]}")
    return events


# A serverContent without any field we use (e.g. only groundingMetadata) is valid and yields no event.
_KNOWN_EMPTY_OK = {"serverContent", "server_content", "usageMetadata", "usage_metadata", "voiceActivity",
                   "voice_activity", "voiceActivityDetectionSignal", "voice_activity_detection_signal"}


# --------------------------------------------------------------------------------------------------
# Server side (emulator): parse client frames, build server frames
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ClientSetup:
    model: str
    push_to_talk: bool
    tools: tuple[str, ...]
    resumption_requested: bool
    resumption_handle: str | None
    input_transcription: bool
    output_transcription: bool
    silence_duration_ms: int | None
    raw: Mapping[str, Any]
    blocking_tools: tuple[str, ...] = ()  # declared "behavior": "BLOCKING"
    spoken_languages: tuple[str, ...] = ()  # inputAudioTranscription.languageCodes
    vocabulary: tuple[str, ...] = ()  # inputAudioTranscription.customVocabulary


@dataclass(frozen=True, slots=True)
class ClientAudio:
    data: bytes
    rate: int


@dataclass(frozen=True, slots=True)
class ClientText:
    text: str


@dataclass(frozen=True, slots=True)
class ClientActivityStart:
    pass


@dataclass(frozen=True, slots=True)
class ClientActivityEnd:
    pass


@dataclass(frozen=True, slots=True)
class ClientAudioStreamEnd:
    pass


@dataclass(frozen=True, slots=True)
class ClientContent:
    text: str
    turn_complete: bool


@dataclass(frozen=True, slots=True)
class ClientToolResponse:
    responses: tuple[FunctionResult, ...]


ClientEvent = (ClientSetup | ClientAudio | ClientText | ClientActivityStart | ClientActivityEnd
               | ClientAudioStreamEnd | ClientContent | ClientToolResponse)


def parse_client_message(data: bytes | str) -> ClientEvent:
    """Parse one client frame (camelCase or snake_case at every level).  Raises ``ProtocolError``."""
    try:
        return _parse_client(data)
    except ProtocolError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ProtocolError(f"malformed client message: {exc}") from exc


def _strings(obj: Mapping[str, Any], camel: str) -> tuple[str, ...]:
    values = _get(obj, camel) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ProtocolError(f"{camel} must be a list of strings")
    return tuple(values)


def _parse_client(data: bytes | str) -> ClientEvent:
    msg = _load(data)
    if len(msg) != 1:
        raise ProtocolError(f"a client message has exactly one top-level key, got {sorted(msg)}")
    key, body = next(iter(msg.items()))
    body = _mapping(body, key)
    parse = _CLIENT_MESSAGES.get(key)
    if parse is None:
        raise ProtocolError(f"unknown client message {key!r}")
    return parse(body)


def _client_setup(body: Mapping[str, Any]) -> ClientSetup:
    model = _text(_get(body, "model"), "setup.model")
    if not model:
        raise ProtocolError("setup.model is required")
    ric = _mapping(_get(body, "realtimeInputConfig"), "realtimeInputConfig")
    aad = _mapping(_get(ric, "automaticActivityDetection"), "automaticActivityDetection")
    names, blocking = _declared_tools(body)
    transcription = _mapping(_get(body, "inputAudioTranscription"), "inputAudioTranscription")
    sr = _get(body, "sessionResumption")
    handle = _get(_mapping(sr, "sessionResumption"), "handle") if sr is not None else None
    silence = _get(aad, "silenceDurationMs")
    return ClientSetup(
        model=model, push_to_talk=bool(_get(aad, "disabled")), tools=names,
        resumption_requested=sr is not None, resumption_handle=handle or None,
        input_transcription=_get(body, "inputAudioTranscription") is not None,
        output_transcription=_get(body, "outputAudioTranscription") is not None,
        silence_duration_ms=int(silence) if silence is not None else None, raw=body,
        blocking_tools=blocking, spoken_languages=_strings(transcription, "languageCodes"),
        vocabulary=_strings(transcription, "customVocabulary"))


def _declared_tools(body: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of the functions a setup declares, and those of them declared BLOCKING."""
    names: list[str] = []
    blocking: list[str] = []
    for tool in _get(body, "tools") or []:
        for decl in _get(_mapping(tool, "tool"), "functionDeclarations") or []:
            decl = _mapping(decl, "functionDeclaration")
            names.append(_text(_get(decl, "name"), "name"))
            if _get(decl, "behavior") == "BLOCKING":
                blocking.append(names[-1])
    return tuple(names), tuple(blocking)


def _client_realtime(body: Mapping[str, Any]) -> ClientEvent:
    fields = [k for k, v in body.items() if v is not None]
    if len(fields) != 1:
        raise ProtocolError(f"realtimeInput carries exactly one field, got {sorted(fields)}")
    audio = _get(body, "audio")
    if audio is not None:
        audio = _mapping(audio, "audio")
        mime = _text(_get(audio, "mimeType"), "audio.mimeType")
        m = _RATE_RE.search(mime)
        if not mime.startswith("audio/pcm"):
            raise ProtocolError(f"unsupported audio mime type {mime!r}")
        return ClientAudio(_b64(_get(audio, "data"), "audio.data"), int(m.group(1)) if m else INPUT_RATE)
    if _get(body, "activityStart") is not None:
        return ClientActivityStart()
    if _get(body, "activityEnd") is not None:
        return ClientActivityEnd()
    if _get(body, "audioStreamEnd"):
        return ClientAudioStreamEnd()
    text = _get(body, "text")
    if text is not None:
        return ClientText(_text(text, "text"))
    raise ProtocolError(f"unsupported realtimeInput field {fields[0]!r}")


def _client_content(body: Mapping[str, Any]) -> ClientContent:
    texts = []
    for turn in _get(body, "turns") or []:
        for part in _get(_mapping(turn, "turn"), "parts") or []:
            texts.append(_text(_get(_mapping(part, "part"), "text"), "text"))
    return ClientContent(" ".join(t for t in texts if t), bool(_get(body, "turnComplete")))


def _client_tool_response(body: Mapping[str, Any]) -> ClientToolResponse:
    out = []
    for fr in _get(body, "functionResponses") or []:
        fr = _mapping(fr, "functionResponse")
        resp = _mapping(_get(fr, "response"), "response")
        fid = _text(_get(fr, "id"), "functionResponse.id")
        if not fid:
            raise ProtocolError("functionResponse.id is required")
        out.append(FunctionResult(fid, _text(_get(fr, "name"), "name"),
                                  # results belong under "output", but any object is accepted as one
                                  output=(resp["output"] if "output" in resp else resp) if "error" not in resp else None,
                                  error=resp.get("error"),
                                  scheduling=_get(fr, "scheduling"), will_continue=_get(fr, "willContinue")))
    return ClientToolResponse(tuple(out))


# the client messages, by their top-level key (camelCase, or snake_case as some clients send it)
_CLIENT_MESSAGES: dict[str, Callable[[Mapping[str, Any]], ClientEvent]] = {
    "setup": _client_setup, "realtimeInput": _client_realtime, "realtime_input": _client_realtime,
    "clientContent": _client_content, "client_content": _client_content,
    "toolResponse": _client_tool_response, "tool_response": _client_tool_response}


SERVER_SETUP_COMPLETE = '{"setupComplete":{}}'


def server_audio(pcm: bytes, rate: int = OUTPUT_RATE) -> str:
    return ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=%d","data":"'
            % rate + base64.b64encode(pcm).decode("ascii") + '"}}]}}}')


def server_content(*, input_text: str | None = None, input_finished: bool = False, interim_text: str | None = None,
                   output_text: str | None = None, interrupted: bool = False,
                   generation_complete: bool = False, turn_complete: bool = False,
                   turn_complete_reason: str | None = None, waiting_for_input: bool = False,
                   interaction_status: str | None = None, usage: Usage | None = None) -> str:
    sc: dict[str, Any] = {}
    if input_text is not None:
        sc["inputTranscription"] = {"text": input_text, **({"finished": True} if input_finished else {})}
    if interim_text is not None:
        sc["interimInputTranscription"] = {"text": interim_text}
    if output_text is not None:
        sc["outputTranscription"] = {"text": output_text}
    if interrupted:
        sc["interrupted"] = True
    if generation_complete:
        sc["generationComplete"] = True
    if waiting_for_input:
        sc["waitingForInput"] = True
    if turn_complete:
        sc["turnComplete"] = True
    if turn_complete_reason:
        sc["turnCompleteReason"] = turn_complete_reason
    if interaction_status:
        sc["interactionStatus"] = interaction_status
    if usage is not None:
        return _dumps({"serverContent": sc, "usageMetadata": usage_message(usage)})
    return _dumps({"serverContent": sc})


def server_voice_activity(start: bool, audio_offset_s: float | None = None) -> str:
    """Top-level ``voiceActivity``: the service heard speech start or end (``audioOffset``: a Duration)."""
    body: dict[str, Any] = {"voiceActivityType": "ACTIVITY_START" if start else "ACTIVITY_END"}
    if audio_offset_s is not None:
        body["audioOffset"] = f"{audio_offset_s:.3f}s"
    return _dumps({"voiceActivity": body})


def server_tool_call(calls: Iterable[FunctionCall]) -> str:
    return _dumps({"toolCall": {"functionCalls": [{"id": c.id, "name": c.name, "args": dict(c.args)}
                                                  for c in calls]}})


def server_tool_cancellation(ids: Iterable[str]) -> str:
    return _dumps({"toolCallCancellation": {"ids": list(ids)}})


def server_go_away(seconds: float) -> str:
    return _dumps({"goAway": {"timeLeft": f"{seconds:g}s"}})


def server_resumption_update(handle: str, resumable: bool) -> str:
    body: dict[str, Any] = {"resumable": resumable}
    if handle:
        body["newHandle"] = handle
    return _dumps({"sessionResumptionUpdate": body})

