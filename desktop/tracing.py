"""Traces of conversations, turns, tool calls and CodeGen requests (OpenTelemetry), off unless asked for.

Tracing is on when the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is) or
``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces`` is added) names an OTLP/HTTP collector, and neither
``OTEL_SDK_DISABLED=true`` nor ``OTEL_TRACES_EXPORTER=none`` says otherwise.  Off, this module is all that
is loaded: the OpenTelemetry SDK is never imported (``desktop.otel`` holds everything that needs it), the
engine and the CodeGen client see ``None`` and skip their one check, and nothing is sent anywhere.

The collector's URL follows the app's egress policy (``desktop.egress``): plain ``http://`` only to this
computer (an agent on ``http://localhost:4318``, the usual setup), ``https://`` to any other host, through
the proxy the policy picks.  Any other URL leaves tracing off and says why once (a notice and a log line).

What the spans carry (docs/monitoring.md has the table): timings, counts, names, ids, status codes, model
and tool names.  Conversation content (what the user said or typed, the reply, a tool's arguments such as
a run's prompt) goes only into attributes under ``desktop.otel.USER_CONTENT`` (``gcd.user_content.``), so a collector
drops all of it with one rule; secrets the app knows are scrubbed from it first.  Never a key or a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from desktop import egress
from desktop.events import EventBus, Notice, Reconnected
from desktop.redaction import remember_secrets

if TYPE_CHECKING:
    from desktop import otel
    from desktop.live.protocol import FunctionCall
    from desktop.turn import Turn

log = logging.getLogger(__name__)

TRACES_PATH = "v1/traces"


class HttpSpan(Protocol):
    """One traced HTTP request: the headers to send with it (``traceparent``) and its answer's status."""

    headers: dict[str, str]

    def status(self, code: int) -> None: ...


class Tracer(Protocol):
    """What the engine and the CodeGen client call (``desktop.otel.ConversationTracer`` implements it)."""

    def turn_started(self, turn: Turn, origin: str) -> None: ...

    def turn_finished(self, turn: Turn, audible: Callable[[], bool]) -> None:
        """``audible``: whether the reply is still playing (the turn's span ends when it stops)."""
        ...

    def tool_call(self, turn_id: int, call: FunctionCall) -> AbstractContextManager[Any]:
        """The span of one tool call, current while the tool runs (its CodeGen requests are its children)."""
        ...

    def http_request(self, method: str, url: str) -> AbstractContextManager[HttpSpan]: ...


def endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """The OTLP/HTTP traces URL the standard variables name, or None when tracing is off."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if url:
        return url
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/{TRACES_PATH}" if base else None


def header_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The values of the headers sent to the collector (``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``,
    ``key=value,...``, values URL-encoded): usually a token."""
    env = os.environ if env is None else env
    values = []
    for name in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        for item in env.get(name, "").split(","):
            _key, _, value = item.partition("=")
            if value.strip():
                values.append(unquote(value.strip()))
    return values


def refusal(url: str) -> str | None:
    """Why traces must not be sent to ``url`` (one sentence for the user), or None when they may."""
    if egress.host_of(url) == "" or not url.lower().startswith(("http://", "https://")):
        return f"the OTLP endpoint {url!r} is not an http:// or https:// URL"
    try:
        egress.route(url)
    except egress.Refused as exc:
        return f"the OTLP endpoint cannot be used: {exc.message}"
    return None


@contextlib.asynccontextmanager
async def tracing(bus: EventBus, *, model: str, offline: bool,
                  env: Mapping[str, str] | None = None) -> AsyncIterator[Tracer | None]:
    """A tracer for one conversation (its span lasts as long as this context), or None when tracing is off
    or its endpoint is refused (then said once on ``bus``).  Leaving flushes what is left, within a short
    bounded time (``desktop.otel.FLUSH_S``); a collector that is down costs at most one log line."""
    url = endpoint(env)
    if url is None:
        yield None
        return
    problem = refusal(url)
    if problem is not None:
        message = f"Tracing is off: {problem}."
        log.warning("%s", message)
        bus.emit(Notice(message, kind="tracing"))
        yield None
        return
    remember_secrets(header_values(env))  # a collector's token stays out of every log line

    def start() -> otel.ConversationTracer:
        from desktop import otel  # the SDK, only now (0.3-0.5 s: off the loop)

        return otel.ConversationTracer(url, egress.route(url), model=model, offline=offline)

    tracer = await asyncio.to_thread(start)
    unsubscribe = bus.on(Reconnected, tracer.on_event)
    try:
        yield tracer
    finally:
        unsubscribe()
        await tracer.close()
