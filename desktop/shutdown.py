"""Stopping on a signal the way closing does: SIGINT (Ctrl+C), SIGTERM (kill, a service manager, logging
out) and SIGHUP (the terminal went away) end the session cleanly: the turn in flight is saved marked
interrupted, the session is closed in the history, and the process exits 128 + the signal's number (130,
143, 129), without a traceback.

Two ways to notice a signal, one for each kind of main loop:

* asyncio (the headless commands): ``stop_on_signals()`` installs loop handlers that cancel the command's
  task once; the ``async with`` blocks unwind as for any cancellation (closing the session), and
  ``run_until_signal`` turns that into the exit code.
* any other loop (the Qt window): ``SignalPipe`` hands each signal's number to a socket
  (``signal.set_wakeup_fd``); the loop watches the socket's read end (a ``QSocketNotifier``) and so wakes
  only when a signal came: nothing polls while the app is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

SIGNALS: tuple[int, ...] = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                                 if hasattr(signal, name))


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal's number (SIGINT 130, SIGTERM 143, SIGHUP 129)."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@dataclass
class Stop:
    """Which signal asked the app to stop (None: none yet).  Later signals are ignored while it stops."""

    signum: int | None = None

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else exit_code(self.signum)


@contextlib.asynccontextmanager
async def stop_on_signals() -> AsyncIterator[Stop]:
    """While the block runs, the first of ``SIGNALS`` cancels the task running it (only where the loop can
    take signal handlers: the main thread on POSIX)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stop = Stop()

    def on_signal(signum: int) -> None:
        if stop.signum is None and task is not None:
            stop.signum = signum
            task.cancel()

    installed = []
    for signum in SIGNALS:
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            continue
        installed.append(signum)
    try:
        yield stop
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def run_until_signal(main: Coroutine[Any, Any, int]) -> int:
    """``await main`` (its exit code); a signal cancels it, the blocks inside close as for any cancellation,
    and the signal's exit code is returned."""
    async with stop_on_signals() as stop:
        try:
            return await main
        except asyncio.CancelledError:
            if stop.signum is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
    assert stop.exit_code is not None
    return stop.exit_code


class SignalPipe:
    """``SIGNALS`` delivered as bytes on a socket, for a loop that is not asyncio's: watch ``fileno()`` for
    reading and call ``take()`` when it is readable; ``on_signal(signum)`` is then called for the first one.
    ``close()`` restores the handlers that were there before."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self.on_signal = on_signal
        self.stop = Stop()
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._previous: dict[int, Any] = {}
        for signum in SIGNALS:
            # Python's handler does nothing (the default one for SIGINT would raise KeyboardInterrupt in
            # whatever the loop runs next); C's handler writes the number to the socket, which wakes the loop
            self._previous[signum] = signal.signal(signum, _note)

    def fileno(self) -> int:
        return self._read.fileno()

    def take(self) -> int | None:
        """Read what arrived; the first signal is handed to ``on_signal`` (later ones are ignored)."""
        try:
            data = self._read.recv(64)
        except (BlockingIOError, InterruptedError):
            return None
        for signum in data:
            if signum in SIGNALS and self.stop.signum is None:
                self.stop.signum = signum
                self.on_signal(signum)
        return self.stop.signum

    def close(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_fd)
        self._read.close()
        self._write.close()


def _note(_signum: int, _frame: Any) -> None:
    """The Python-level handler of a ``SignalPipe``: the socket carries the signal."""
