"""The CodeGen response cache table (``api_cache``): the persistent backend of the CodeGen client's cache.

A saved entry is readable at once, before the writer has committed it (a pending copy is kept until then),
so a read right after a write never goes to the network.  A row stamped in the future (saved while the clock
was ahead, then set back) is not served: its age cannot be trusted."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.state.access import StoreAccess

Entry = tuple[bytes, str | None, float | None]  # body, etag, expires_at (epoch seconds; None = forever)
FUTURE_SLACK_S = 5.0  # a row fetched later than now + this was stamped by a clock that ran ahead


class ApiCache:
    def __init__(self, store: StoreAccess, *, wall: Callable[[], float] = time.time) -> None:
        self.store = store
        self.wall = wall  # stamps fetched_at (tests set the clock)
        self._pending: dict[str, Entry] = {}

    def load(self, key: str) -> Entry | None:
        pending = self._pending.get(key)
        if pending is not None:
            return pending
        rows = self.store.query("SELECT body, etag, fetched_at, expires_at FROM api_cache WHERE key = ?", [key])
        if not rows:
            return None
        r = rows[0]
        if (r["fetched_at"] or 0) > self.wall() + FUTURE_SLACK_S:
            return None  # stamped in the future (the clock was ahead, then set back): not trusted, fetched anew
        return bytes(r["body"] or b""), r["etag"], r["expires_at"]

    def save(self, key: str, body: bytes, etag: str | None, expires_at: float | None) -> None:
        entry: Entry = (self.store.scrub(bytes(body)), etag, expires_at)
        self._pending[key] = entry

        def committed() -> None:  # on the writer thread; a newer save of the key keeps its pending copy
            if self._pending.get(key) is entry:
                self._pending.pop(key, None)

        self.store.enqueue("INSERT OR REPLACE INTO api_cache (key, body, etag, fetched_at, expires_at) "
                           "VALUES (?, ?, ?, ?, ?)", [key, entry[0], etag, self.wall(), expires_at],
                           on_commit=committed)
