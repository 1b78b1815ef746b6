"""What went wrong with the Live connection, in the user's terms: ``LiveError`` and the mappings from close
frames and connection failures to it.

Close reasons are classified by their text first (Google closes with 1008 for an invalid API key as well as
for an unknown model, and with 1011 for exhausted quota as well as internal errors), then by the code.
"""

from __future__ import annotations

from desktop.tls import certificate_problem

CHECK_KEY = "Check GEMINI_API_KEY or the key in Settings."
CHECK_MODEL = "Set GEMINI_MODEL (or --model, or Settings) to a Live model such as gemini-3.8-live."

_KEY_WORDS = ("api key", "api_key", "apikey", "unauthenticated", "permission", "credential", "access token",
              "auth")
_QUOTA_WORDS = ("quota", "resource_exhausted", "resource exhausted", "rate limit", "too many requests")
_MODEL_WORDS = ("model", "not found", "not supported", "unsupported")
_POLICY_WORDS = ("policy", "safety", "blocked", "prohibited", "harm")


class LiveError(Exception):
    """A failure the user can act on.  ``kind`` matches ``desktop.events.ErrorEvent.kind``; ``fatal``: the session is over
    (reconnecting cannot help); ``turn_failed``: the turn in progress is lost (the session may go on)."""

    def __init__(self, kind: str, message: str, action: str = "", fatal: bool = True, turn_failed: bool = False):
        super().__init__(message)
        self.kind, self.message, self.action, self.fatal = kind, message, action, fatal
        self.turn_failed = turn_failed or fatal

    def as_fatal(self) -> LiveError:
        return LiveError(self.kind, self.message, self.action, fatal=True)


def close_error(code: int | None, reason: str, model: str) -> LiveError:
    """A close frame from the server as what the user should know and do."""
    reason = reason.strip() or "no reason given"
    text = reason.lower()
    if "resumption" in text or "handle" in text:
        return LiveError("session_expired", f"Gemini could not resume the session ({reason}).",
                         "A new session was started with your recent turns.", fatal=False)
    if any(w in text for w in _KEY_WORDS):
        return LiveError("auth", f"Gemini rejected the API key ({reason}).", CHECK_KEY)
    if any(w in text for w in _QUOTA_WORDS):
        return LiveError("rate_limited", f"Gemini says the quota for this key is used up ({reason}).",
                         "Wait and try again later, or check the quota of your Google AI project.")
    if any(w in text for w in _MODEL_WORDS):
        return LiveError("model", f"Model {model!r} is not available for the Live API ({reason}).", CHECK_MODEL)
    if any(w in text for w in _POLICY_WORDS):
        return LiveError("policy", f"Gemini refused the request under its usage policy ({reason}).",
                         "Rephrase the request; the session continues with the next turn.", fatal=False,
                         turn_failed=True)
    if code == 1007:
        return LiveError("protocol", f"Gemini rejected a request as invalid: {reason}",
                         "This is a bug in the app; please report it with the log.")
    if code == 1008:
        return LiveError("policy", f"Gemini closed the session for a policy violation ({reason}).",
                         "Check the key, the model and the request; then try again.")
    if code == 1011:
        return LiveError("service", f"Gemini reported an internal error ({reason}).",
                         "Wait a moment and try again.", fatal=False)
    return LiveError("network", f"The Gemini Live connection closed (code {code}): {reason}",
                     "Check your network connection.", fatal=False)


def keeps_dropping(drops: int, last: LiveError) -> LiveError:
    """The server closed the connection ``drops`` times in a row without finishing a reply (``last``: the last time)."""
    return LiveError(last.kind, f"Gemini closed the connection {drops} times without finishing a reply; the last "
                                f"time: {last.message}", last.action)


def malformed_message(exc: Exception) -> LiveError:
    """A server message that is not a Live message (reported once; the session goes on)."""
    return LiveError("protocol", f"Ignored a malformed message from Gemini: {exc}", fatal=False)


def no_answer(timeout_s: float) -> LiveError:
    """A reply that showed no server activity for ``timeout_s`` (the turn watchdog)."""
    return LiveError("timeout", f"Gemini did not answer within {timeout_s:g} s.",
                     "Try again; the session was reconnected.", fatal=False, turn_failed=True)


def unreachable(host: str, exc: BaseException, timeout_s: float) -> LiveError:
    """A connection that could not be opened, with the reason in words (never an empty one)."""
    action = "Check your network connection and the endpoint URL."
    problem = certificate_problem(exc, host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
    if problem is not None:  # fatal: the next attempt would meet the same certificate
        return LiveError("network", f"Cannot connect securely to Gemini Live at {host}: {problem.why}.",
                         problem.action)
    if isinstance(exc, TimeoutError):
        why = f"no answer to the connection handshake within {timeout_s:g} s"
    elif isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror
    else:
        why = str(exc).strip() or type(exc).__name__
    return LiveError("network", f"Cannot reach Gemini Live at {host}: {why}.", action, fatal=False)
