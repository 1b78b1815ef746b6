"""No keyring, still keys: without a Secret Service (the ``fail`` keyring backend) or with the keyring turned
off (the ``null`` backend), Settings offers the keys for this session only.  The session then uses the key
(the Live stand-in accepts only that key), and no file the app wrote holds it: the settings folder, the
database and its journal, nor the log.  Fields an environment variable sets say so and cannot be edited."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from desktop import secrets
from desktop.config import Settings
from desktop.redaction import RedactingFilter
from tests.standins import ca_file
from tests.ui.conftest import make_window
from tests.ui.test_errors import emulator_with_key  # noqa: F401 - the Live stand-in that accepts one key
from ui.settings_dialog import SettingsDialog

KEY = "the-right-key"  # the stand-in's only accepted key (tests/ui/test_errors.py)


@pytest.fixture(params=[fail.Keyring, null.Keyring], ids=["fail", "null"])
def no_keyring(request):
    previous = keyring.get_keyring()
    keyring.set_keyring(request.param())
    yield request.param
    keyring.set_keyring(previous)


def files_holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_session_only_keys_reach_the_service_and_no_file(qtbot, themed_app, no_keyring, emulator_with_key,  # noqa: F811
                                                         tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RedactingFilter())  # as on the app's own log handlers (desktop.cli)
    config = tmp_path / "config"
    monkeypatch.setenv("GEMINI_CODEGEN_CONFIG_DIR", str(config))
    settings = Settings(live_url=emulator_with_key.url, ca_file=str(ca_file(tmp_path / "ca")),
                        data_dir=str(tmp_path / "data"), setup_timeout_s=5)
    win = make_window(qtbot, settings)  # no key yet: the offline demo
    try:
        assert win.offline
        dlg = win.open_settings()
        assert secrets.keyring_problem() is not None
        assert dlg.session_only.isChecked() and not dlg.session_only.isEnabled()  # the only way here
        assert "cannot be saved here" in dlg.keyring_note.text()
        dlg.gemini_key.setText(KEY)
        connections = emulator_with_key.stats.connections
        dlg.save.click()
        assert dlg.result_settings is not None and not dlg.error.isVisible(), dlg.error.text()
        # the new session talks to the stand-in with the key: only the right key gets Ready
        qtbot.waitUntil(lambda: not win.offline and win.state == "ready" and win.bridge.engine is not None,
                        timeout=15_000)
        assert emulator_with_key.stats.connections > connections and emulator_with_key.stats.rejected == 0
        assert win.settings.gemini_api_key == KEY
        win.text.setText("hello there")  # something for the database to record
        win.send_text()
        qtbot.waitUntil(lambda: win.bridge.engine is not None and win.bridge.engine.turns >= 1, timeout=15_000)
    finally:
        win.quit()
    assert secrets.get_secret("gemini_api_key") is None
    assert files_holding(tmp_path / "data", "hello there"), "the database recorded the session"
    assert files_holding(tmp_path, KEY) == []  # settings folder, database (+ journal), certificates
    assert KEY not in caplog.text


def test_the_keyring_backend_from_the_environment_is_recognised():
    for backend in ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"):
        out = subprocess.run([sys.executable, "-c", "from desktop import secrets; print(secrets.keyring_problem())"],
                             env={**os.environ, "PYTHON_KEYRING_BACKEND": backend}, capture_output=True, text=True,
                             timeout=60, check=True).stdout
        assert out.strip() not in ("", "None"), backend


def test_with_a_keyring_session_only_is_a_choice_and_saves_nothing(qtbot, themed_app, memory_keyring, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("GEMINI_CODEGEN_CONFIG_DIR", str(tmp_path))
    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    assert dlg.session_only.isEnabled() and not dlg.session_only.isChecked()
    dlg.gemini_key.setText("a-session-key-123")
    dlg.session_only.setChecked(True)
    new = dlg.apply()
    assert new.gemini_api_key == "a-session-key-123" and memory_keyring.items == {}
    assert files_holding(tmp_path, "a-session-key-123") == []


def test_fields_set_by_the_environment_say_so_and_are_read_only(qtbot, themed_app, memory_keyring, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("GEMINI_CODEGEN_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("GEMINI_API_KEY", "an-env-key-4567")
    monkeypatch.setenv("CODEGEN_ORG_ID", "77")
    monkeypatch.setenv("GEMINI_CODEGEN_PTT_MODE", "toggle")
    dlg = SettingsDialog(Settings(gemini_api_key="an-env-key-4567", codegen_org_id=77, ptt_mode="toggle"))
    qtbot.addWidget(dlg)
    assert set(dlg.env_notes) == {"gemini_api_key", "codegen_org_id", "ptt_mode"}
    assert "$GEMINI_API_KEY" in dlg.env_notes["gemini_api_key"].text() and dlg.gemini_key.isReadOnly()
    assert "$CODEGEN_ORG_ID" in dlg.env_notes["codegen_org_id"].text() and dlg.codegen_org.isReadOnly()
    assert "overrides" in dlg.ptt_mode.toolTip() and not dlg.ptt_mode.isEnabled()
    assert not dlg.live_url.isReadOnly() and dlg.live_url.toolTip() == ""
    dlg.apply()  # the environment's values stay out of the keyring and the file
    assert memory_keyring.items == {} and files_holding(tmp_path, "an-env-key-4567") == []
