"""What a repository (``Turns``, ``Runs``, ``ApiCache``) needs of the store: queue a write, read rows, search,
scrub secrets.  A narrow protocol in a leaf module, so the repositories never import ``store`` (which builds
them) and tests can hand them any object with these four."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from desktop.redaction import Redactor


class StoreAccess(Protocol):
    scrub: Redactor  # replaces the secret values the store knows

    def enqueue(self, sql: str, params: Sequence[Any] = (), *, on_commit: Callable[[], None] | None = None,
                then: Sequence[tuple[str, Sequence[Any]]] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def search(self, table: str, text: str, limit: int) -> list[dict[str, Any]]: ...
