"""Helpers shared by the state tests: a store on a real file in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.metrics import Metrics
from desktop.state.store import DB_NAME, Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / DB_NAME


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path, metrics=Metrics(), secrets=["sk-test-SECRET-1234"], idle_prune_after_s=1e9)
    yield s
    s.close()
