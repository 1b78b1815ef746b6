"""What the window says it is doing, decided in one place: a small state model and its table of transitions.

The window's state pill, the tray, the push-to-talk button and the messages about a refused key press are
drawn from one ``WindowState``; every input that changes it (the engine's state, the key going down and up,
mute, the microphone coming and going, a session starting and ending) goes through ``TRANSITIONS``.  The
rules it keeps (each has a test in tests/ui/test_window_state.py):

* never "Listening" when nobody can hear: not muted, not without a working microphone, not before Ready, not
  in the Error or Closed state; a refused press says why (``refusal``) and leaves the state as it was;
* while the key is down the person sees "Listening" until they let go, whatever the engine says meanwhile,
  unless the session fails (Error, Closed): that shows at once and ends the press;
* a session that ended shows "Closed", unless it ended on an error (the error stays in view);
* a connection error is "Cannot connect" when the session never came up, "lost" only when it had.

Pure: no Qt, so the table is tested as a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from desktop.events import EngineState

# engine states in which a press is heard (the engine's own "listening" included)
HEARING = (EngineState.READY, EngineState.LISTENING, EngineState.THINKING, EngineState.SPEAKING)
ENDED = (EngineState.ERROR, EngineState.CLOSED)


@dataclass(frozen=True, slots=True)
class WindowState:
    engine: EngineState = EngineState.CONNECTING  # what the engine said last
    detail: str = ""  # the engine's words about it (shown in the pill's tool tip)
    key_down: bool = False  # a press the window accepted, not released yet
    muted: bool = False
    microphone: bool = True  # a working microphone (or the session needs none)
    session_up: bool = False  # the current session came up (a network error then means it was lost)

    @property
    def shown(self) -> EngineState:
        """The state the pill shows."""
        return EngineState.LISTENING if self.key_down else self.engine

    @property
    def shown_muted(self) -> bool:
        """The pill says "Muted" (instead of Ready or Listening)."""
        return self.muted and self.shown in (EngineState.READY, EngineState.LISTENING)

    @property
    def accepts_input(self) -> bool:
        """The push-to-talk button looks pressable."""
        return self.engine in HEARING

    @property
    def refusal(self) -> str | None:
        """Why a press now would not be heard ("muted", "not-ready", "no-microphone"), or None."""
        if self.key_down:
            return None
        if self.muted:
            return "muted"
        if self.engine not in HEARING:
            return "not-ready"
        if not self.microphone:
            return "no-microphone"
        return None

    def connection_title(self, kind: str) -> str | None:
        """The title of a connection error: one that never came up was not "lost" (None: the kind's own)."""
        return "Cannot connect" if kind == "network" and not self.session_up else None


def _engine(s: WindowState, state: EngineState, detail: str = "") -> WindowState:
    return replace(s, engine=state, detail=detail, key_down=s.key_down and state not in ENDED)


def _press(s: WindowState) -> WindowState:
    return s if s.refusal is not None else replace(s, key_down=True)


def _session_stopped(s: WindowState) -> WindowState:
    closed = s.engine if s.engine is EngineState.ERROR else EngineState.CLOSED
    return replace(s, engine=closed, detail=s.detail if closed is EngineState.ERROR else "", key_down=False,
                   session_up=False)


TRANSITIONS: dict[str, Callable[..., WindowState]] = {
    "engine": _engine,  # (state, detail): the engine's state changed
    "press": _press,  # the talk key or button went down (refused: unchanged; see ``refusal``)
    "release": lambda s: replace(s, key_down=False),  # let go (or the engine could not take the press)
    "mute": lambda s, muted: replace(s, muted=muted, key_down=s.key_down and not muted),
    "microphone": lambda s, ok: replace(s, microphone=ok),
    "session_started": lambda s: replace(s, session_up=True),
    "session_stopped": _session_stopped,
}


def step(s: WindowState, event: str, *args: object) -> WindowState:
    return TRANSITIONS[event](s, *args)
