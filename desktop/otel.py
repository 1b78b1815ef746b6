"""OpenTelemetry spans for one conversation (imported by ``desktop.tracing`` only when tracing is on).

The span tree (one trace per conversation, i.e. per ``open_session``)::

    conversation                          the session's whole life; Live reconnects are its events
    ├── turn                              one per turn, key down (or the typed request) -> reply played
    │   ├── user_speaking                 key down -> key up (voice turns)
    │   ├── end_of_turn_wait              key up -> activityEnd on the wire (the VAD's tail)
    │   ├── service                       request complete -> first reply byte (time to first byte)
    │   ├── first_audio                   first reply byte -> its first sample handed to the device
    │   ├── playback                      first sample -> the reply has played (or was cut off)
    │   └── execute_tool <name>           one per tool call, current while the tool runs
    │       └── POST /v1/organizations/{id}/agent/run     CodeGen requests (client spans, traceparent sent)
    └── ...
    GET /v1/organizations/{id}/agent/runs  CodeGen requests outside a tool call (the run tracker's polls)
                                           are traces of their own, tagged with the conversation id

Why one trace per conversation: a turn is read in the context of the turns before it, and a trace
viewer shows them on one time line.  The conversation span itself stays small however long the session
runs: it holds a fixed set of attributes and at most ``MAX_CONVERSATION_EVENTS`` events; ended turns are
exported as they end and nothing of them is kept here; at most ``MAX_OPEN_TURNS`` turns are open at once.

A turn's phases are recorded when the turn ends, from the moments the engine keeps in ``TurnTimings``
(``perf_counter`` seconds, turned into wall-clock nanoseconds), so the audio path runs no tracing code.

Export: OTLP over HTTP/protobuf through a batch span processor on its own thread.  A collector that is
down or refuses the spans is said once in the log, and left alone for ``COOLDOWN_S`` (spans in between
are dropped): tracing never slows or breaks a turn.  Closing flushes for at most ``FLUSH_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from desktop import __version__, egress
from desktop.events import Reconnected
from desktop.redaction import SECRETS

if TYPE_CHECKING:
    from desktop.live.protocol import FunctionCall
    from desktop.turn import Turn

log = logging.getLogger(__name__)
USER_CONTENT = "gcd.user_content."  # the prefix of every attribute that holds conversation content

SERVICE_NAME = "gemini-codegen-desktop"  # OTEL_SERVICE_NAME overrides it
GEN_AI_SYSTEM = "gcp.gemini"  # the GenAI conventions' name for the Gemini API (pipecat and LiveKit use it)
FLUSH_S = 3.0  # at most this long at close for the last spans to leave
COOLDOWN_S = 30.0  # after a failed export, the collector is not tried again for this long
EXPORT_TIMEOUT_S = 3.0  # one export, retries included (OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT overrides it)
MAX_OPEN_TURNS = 4  # a turn whose reply is still playing while the next one starts, and a margin
MAX_CONVERSATION_EVENTS = 64  # reconnects noted on the conversation span; later ones are only counted
MAX_CONTENT_CHARS = 4096  # of one content attribute
PLAYBACK_POLL_S = 0.02  # how often a playing reply is checked for its end (only while one plays)
MAX_PLAYBACK_S = 600.0  # a playback span ends after this long whatever the player says
SAFE_QUERY = frozenset({"skip", "limit", "reverse"})  # query parameters shown in url.full; others redacted

class GuardedExporter(SpanExporter):
    """The OTLP exporter, said once per outage and rested between tries, so a down collector costs one log
    line and one short attempt every ``COOLDOWN_S``, never a storm of retries."""

    def __init__(self, inner: SpanExporter, shown: str, *, clock: Callable[[], float] = time.monotonic,
                 cooldown_s: float = COOLDOWN_S):
        self.inner, self.shown, self.clock, self.cooldown_s = inner, shown, clock, cooldown_s
        self.quiet_until = float("-inf")
        self.down = False
        self.dropped = 0  # spans not delivered (failed, or dropped while the collector rested)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.clock() < self.quiet_until:
            self.dropped += len(spans)
            return SpanExportResult.FAILURE
        try:
            result = self.inner.export(spans)
        except Exception:  # an exporter bug must not reach the batch thread's log as a traceback
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.down = False
            return result
        self.dropped += len(spans)
        self.quiet_until = self.clock() + self.cooldown_s
        if not self.down:
            self.down = True
            log.warning("Tracing: the OTLP collector at %s did not take the spans (down, or refusing them); "
                        "spans are dropped until it answers, tried again every %g s (said once per outage)",
                        self.shown, self.cooldown_s)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def exporter(url: str, route: egress.Route, env: Mapping[str, str] | None = None) -> GuardedExporter:
    """OTLP/HTTP to ``url`` over the route the egress policy chose (direct on loopback, else its proxy;
    the proxy variables are not read a second time by the HTTP library)."""
    env = os.environ if env is None else env
    with warnings.catch_warnings():  # packaged, its character-set guesser is left out (never needed here)
        warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")
        import requests
    session = requests.Session()
    session.trust_env = False
    if route.proxy:
        session.proxies = {"https": route.proxy, "http": route.proxy}
    timeout_set = any(env.get(name) for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"))
    inner = OTLPSpanExporter(endpoint=url, session=session, timeout=None if timeout_set else EXPORT_TIMEOUT_S)
    # the exporter logs every retry and failure itself: GuardedExporter says it once instead
    logging.getLogger("opentelemetry.exporter.otlp.proto.http").setLevel(logging.CRITICAL)
    return GuardedExporter(inner, _shown(url))


def provider(span_exporter: SpanExporter) -> TracerProvider:
    """A tracer provider of its own (the global one is left alone), named by ``OTEL_SERVICE_NAME`` and
    ``OTEL_RESOURCE_ATTRIBUTES`` when set, else ``SERVICE_NAME`` and the app's version."""
    resource = Resource.create({"service.name": SERVICE_NAME, "service.version": __version__}).merge(
        OTELResourceDetector().detect())
    out = TracerProvider(resource=resource, shutdown_on_exit=False)  # closed by ConversationTracer.close
    out.add_span_processor(BatchSpanProcessor(span_exporter))
    return out


class _HttpSpan:
    def __init__(self, span: trace.Span, headers: dict[str, str]):
        self.span, self.headers = span, headers

    def status(self, code: int) -> None:
        self.span.set_attribute("http.response.status_code", code)
        if code >= 400:
            self.span.set_attribute("error.type", str(code))
            self.span.set_status(Status(StatusCode.ERROR))


class ConversationTracer:
    """The ``desktop.tracing.Tracer`` of one conversation."""

    def __init__(self, url: str, route: egress.Route, *, model: str, offline: bool,
                 span_exporter: SpanExporter | None = None):
        self.exporter = span_exporter if span_exporter is not None else exporter(url, route)
        self.provider = provider(self.exporter)
        self.tracer = self.provider.get_tracer("desktop", __version__)
        self.model = model
        self.conversation_id = uuid.uuid4().hex
        self.propagator = TraceContextTextMapPropagator()
        self.span = self.tracer.start_span("conversation", context=otel_context.Context(), attributes={
            "conversation.id": self.conversation_id, "session.id": self.conversation_id,
            "conversation.type": "voice", "gen_ai.system": GEN_AI_SYSTEM, "gen_ai.provider.name": GEN_AI_SYSTEM,
            "gen_ai.request.model": model, "gcd.offline": offline})
        self.context = trace.set_span_in_context(self.span)
        self.turns: dict[int, _OpenTurn] = {}
        self.turn_count = 0
        self.reconnects = 0
        self._closed = False

    # ------------------------------------------------------------------ conversation
    def on_event(self, ev: Reconnected) -> None:
        self.reconnects += 1
        if self.reconnects <= MAX_CONVERSATION_EVENTS:
            self.span.add_event("live.reconnected", {"reason": str(ev.reason.why.value), "resumed": ev.resumed,
                                                     "replayed_turn": ev.replayed_turn, "fresh": ev.fresh})

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for turn_id in list(self.turns):
            self._end_turn(turn_id)
        self.span.set_attributes({"gcd.turns": self.turn_count, "gcd.live.reconnects": self.reconnects})
        self.span.end()
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        def shut_down() -> None:
            try:
                self.provider.shutdown()
            finally:
                loop.call_soon_threadsafe(done.set)

        # a thread of its own (a daemon: an export still stuck when the app exits does not hold it up)
        threading.Thread(target=shut_down, name="otel-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(done.wait(), FLUSH_S)
        except TimeoutError:
            log.warning("Tracing: the last spans were still being sent after %g s; not waiting longer", FLUSH_S)

    # ------------------------------------------------------------------ turns
    def turn_started(self, turn: Turn, origin: str) -> None:
        t = turn.timings
        start = t.pressed_at if t.pressed_at is not None else t.ended_at
        clock = _Clock()  # one conversion for the whole turn, so its spans nest to the nanosecond
        span = self.tracer.start_span("turn", context=self.context, start_time=clock.ns(start), attributes={
            "turn.number": turn.id, "turn.type": origin, "conversation.id": self.conversation_id,
            "gen_ai.system": GEN_AI_SYSTEM, "gen_ai.request.model": self.model})
        self.turn_count += 1
        self.turns[turn.id] = _OpenTurn(span, clock)
        while len(self.turns) > MAX_OPEN_TURNS:
            self._end_turn(next(iter(self.turns)))

    def turn_finished(self, turn: Turn, audible: Callable[[], bool]) -> None:
        open_turn = self.turns.get(turn.id)
        if open_turn is None:
            return
        span, clock, t, now = open_turn.span, open_turn.clock, turn.timings, time.perf_counter()
        parent = trace.set_span_in_context(span)
        request_done = t.activity_end_sent_at if t.activity_end_sent_at is not None else t.ended_at
        for name, start, end in (("user_speaking", t.pressed_at, t.released_at),
                                 ("end_of_turn_wait", t.released_at, t.activity_end_sent_at),
                                 ("service", request_done, t.first_audio_at if t.first_audio_at is not None else now),
                                 ("first_audio", t.first_audio_at, t.first_sound_at)):
            if start is not None and end is not None:
                self._phase(name, parent, clock.ns(start), clock.ns(max(start, end)))
        attributes: dict[str, Any] = {"turn.was_interrupted": turn.interrupted}
        if request_done is not None and t.first_audio_at is not None:
            attributes["metrics.ttfb"] = round(t.first_audio_at - request_done, 6)
        if t.speech_end_at is not None and t.first_sound_at is not None:
            attributes["turn.user_bot_latency_seconds"] = round(t.first_sound_at - t.speech_end_at, 6)
        if turn.tool_ms:
            attributes["gcd.tool_ms"] = round(turn.tool_ms, 3)
        attributes.update(_content({"user_text": turn.user_text, "assistant_text": turn.assistant_text}))
        span.set_attributes(attributes)
        if turn.error:
            span.set_status(Status(StatusCode.ERROR, SECRETS.text(turn.error)[:200]))
            span.set_attribute("error.type", "turn_failed")
        if t.first_sound_at is not None:
            open_turn.playback = self.tracer.start_span("playback", context=parent,
                                                        start_time=clock.ns(t.first_sound_at))
        if open_turn.playback is not None and not turn.interrupted and audible():  # an interrupted reply was flushed
            self._watch_playback(turn.id, audible, time.monotonic() + MAX_PLAYBACK_S)
        else:
            self._end_turn(turn.id)

    def _watch_playback(self, turn_id: int, audible: Callable[[], bool], give_up_at: float) -> None:
        """Ends the turn once its reply has played (checked every ``PLAYBACK_POLL_S`` while it plays)."""

        def check() -> None:
            if turn_id not in self.turns:
                return
            if audible() and time.monotonic() < give_up_at:
                loop.call_later(PLAYBACK_POLL_S, check)
            else:
                self._end_turn(turn_id)

        loop = asyncio.get_running_loop()
        loop.call_later(PLAYBACK_POLL_S, check)

    def _end_turn(self, turn_id: int) -> None:
        open_turn = self.turns.pop(turn_id)
        end = open_turn.clock.ns(time.perf_counter())
        if open_turn.playback is not None:
            open_turn.playback.end(end)
        start = getattr(open_turn.span, "start_time", None)
        if start:
            open_turn.span.set_attribute("turn.duration_seconds", round((end - start) / 1e9, 6))
        open_turn.span.end(end)

    def _phase(self, name: str, parent: otel_context.Context, start_ns: int, end_ns: int) -> None:
        self.tracer.start_span(name, context=parent, start_time=start_ns).end(end_ns)

    # ------------------------------------------------------------------ tools and requests
    @contextlib.contextmanager
    def tool_call(self, turn_id: int, call: FunctionCall) -> Iterator[trace.Span]:
        turn = self.turns.get(turn_id)
        parent = trace.set_span_in_context(turn.span) if turn is not None else self.context
        span = self.tracer.start_span(f"execute_tool {call.name}", context=parent, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.name, "gen_ai.tool.call.id": call.id,
            "tool.function_name": call.name, "tool.call_id": call.id, "turn.number": turn_id,
            **_content({"tool_arguments": json.dumps(dict(call.args), ensure_ascii=False, default=str)})})
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                yield span
            except asyncio.CancelledError:
                span.set_attribute("tool.result_status", "cancelled")
                raise
            except BaseException as exc:
                span.set_attributes({"tool.result_status": "error", "error.type": type(exc).__name__})
                span.set_status(Status(StatusCode.ERROR))
                raise
            span.set_attribute("tool.result_status", "success")

    @contextlib.contextmanager
    def http_request(self, method: str, url: str) -> Iterator[_HttpSpan]:
        parts = urlsplit(url)
        template = _template(parts.path)
        span = self.tracer.start_span(f"{method} {template}", kind=SpanKind.CLIENT, attributes={
            "http.request.method": method, "url.full": _url_full(url), "url.template": template,
            "server.address": parts.hostname or "", "server.port": parts.port or _default_port(parts.scheme),
            "conversation.id": self.conversation_id})
        headers: dict[str, str] = {}
        self.propagator.inject(headers, context=trace.set_span_in_context(span))
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                yield _HttpSpan(span, headers)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise


class _Clock:
    """``perf_counter`` moments as wall-clock nanoseconds, through one offset taken when it is made."""

    __slots__ = ("offset_ns",)

    def __init__(self) -> None:
        self.offset_ns = time.time_ns() - time.perf_counter_ns()

    def ns(self, perf: float | None) -> int:
        """``perf`` (now when unknown) in wall-clock nanoseconds."""
        return self.offset_ns + (time.perf_counter_ns() if perf is None else int(perf * 1e9))


class _OpenTurn:
    __slots__ = ("span", "clock", "playback")

    def __init__(self, span: trace.Span, clock: _Clock):
        self.span, self.clock = span, clock
        self.playback: trace.Span | None = None


def _content(values: Mapping[str, str]) -> dict[str, str]:
    """Conversation content as attributes under the content prefix, known secrets scrubbed, bounded."""
    return {f"{USER_CONTENT}{key}": SECRETS.text(text)[:MAX_CONTENT_CHARS] for key, text in values.items() if text}


_NUMBER = re.compile(r"/\d+(?=/|$)")


def _template(path: str) -> str:
    """The route with its ids generalised: ``/v1/organizations/{id}/agent/run/{id}``."""
    return _NUMBER.sub("/{id}", path) or "/"


def _url_full(url: str) -> str:
    """The URL without user name or password, and with every query value but known harmless ones redacted."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    query = urlencode([(k, v if k in SAFE_QUERY else "REDACTED") for k, v in parse_qsl(parts.query,
                                                                                       keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _shown(url: str) -> str:
    """The collector's URL as it may be logged (no credentials, no query)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"
