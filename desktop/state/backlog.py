"""Writes the disk refused (full, read-only, I/O error), kept in order in memory until it takes them again.

The database file is never given up on: the store retries with a growing pause (1 s, 2 s, ... 30 s) and
writes the backlog, oldest first, as soon as the disk accepts it.  Memory is bounded: past ``max_bytes``
the oldest held writes are dropped and counted, so a disk that stays full for days cannot exhaust memory.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

MAX_BACKLOG_BYTES = 64 << 20
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 30.0


class Write(Protocol):
    @property
    def params(self) -> tuple[Any, ...]: ...


def _size(write: Write) -> int:
    return 64 + sum(len(p) if isinstance(p, str | bytes) else 8 for p in write.params)


class Backlog:
    def __init__(self, max_bytes: int = MAX_BACKLOG_BYTES, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes, self.clock = max_bytes, clock
        self._writes: deque[Any] = deque()
        self.bytes = 0
        self.dropped = 0  # writes given up on to stay inside ``max_bytes``
        self.failures = 0  # refusals in a row
        self.retry_at = 0.0
        self.reason = ""  # the disk's last refusal, in words

    def __len__(self) -> int:
        return len(self._writes)

    def add(self, writes: Iterable[Write]) -> None:
        """New writes, behind the ones already held."""
        for w in writes:
            self._writes.append(w)
            self.bytes += _size(w)
        while self.bytes > self.max_bytes and len(self._writes) > 1:
            self.bytes -= _size(self._writes.popleft())
            self.dropped += 1

    def refused(self, writes: list[Any], reason: str) -> None:
        """The disk refused ``writes`` (taken with ``take``): hold them again, first, and wait before retrying."""
        held, self._writes, self.bytes = self._writes, deque(), 0
        self.add(writes)
        self.add(held)
        self.failures += 1
        self.reason = reason
        self.retry_at = self.clock() + min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (self.failures - 1))

    def due(self) -> bool:
        return bool(self._writes) and self.clock() >= self.retry_at

    def take(self) -> list[Any]:
        writes, self._writes, self.bytes = list(self._writes), deque(), 0
        return writes

    def saved(self) -> None:
        self.failures = 0
        self.reason = ""
