"""Settings round trip: secrets to the (test) keyring, everything else to the settings file, never a secret
in the file; the window applies the change without a restart where it can."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop import secrets
from desktop.config import Settings, load_settings, settings_path
from ui.settings_dialog import SettingsDialog


def test_settings_round_trip_through_keyring_and_file(qtbot, themed_app, memory_keyring):
    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    dlg.gemini_key.setText("AIza-test-key-123456")
    dlg.codegen_token.setText("cg-token-abcdef")
    dlg.codegen_org.setText("4242")
    dlg.model.setText("gemini-3.8-live")
    dlg.voice.setCurrentText("Puck")
    dlg.vad_mode.setCurrentIndex(3)
    dlg.denoise.setCurrentText("off")
    dlg.ptt_mode.setCurrentText("toggle")
    dlg.quality.setCurrentText("saver")
    dlg.confirm.setChecked(False)
    dlg.ptt_key.click()
    qtbot.keyPress(dlg.ptt_key, Qt.Key.Key_F9)
    assert dlg.ptt_key.key_name == "F9"
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert dlg.result() == SettingsDialog.DialogCode.Accepted

    text = settings_path().read_text()
    assert "AIza-test-key-123456" not in text and "cg-token-abcdef" not in text
    assert secrets.get_secret("gemini_api_key") == "AIza-test-key-123456"
    assert secrets.get_secret("codegen_token") == "cg-token-abcdef"
    back = load_settings()
    assert (back.gemini_api_key, back.codegen_token, back.codegen_org_id) == (
        "AIza-test-key-123456", "cg-token-abcdef", 4242)
    assert (back.voice, back.vad_mode, back.denoise, back.ptt_mode, back.ptt_key, back.quality_profile,
            back.confirm_before_create) == ("Puck", 3, "off", "toggle", "F9", "saver", False)

    # and back again: the dialog shows what is stored; clearing a key removes it from the keyring
    dlg2 = SettingsDialog(back)
    qtbot.addWidget(dlg2)
    assert dlg2.voice.currentText() == "Puck" and dlg2.codegen_org.text() == "4242"
    dlg2.codegen_token.clear()
    dlg2.apply()
    assert secrets.get_secret("codegen_token") is None


def test_bad_values_are_one_clear_line_and_nothing_is_saved(qtbot, themed_app, memory_keyring):
    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    dlg.codegen_org.setText("acme")
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert not dlg.error.isHidden() and "organisation id is a number" in dlg.error.text()
    assert not settings_path().exists()
    dlg.codegen_org.setText("")
    dlg.live_url.setText("ftp://example")
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert "Live endpoint: 'ftp://example' must start with ws:// or wss://" in dlg.error.text()
    assert not settings_path().exists()
    dlg.live_url.setText(Settings().live_url)
    dlg.spoken_languages.setText("en-US, Deutsch")
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert "You speak: 'Deutsch' is not a language code like en-US or de-DE" in dlg.error.text()
    assert not settings_path().exists()


def test_spoken_languages_and_code_folders_are_saved_for_the_next_session(qtbot, themed_app, memory_keyring, tmp_path):
    import os

    from desktop.config import applies

    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    assert dlg.spoken_languages.text() == "en-US"
    folders = os.pathsep.join([str(tmp_path / "api"), str(tmp_path / "missing-for-now")])
    dlg.spoken_languages.setText("en-US, de-DE")
    dlg.code_folders.setText(folders)
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert dlg.result() == SettingsDialog.DialogCode.Accepted
    back = load_settings()
    assert (back.spoken_languages, back.code_folders) == ("en-US, de-DE", folders)
    assert applies("spoken_languages") == applies("code_folders") == "session"  # the next Gemini session


def test_window_applies_key_change_and_add_keys_opens_settings(qtbot, window):
    win = window
    assert "offline" in win.messages.messages
    banner = win.messages.messages["offline"]
    assert "no real Gemini or CodeGen" in banner.text.text()
    assert banner.button is not None and banner.button.text() == "Add keys"
    banner.button.click()
    dlg = win.findChild(SettingsDialog)
    assert dlg is not None and dlg.isVisible() and dlg.tabs.currentIndex() == dlg.tab_index["accounts"]
    dlg.ptt_key.click()
    qtbot.keyPress(dlg.ptt_key, Qt.Key.Key_F7)
    qtbot.mouseClick(dlg.save, Qt.MouseButton.LeftButton)
    assert win.settings.ptt_key == "F7" and "F7" in win.hint.text()
    assert win.bridge.running  # a key change needs no new session
    qtbot.keyPress(win.conversation, Qt.Key.Key_F7)
    assert win.listening
    qtbot.keyRelease(win.conversation, Qt.Key.Key_F7)
    qtbot.waitUntil(lambda: not win.listening, timeout=2000)  # a release is held back 30 ms (auto-repeat)


def test_session_setting_change_restarts_without_blocking_the_ui(qtbot, window):
    import time

    win, bridge = window, window.bridge
    old_engine = bridge.engine
    started: list[bool] = []
    bridge.session_started.connect(started.append)
    t0 = time.perf_counter()
    win.apply_settings(win.settings.replace(voice="Puck"))
    assert time.perf_counter() - t0 < 0.5  # the old session closes on its own thread
    qtbot.waitUntil(lambda: bool(started) and bridge.engine is not None and bridge.engine is not old_engine
                    and win.state == "ready", timeout=15_000)
    assert bridge.settings is not None and bridge.settings.voice == "Puck" and bridge.settings.offline


def test_save_writes_only_the_file_values_and_the_changes_never_the_environment(qtbot, themed_app, memory_keyring,
                                                                               monkeypatch, tmp_path):
    monkeypatch.setenv("GEMINI_CODEGEN_DATA_DIR", str(tmp_path / "elsewhere"))
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('voice = "Aoede"\n')
    current = load_settings()
    assert current.data_dir == str(tmp_path / "elsewhere") and current.voice == "Aoede"
    dlg = SettingsDialog(current)
    qtbot.addWidget(dlg)
    assert dlg.denoise_level.currentText() == "2 · moderate" and dlg.vad_mode.currentText().startswith("3 · ")  # the defaults
    dlg.denoise_level.setCurrentIndex(3)
    dlg.apply()
    text = settings_path().read_text()
    assert "data_dir" not in text and "elsewhere" not in text
    assert 'voice = "Aoede"' in text and "denoise_level = 3" in text
