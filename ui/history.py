"""The conversation view's ``HistorySource``, backed by the state store behind the bridge (reads off-thread)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ui.bridge import EngineBridge


class StoreHistory:
    def __init__(self, bridge: EngineBridge):
        self.bridge = bridge

    def load_page(self, before_id: int | None, limit: int, done: Callable[[Sequence[Any]], None]) -> None:
        if not self.bridge.query(lambda store: store.turns.history(before_id, limit), done):
            done([])

    def search(self, text: str, limit: int, done: Callable[[Sequence[Any]], None]) -> None:
        if not self.bridge.query(lambda store: store.turns.search(text, limit), done):
            done([])

    def session(self, session_id: str, done: Callable[[Sequence[Any]], None]) -> None:
        if not self.bridge.query(lambda store: store.turns.session(session_id), done):
            done([])
