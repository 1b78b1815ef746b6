"""Secrets are replaced in log records (by value and by shape), in events and in stored values."""

from __future__ import annotations

import logging

import pytest

from desktop.events import ErrorEvent, EventBus, PullRequest, RunUpdate, ToolCallFinished, TranscriptDelta
from desktop.redaction import REDACTED, SECRETS, RedactingFilter, Redactor, remember_secrets

KEY = "AIzaSyD-0123456789abcdefghijklmnopqrstu"


@pytest.mark.parametrize("line, leaked", [
    ("> x-goog-api-key: sk-not-registered-1", "sk-not-registered-1"),
    ("headers={'Authorization': 'Bearer tok-unknown-42'}", "tok-unknown-42"),
    ("(b'authorization', b'Bearer tok-unknown-43')", "tok-unknown-43"),
    ("GET wss://host/ws/x?alt=json&key=AIzaUnknown99 HTTP/1.1", "AIzaUnknown99"),
    ("Authorization: Token auth_tokens/abc123def", "auth_tokens/abc123def"),
    ("access_token=ya29.secret-thing", "ya29.secret-thing"),
])
def test_log_lines_lose_credentials_by_their_shape(line, leaked):
    out = SECRETS.log_text(line)
    assert leaked not in out and REDACTED in out


def test_the_filter_scrubs_message_args_and_traceback(caplog):
    remember_secrets([KEY, "short"])
    logger = logging.getLogger("some.library")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger="some.library"):
        logger.debug("sending %s to %s", KEY, "host")
        try:
            raise ValueError(f"bad key {KEY}")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert KEY not in text and text.count(REDACTED) >= 2 and "ValueError: bad key [secret]" in text


def test_short_values_are_not_treated_as_secrets():
    r = Redactor(["key", "wrong", "", None])
    assert r.secrets == ()
    assert r("the key is wrong") == "the key is wrong"


def test_events_are_scrubbed_on_the_bus_and_untouched_otherwise():
    remember_secrets([KEY])
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    clean = TranscriptDelta(1, "user", "hello")
    bus.emit(clean)
    bus.emit(TranscriptDelta(1, "assistant", f"your key {KEY}"))
    bus.emit(ErrorEvent("auth", f"rejected {KEY}", "check it"))
    bus.emit(ToolCallFinished(1, "c", "create", {"prompt": f"use {KEY}", "n": [KEY, 3]}, {"ok": True}, 1.0))
    bus.emit(RunUpdate(5, "RUNNING", "running", pull_requests=(PullRequest(f"t {KEY}", "u"),)))
    assert seen[0] is clean
    assert seen[1].text == f"your key {REDACTED}" and seen[2].message == f"rejected {REDACTED}"
    assert seen[3].args == {"prompt": f"use {REDACTED}", "n": [REDACTED, 3]}
    assert seen[4].pull_requests[0].title == f"t {REDACTED}"
    assert KEY.encode() not in repr(seen).encode()


def test_bytes_are_scrubbed():
    assert Redactor([KEY])(f"x{KEY}y".encode()) == f"x{REDACTED}y".encode()


def test_failures_described_for_the_window_and_the_terminal_are_scrubbed():
    from desktop.live.errors import close_error
    from desktop.problems import describe

    remember_secrets([KEY])
    event = describe(close_error(1008, f"API key {KEY} not valid.", "gemini-3.8-live"))
    assert event is not None and event.kind == "auth" and KEY not in event.message and REDACTED in event.message
