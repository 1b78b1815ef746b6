"""Known failures, as what the user should know and do: one mapping for the command line and the window.

``describe(exc)`` turns an exception the app knows into an ``ErrorEvent`` (message + action), or None for
one it does not know (a bug: the command line keeps its traceback, the window says the session stopped).
"""

from __future__ import annotations

from audio.wavfile import WavError
from desktop.config import ConfigError, MissingCredentials
from desktop.events import ErrorEvent
from desktop.live.errors import LiveError
from desktop.redaction import SECRETS
from desktop.state.store import StoreError

BAD_INPUT = frozenset({"config", "audio_file"})  # the user gave something unusable: exit 2, like a usage error


def describe(exc: BaseException) -> ErrorEvent | None:
    """The event for ``exc``, its text without secrets (a server's close reason may echo the key)."""
    event = _describe(exc)
    return SECRETS(event) if event is not None else None


def _describe(exc: BaseException) -> ErrorEvent | None:
    if isinstance(exc, LiveError):
        return ErrorEvent.of(exc)
    if isinstance(exc, MissingCredentials):
        return ErrorEvent("auth", str(exc), "Add your keys in Settings, or use the offline demo.", fatal=True)
    if isinstance(exc, ConfigError):
        return ErrorEvent("config", str(exc), fatal=True)
    if isinstance(exc, WavError):
        return ErrorEvent("audio_file", str(exc), fatal=True)
    if isinstance(exc, StoreError):  # e.g. a database written by a newer version: the message says what to do
        return ErrorEvent("storage", str(exc), fatal=True)
    return None


def one_line(event: ErrorEvent) -> str:
    """The message and what to do, as one line for a terminal."""
    return f"{event.message} {event.action}".strip()


def short_reason(exc: BaseException) -> str:
    """An exception's first line (its type's name when it says nothing), at most 160 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
