"""Push-to-talk key events with keyboard auto-repeat filtered out, on every platform.

A held key auto-repeats.  Qt flags most repeats with ``isAutoRepeat()``, but not all: on X11 a repeat is a
release immediately followed by a press of the same key (same server timestamp), and when the press has
not reached Qt yet as the release is handled, the release looks real.  Each one would end the turn.

``KeyRepeatFilter`` holds a release back for ``window_ms``: a press of the same key inside that window makes
the pair a repeat and both are dropped; otherwise the release goes out when the window ends.  "Inside the
window" is measured on the key events' own clock (the X server's timestamps) when the platform gives one,
so a busy moment that delays both events does not turn a real release and a new press into a repeat, and
a late press carrying the release's own timestamp is still recognised as one.  Presses are never delayed.  The cost is ``window_ms`` on a real
release, well below what a person notices (the gate's own tail after a release is 200 ms).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

WINDOW_MS = 30  # X sends a repeat's release and press together; Qt sees them within a few ms


class KeyRepeatFilter(QObject):
    pressed = Signal(float)  # perf_counter of the (first) key press
    released = Signal()

    def __init__(self, parent: QObject | None = None, window_ms: int = WINDOW_MS):
        super().__init__(parent)
        self.down = False
        self.repeats = 0  # release/press pairs dropped as auto-repeat
        self.release_delays: list[float] = []  # seconds each real release was held back
        self._pending: float | None = None  # perf_counter of the held-back release
        self._pending_stamp: int | None = None
        self._last_release_stamp: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self.window_ms = window_ms
        self._timer.setInterval(window_ms)
        self._timer.timeout.connect(self._release_now)

    def press(self, at: float, stamp: int | None = None, auto_repeat: bool = False) -> None:
        stamp = stamp or None  # 0: the platform gave no timestamp
        if auto_repeat:
            return
        if self._pending is not None:
            held = self._pending_stamp
            if stamp is None or held is None or 0 <= stamp - held <= self.window_ms:
                self._timer.stop()  # a release followed at once by a press: auto-repeat
                self._pending = self._pending_stamp = None
                self.repeats += 1
                return
            self._timer.stop()  # the key really went up earlier (by the clock of the key events): it was let go
            self._release_now_from(held)
        if self.down:
            return
        if stamp is not None and stamp == self._last_release_stamp:
            return  # the press of a repeat pair whose release came out alone: the key was never let go
        self.down = True
        self.pressed.emit(at)

    def release(self, stamp: int | None = None, auto_repeat: bool = False) -> None:
        stamp = stamp or None
        if auto_repeat:
            return
        if not self.down or self._pending is not None:
            self._last_release_stamp = stamp
            return
        self._pending = time.perf_counter()
        self._pending_stamp = stamp
        self._timer.start()

    def cancel(self) -> None:
        """Forget the key (the window lost focus, the turn was ended elsewhere)."""
        self._timer.stop()
        self._pending = self._pending_stamp = None
        self.down = False

    def _release_now(self) -> None:
        self._release_now_from(self._pending_stamp)

    def _release_now_from(self, stamp: int | None) -> None:
        held, self._pending = self._pending, None
        if held is None:
            return
        self._last_release_stamp, self._pending_stamp = stamp, None
        self.down = False
        self.release_delays.append(time.perf_counter() - held)
        self.released.emit()
