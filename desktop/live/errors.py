"""What can go wrong with a Gemini Live session, as errors a user can act on."""

from __future__ import annotations

from desktop.events import ErrorEvent


class LiveError(Exception):
    """A failure the user can act on.  ``kind`` matches ``ErrorEvent.kind``."""

    def __init__(self, kind: str, message: str, action: str = "", fatal: bool = True):
        super().__init__(message)
        self.kind, self.message, self.action, self.fatal = kind, message, action, fatal

    def event(self) -> ErrorEvent:
        return ErrorEvent(self.kind, self.message, self.action, self.fatal)

    def as_fatal(self) -> LiveError:
        return LiveError(self.kind, self.message, self.action, fatal=True)


def close_error(code: int | None, reason: str, model: str) -> LiveError:
    """Map a close code from the server to what the user should know and do."""
    reason = reason or "no reason given"
    if "resumption" in reason.lower() or "handle" in reason.lower():
        return LiveError("session_expired", f"Gemini could not resume the session ({reason}).",
                         "A new session was started with your recent turns.", fatal=False)
    if code == 1007 and ("api key" in reason.lower() or "auth" in reason.lower() or "permission" in reason.lower()):
        return LiveError("auth", f"Gemini rejected the API key ({reason}).",
                         "Check GEMINI_API_KEY or the key in Settings.")
    if code == 1007:
        return LiveError("protocol", f"Gemini rejected a request as invalid: {reason}",
                         "This is a bug in the app; please report it with the log.")
    if code == 1008:
        return LiveError("model", f"Model {model!r} is not available for the Live API: {reason}",
                         "Set GEMINI_MODEL (or --model, or Settings) to a Live model such as gemini-3.8-live.")
    if code == 1011:
        return LiveError("service", f"Gemini reported an internal error or exhausted quota: {reason}",
                         "Wait a moment and try again; check your quota if it persists.", fatal=False)
    return LiveError("network", f"The Gemini Live connection closed (code {code}): {reason}",
                     "Check your network connection.", fatal=False)
