"""Secrets never reach a log line, the screen, `run --json` or the database.

A ``Redactor`` replaces known secret values (the Gemini API key, the CodeGen token) in text, bytes and the
fields of events.  One process-wide instance, ``SECRETS``, learns every secret the settings hold when they
are loaded; it scrubs every event on every ``EventBus`` (so the window and `run --json` only ever see
scrubbed events) and, through ``RedactingFilter`` on the root log handlers, every log record of every
library.  Log lines are also scrubbed by shape, for credentials the app was never told about: the values
of ``x-goog-api-key`` / ``Authorization`` headers and ``key=`` / ``access_token=`` URL parameters.
The state store keeps its own ``Redactor`` for the secrets of the settings it was opened with.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[secret]"
# Credentials anyone issues are long (Gemini keys are 39 characters); replacing shorter strings would
# garble ordinary words.  Short values are still removed from log lines by their position (header, query).
MIN_SECRET_LEN = 8
SECRET_ENV = ("GEMINI_API_KEY", "CODEGEN_API_TOKEN")

_CREDENTIAL_RE = re.compile(
    r"""(?ix)
    (   (?:x-goog-api-key|x-api-key|proxy-authorization|authorization)  # a credential header's name
        ['"]? \s* [:=,] \s* b?['"]?                                     # ": ", "=", or "', b'" in a repr
        (?:(?:bearer|token|basic) \s+)? )                               # its scheme
    [^\s'",;)}\]]+                                                      # its value
    |
    ( (?<![\w.-])(?:key|access_token|api_key)= ) [^\s&#'",;)}\]]+       # a key= / access_token= parameter
    """)


def _by_shape(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2)) + REDACTED


class Redactor:
    """Replaces every secret it knows in strings, bytes, containers and dataclass events."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self.secrets: tuple[str, ...] = ()
        self._secret_bytes: tuple[bytes, ...] = ()
        self.remember(secrets)

    def remember(self, secrets: Iterable[str | None]) -> None:
        """Add secret values (kept for the life of the process: an old key stays out of the logs too)."""
        new = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN} - set(self.secrets)
        if new:
            with self._lock:
                # longest first: a secret that contains another is replaced whole
                self.secrets = tuple(sorted(set(self.secrets) | new, key=len, reverse=True))
                self._secret_bytes = tuple(s.encode() for s in self.secrets)

    def forget_all(self) -> None:
        with self._lock:
            self.secrets, self._secret_bytes = (), ()

    def text(self, value: str) -> str:
        for s in self.secrets:
            if s in value:
                value = value.replace(s, REDACTED)
        return value

    def log_text(self, value: str) -> str:
        """Known secrets, then credentials by their shape."""
        return _CREDENTIAL_RE.sub(_by_shape, self.text(value))

    def __call__(self, value: Any) -> Any:
        """``value`` with every secret replaced: str, bytes, mappings, lists, tuples and dataclasses (a new
        object only where something changed)."""
        if not self.secrets:
            return value
        return self._scrub(value)

    event = __call__

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            for s in self._secret_bytes:
                if s in raw:
                    raw = raw.replace(s, REDACTED.encode())
            return raw
        if isinstance(value, int | float | bool) or value is None:
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                if not f.init:
                    continue
                old = getattr(value, f.name)
                new = self._scrub(old)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        if isinstance(value, Mapping):
            mapping = {k: self._scrub(v) for k, v in value.items()}
            return mapping if any(mapping[k] is not v for k, v in value.items()) else value
        if isinstance(value, list | tuple):
            items = [self._scrub(v) for v in value]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                return items if isinstance(value, list) else tuple(items)
        return value


SECRETS = Redactor()  # the process's: every secret the loaded settings held


def remember_secrets(secrets: Iterable[str | None]) -> None:
    SECRETS.remember(secrets)


class RedactingFilter(logging.Filter):
    """On a handler: rewrites each record's message, traceback and stack without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        clean = SECRETS.log_text(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = SECRETS.log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = SECRETS.log_text(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Scrub every record that reaches the root logger's handlers (and the last-resort handler).  The secrets
    in the environment are known from here on; the settings add the keyring's when they are loaded."""
    remember_secrets(os.environ.get(name) for name in SECRET_ENV)
    for handler in (*logging.getLogger().handlers, logging.lastResort):
        if handler is not None and _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    # hpack logs whole encoded header blocks (Huffman-coded credentials included) at DEBUG: never needed
    logging.getLogger("hpack").setLevel(max(logging.INFO, logging.getLogger("hpack").level))
