"""The conversation view's ``HistorySource``: the history file read off the Qt thread.

``LocalHistory`` reads the store's file itself (``desktop.state.reader``), on one worker thread, so history
and search work with or without a session (before one starts, offline, when Gemini cannot be reached).
``StoreHistory`` reads through the running session's store behind the bridge.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from desktop.config import Settings
from ui.bridge import EngineBridge

log = logging.getLogger(__name__)
Done = Callable[[Sequence[Any]], None]


class StoreHistory:
    def __init__(self, bridge: EngineBridge):
        self.bridge = bridge

    def load_page(self, before_id: int | None, limit: int, done: Done) -> None:
        if not self.bridge.query(lambda store: store.turns.history(before_id, limit), done):
            done([])

    def search(self, text: str, limit: int, done: Done) -> None:
        if not self.bridge.query(lambda store: store.turns.search(text, limit), done):
            done([])

    def session(self, session_id: str, done: Done) -> None:
        if not self.bridge.query(lambda store: store.turns.session(session_id), done):
            done([])


class LocalHistory(QObject):
    """Reads on a worker thread; each answer comes back on the Qt thread (a queued signal)."""

    _answer = Signal(object, object)  # done, rows

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings  # where the file is (its data dir), worked out on the worker thread
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._reader: Any = None
        self._answer.connect(lambda done, rows: done(rows), Qt.ConnectionType.QueuedConnection)

    def _run(self, read: Callable[[Any], Sequence[Any]], done: Done) -> None:
        def work() -> None:
            try:
                if self._reader is None:
                    from desktop.state.reader import HistoryReader  # sqlite off the Qt thread, imports too
                    from desktop.state.store import DB_NAME, data_dir_for

                    self._reader = HistoryReader(data_dir_for(self.settings) / DB_NAME)
                rows = read(self._reader)
            except Exception:  # noqa: BLE001 - a failed read shows as an empty page, details in the log
                log.exception("history read failed")
                rows = []
            self._answer.emit(done, rows)

        try:
            self._pool.submit(work)
        except RuntimeError:  # closed
            done([])

    def load_page(self, before_id: int | None, limit: int, done: Done) -> None:
        self._run(lambda r: r.turns.history(before_id, limit), done)

    def search(self, text: str, limit: int, done: Done) -> None:
        self._run(lambda r: r.turns.search(text, limit), done)

    def session(self, session_id: str, done: Done) -> None:
        self._run(lambda r: r.turns.session(session_id), done)

    def close(self) -> None:
        def shut() -> None:
            if self._reader is not None:
                self._reader.close()

        try:
            self._pool.submit(shut)
        except RuntimeError:
            return
        self._pool.shutdown(wait=False)
