"""Traces: a spoken turn and a tool call on the local stand-ins (Live and CodeGen over real loopback TLS), the
spans sent over OTLP/HTTP to a collector written here (it decodes what arrives with the OTLP protobufs).
Also: off by default without loading the SDK, refused endpoints, and a collector that is down."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, StatusCode

from audio.sources import WavSource
from desktop import egress, otel, tracing
from desktop import session as wiring
from desktop.codegen.emulator import CodegenEmulator
from desktop.config import Settings
from desktop.engine import EngineOptions, SessionEngine
from desktop.events import EngineState, ErrorEvent, EventBus, Notice, TranscriptDelta
from desktop.live import protocol as p
from desktop.session import OFFLINE_KEY, open_session
from desktop.simulated_user import speak_frames
from tests.test_engine import FRAME, InMemoryTransport, until

ROOT = Path(__file__).resolve().parent.parent
OTEL_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED",
             "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES")


class Collector:
    """An OTLP/HTTP receiver on loopback: POST /v1/traces, protobuf bodies decoded and kept."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.status = 200  # what it answers (503: overloaded)
        self.posts = 0
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                collector.posts += 1
                if collector.status != 200:
                    self.send_response(collector.status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                collector.paths.append(self.path)
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.bodies.append(body)
                collector.requests.append(request)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def spans(self) -> list:
        return [span for req in self.requests for rs in req.resource_spans for ss in rs.scope_spans
                for span in ss.spans]

    def resource(self) -> dict:
        rs = self.requests[0].resource_spans[0]
        return {kv.key: _value(kv.value) for kv in rs.resource.attributes}


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()
    c.server.server_close()


@pytest.fixture
def otel_env(monkeypatch):
    for name in OTEL_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attrs(span) -> dict:
    return {kv.key: _value(kv.value) for kv in span.attributes}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_turn_and_a_tool_call_arrive_as_one_span_tree(tmp_path, fixtures_dir, collector, otel_env):
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        otel_env.setenv(proxy, f"http://127.0.0.1:{_closed_port()}")  # a loopback collector is reached directly
    for no_proxy in ("NO_PROXY", "no_proxy"):
        otel_env.delenv(no_proxy, raising=False)
    otel_env.setenv("OTEL_SERVICE_NAME", "gcd-under-test")
    otel_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    otel_env.setattr(wiring, "OFFLINE_STEP_S", 0.05)
    emulators: list[CodegenEmulator] = []

    class Recorded(CodegenEmulator):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            emulators.append(self)

    otel_env.setattr(wiring, "CodegenEmulator", Recorded)
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    async with open_session(Settings(offline=True, data_dir=str(tmp_path)), bus=bus, model_delay_s=0.05,
                            record=False) as session:
        engine = session.engine
        await speak_frames(engine, WavSource(fixtures_dir / "create_pr.wav").frames, realtime=False)
        assert (await engine.wait_turn(15)) is not None
        await engine.send_text("yes")
        second = await engine.wait_turn(15)
        assert second is not None and second.error is None
    await _until(lambda: any(s.name == "conversation" for s in collector.spans()))

    assert set(collector.paths) == {"/v1/traces"}
    assert collector.resource()["service.name"] == "gcd-under-test"
    assert collector.resource()["deployment.environment"] == "test"
    spans = collector.spans()
    by_name: dict[str, list] = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    (conversation,) = by_name["conversation"]
    assert conversation.parent_span_id == b""
    assert attrs(conversation)["gen_ai.system"] == "gcp.gemini"
    assert attrs(conversation)["gen_ai.request.model"] == Settings().model
    conversation_id = attrs(conversation)["conversation.id"]

    turns = {attrs(t)["turn.number"]: t for t in by_name["turn"]}
    assert set(turns) == {1, 2}
    for t in turns.values():
        assert t.trace_id == conversation.trace_id and t.parent_span_id == conversation.span_id
        assert attrs(t)["conversation.id"] == conversation_id
        assert attrs(t)["turn.was_interrupted"] is False
    assert attrs(turns[1])["turn.type"] == "voice" and attrs(turns[2])["turn.type"] == "typed"

    def children(parent) -> dict[str, object]:
        return {s.name: s for s in spans if s.parent_span_id == parent.span_id}

    spoken = children(turns[1])
    assert {"user_speaking", "end_of_turn_wait", "service", "first_audio", "playback"} <= set(spoken)
    assert spoken["user_speaking"].end_time_unix_nano <= spoken["end_of_turn_wait"].end_time_unix_nano
    assert spoken["service"].start_time_unix_nano <= spoken["first_audio"].start_time_unix_nano
    assert attrs(turns[1])["metrics.ttfb"] > 0 and attrs(turns[1])["turn.user_bot_latency_seconds"] > 0
    for phase in spoken.values():
        assert turns[1].start_time_unix_nano <= phase.start_time_unix_nano <= phase.end_time_unix_nano
        assert phase.end_time_unix_nano <= turns[1].end_time_unix_nano

    # the confirmed create: a tool span in turn 2, its CodeGen POST a client span below it, traceparent sent
    (tool,) = [s for s in children(turns[2]).values() if s.name == "execute_tool create_agent_run"]
    assert attrs(tool)["gen_ai.tool.name"] == "create_agent_run" and attrs(tool)["tool.result_status"] == "success"
    (post,) = [s for s in spans if s.parent_span_id == tool.span_id]
    emu = emulators[0]
    assert post.kind == post.SPAN_KIND_CLIENT and post.name == "POST /v1/organizations/{id}/agent/run"
    a = attrs(post)
    assert a["http.request.method"] == "POST" and a["http.response.status_code"] == 200
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == emu.port
    assert a["url.full"] == f"{emu.url}/v1/organizations/1/agent/run"
    sent = [tp.split("-") for tp in emu.stats.traceparents]  # version-trace id-parent id-flags (W3C)
    assert ["00", post.trace_id.hex(), post.span_id.hex()] in [tp[:3] for tp in sent]
    assert all(int(tp[3], 16) & 1 for tp in sent)  # sampled
    assert post.trace_id == tool.trace_id == conversation.trace_id

    # what the user said lives only under the content prefix; the token never leaves
    said = "".join(e.text for e in events if isinstance(e, TranscriptDelta) and e.role == "user" and e.turn_id == 1)
    assert len(said) > 10
    assert attrs(turns[1])[f"{otel.USER_CONTENT}user_text"] == said
    prompt = [e for e in events if type(e).__name__ == "ToolCallFinished"][-1].args["prompt"]
    for s in spans:
        for key, value in attrs(s).items():
            if isinstance(value, str) and not key.startswith(otel.USER_CONTENT):
                assert said not in value and prompt not in value, (s.name, key)
    assert not any(OFFLINE_KEY.encode() in body for body in collector.bodies)


async def test_a_collector_that_is_down_costs_one_log_line_and_breaks_no_turn(tmp_path, otel_env, caplog):
    otel_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{_closed_port()}/v1/traces")
    caplog.set_level(logging.DEBUG)
    async with open_session(Settings(offline=True, data_dir=str(tmp_path)), model_delay_s=0.05,
                            record=False) as session:
        assert session.engine.tracer is not None
        for text in ("hello", "hi there"):
            await session.engine.send_text(text)
            turn = await session.engine.wait_turn(15)
            assert turn is not None and turn.error is None and turn.assistant_text
    said = [r for r in caplog.records if r.levelno >= logging.WARNING
            and (r.name.startswith("opentelemetry") or r.name.startswith("desktop.otel"))]
    assert len(said) <= 1, [r.getMessage() for r in said]
    assert all(r.exc_info is None for r in said)


def test_tracing_is_off_by_default_and_honours_the_standard_switches():
    assert tracing.endpoint({}) is None
    assert tracing.endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/"}) == \
        "http://localhost:4318/v1/traces"
    assert tracing.endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318",
                             "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://otel.example.com/in"}) == \
        "https://otel.example.com/in"
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}
    assert tracing.endpoint({**on, "OTEL_SDK_DISABLED": "true"}) is None
    assert tracing.endpoint({**on, "OTEL_TRACES_EXPORTER": "none"}) is None


def test_the_collectors_headers_are_secrets():
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc.def.123456,x-scope=team",
           "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=0123456789abcdef"}
    assert tracing.header_values(env) == ["Bearer abc.def.123456", "team", "0123456789abcdef"]


def test_plain_http_leaves_this_computer_only_never():
    assert tracing.refusal("http://127.0.0.1:4318/v1/traces") is None
    assert tracing.refusal("http://localhost:4318/v1/traces") is None
    assert tracing.refusal("https://otel.example.com/v1/traces") is None
    assert "unencrypted" in (tracing.refusal("http://otel.example.com:4318/v1/traces") or "")
    assert "not an http" in (tracing.refusal("grpc://localhost:4317") or "")


async def test_a_refused_endpoint_is_said_once_and_tracing_stays_off(tmp_path, otel_env):
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel.example.com:4318")
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    async with tracing.tracing(bus, model="m", offline=True) as tracer:
        assert tracer is None
    notices = [e for e in events if isinstance(e, Notice) and e.kind == "tracing"]
    assert len(notices) == 1 and "https://" in notices[0].message


def test_with_tracing_off_the_sdk_is_never_imported():
    env = {k: v for k, v in os.environ.items() if k not in OTEL_VARS}
    env["PYTHONPATH"] = str(ROOT)
    code = ("import sys, desktop.session, desktop.cli, desktop.codegen.client, desktop.tracing\n"
            "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'google.protobuf', 'requests'))))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


class FailingTools:
    declarations = (p.FunctionDeclaration("get_run_status", "A run's status", {"type": "OBJECT", "properties": {}}),)

    async def call(self, name, args):
        raise RuntimeError("run 7 was not found")


async def _engine_with_tracer(tools=None):
    spans = InMemorySpanExporter()
    tracer = otel.ConversationTracer("http://127.0.0.1:9/v1/traces", egress.Route(), model="m", offline=True,
                                     span_exporter=spans)
    transport = InMemoryTransport()
    engine = SessionEngine(transport, tools=tools, options=EngineOptions(preroll_ms=30, tail_ms=0), tracer=tracer)
    await engine.start()
    return engine, transport, tracer, spans


async def test_a_barge_in_marks_the_turn_interrupted_and_ends_its_playback(otel_env):
    engine, transport, tracer, spans = await _engine_with_tracer()
    await engine.send_text("tell me a story")
    transport.server(p.server_audio(b"\0\0" * 48000))  # 2 s of reply
    await until(lambda: engine.state is EngineState.SPEAKING)
    engine.press()  # barge in
    engine.feed_frame(FRAME)
    engine.release()
    transport.server(p.server_content(turn_complete=True))  # the end of the reply barged in on
    transport.server(p.server_content(output_text="Yes?", turn_complete=True))
    await engine.wait_turn(2)
    await engine.stop()
    await tracer.close()
    done = {s.name: s for s in spans.get_finished_spans() if s.name != "turn"}
    turns = sorted((s for s in spans.get_finished_spans() if s.name == "turn"), key=lambda s: s.start_time)
    assert [t.attributes["turn.was_interrupted"] for t in turns] == [True, False]
    assert [t.attributes["turn.type"] for t in turns] == ["typed", "voice"]
    first_playback = [s for s in spans.get_finished_spans() if s.name == "playback"
                      and s.parent.span_id == turns[0].context.span_id]
    assert first_playback and first_playback[0].end_time <= turns[1].start_time + 10**9  # cut at the press
    assert "user_speaking" in done and done["conversation"].attributes["gcd.turns"] == 2


async def test_a_failed_tool_and_a_failed_turn_are_errors_in_the_trace(otel_env):
    engine, transport, tracer, spans = await _engine_with_tracer(FailingTools())
    await engine.send_text("how is run 7")
    transport.server(p.server_tool_call([p.FunctionCall("c1", "get_run_status", {"run_id": 7})]))
    await until(lambda: "ToolResponse" in transport.kinds())
    transport.deliver(ErrorEvent("timeout", "Gemini did not answer within 30 s.", "Try again.", turn_failed=True))
    await engine.wait_turn(2)
    await engine.stop()
    await tracer.close()
    (tool,) = [s for s in spans.get_finished_spans() if s.name == "execute_tool get_run_status"]
    assert tool.attributes["tool.result_status"] == "error" and tool.attributes["error.type"] == "RuntimeError"
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[f"{otel.USER_CONTENT}tool_arguments"] == '{"run_id": 7}'
    (turn,) = [s for s in spans.get_finished_spans() if s.name == "turn"]
    assert turn.status.status_code is StatusCode.ERROR and turn.attributes["error.type"] == "turn_failed"
    assert tool.parent.span_id == turn.context.span_id


def test_a_collector_that_refuses_is_rested_then_tried_again(collector, caplog):
    now = [0.0]
    url = f"{collector.url}/v1/traces"
    guarded = otel.exporter(url, egress.route(url))
    guarded.clock = lambda: now[0]
    span = ReadableSpan(name="x", context=SpanContext(1, 2, False), resource=Resource.get_empty())
    collector.status = 503  # overloaded: the exporter's own retries stay within its timeout
    caplog.set_level(logging.WARNING)
    assert guarded.export([span]) is SpanExportResult.FAILURE
    tried = collector.posts
    assert tried >= 1 and guarded.down
    now[0] += otel.COOLDOWN_S / 2
    assert guarded.export([span]) is SpanExportResult.FAILURE
    assert collector.posts == tried  # resting: not even tried
    collector.status = 200
    now[0] += otel.COOLDOWN_S
    assert guarded.export([span]) is SpanExportResult.SUCCESS and not guarded.down
    assert len(collector.requests) == 1 and guarded.dropped == 2
    said = [r for r in caplog.records if r.name.startswith(("opentelemetry", "desktop.otel"))]
    assert len(said) == 1 and "did not take the spans" in said[0].getMessage()
    guarded.shutdown()
