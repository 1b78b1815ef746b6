"""The security suite's tools: the fault suite's real command and peers, and the collector behind
docs/security.md (``threat(area, asset, threat, defence, measured)``: one row, this test's id filled in)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import app, history_kept, peers, seeded_db  # noqa: F401  (fixtures)
from tests.security.threats import AREAS, Row, write_security_doc
from tests.ui.conftest import memory_keyring, themed_app, window  # noqa: F401  (the real window, offscreen)

_rows: list[Row] = []


@pytest.fixture
def threat(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``threat(area, asset, threat, defence, measured)``: one row of docs/security.md."""

    def record(area: str, asset: str, what: str, defence: str, measured: str) -> None:
        assert area in AREAS, area
        test = request.node.nodeid.removeprefix("tests/security/")
        _rows.append(Row(area, asset, what, defence, test, measured))

    return record


def pytest_sessionfinish(session, exitstatus) -> None:
    target = os.environ.get("GEMINI_CODEGEN_SECURITY_DOC")
    if target and _rows:
        write_security_doc(_rows, Path(target))
