"""Shared test fixtures: the speech WAVs and their manifest, and a loopback Live emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Never touch the developer's real keyring or settings from a test run.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((FIXTURES / "manifest.json").read_text())


@pytest.fixture(autouse=True)
def _private_config(tmp_path, monkeypatch):
    """Each test gets its own config and data dir, and no credentials from the environment."""
    monkeypatch.setenv("GEMINI_CODEGEN_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GEMINI_CODEGEN_DATA_DIR", str(tmp_path / "data"))
    for var in ("GEMINI_API_KEY", "CODEGEN_API_TOKEN", "CODEGEN_ORG_ID", "GEMINI_LIVE_URL", "CODEGEN_API_URL",
                "GEMINI_MODEL"):
        monkeypatch.delenv(var, raising=False)
    from desktop.redaction import SECRETS

    SECRETS.forget_all()  # the secrets an earlier test's settings held are not this test's


E2E = FIXTURES.parent / "e2e"


def pytest_ignore_collect(collection_path, config):
    """The real-window tests (tests/e2e) need a process of their own: Qt picks its platform (xcb there,
    offscreen here) once per process.  They run when asked for alone: `pytest tests/e2e` (make test does)."""
    if collection_path != E2E:
        return None
    asked = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    return None if asked and all(a == E2E or E2E in a.parents for a in asked) else True
