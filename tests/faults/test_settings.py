"""Item 11: every numeric (and URL) setting is checked for its range; a bad value is one line naming the
setting and where it came from, exit 2, and nothing is touched (a negative prune setting does not wipe history).
A bad value already in the settings file does not stop the app: the line says the default is used instead."""

from __future__ import annotations

import pytest

from tests.faults.conftest import wav

CASES = [
    # (where, name or flag, value, the command, words in the message)
    ("env", "GEMINI_CODEGEN_PRUNE_MAX_AGE_DAYS", "-1", ["db", "prune"], "outside 1..36500"),
    ("env", "GEMINI_CODEGEN_PRUNE_MAX_MB", "-5", ["db", "prune"], "outside 1..1000000"),
    ("env", "GEMINI_CODEGEN_PRUNE_MAX_TURNS", "-1", ["db", "prune"], "outside 1..1000000000"),
    ("env", "GEMINI_CODEGEN_TURN_TIMEOUT_S", "0", ["run", "--offline", "--wav", wav("status.wav")], "more than 0"),
    ("env", "GEMINI_CODEGEN_SETUP_TIMEOUT_S", "-1", ["run", "--offline", "--wav", wav("status.wav")], "more than 0"),
    ("env", "GEMINI_CODEGEN_SETUP_TIMEOUT_S", "nan", ["run", "--offline", "--wav", wav("status.wav")], "finite"),
    ("env", "GEMINI_CODEGEN_CODEGEN_TIMEOUT_S", "inf", ["runs", "list", "--offline"], "finite"),
    ("flag", "--codegen-org-id", "-5", ["runs", "list"], "outside 1..9223372036854775807"),
]


FILE_CASES = [  # a value already in the settings file: reported, the default used, the command runs
    ("vad_mode", "2.7", "whole number", "3"),
    ("model", "[1, 2]", "expected text", "gemini-3.8-live"),
    ("metrics_port", "70000", "outside 0..65535", "none"),
]


@pytest.mark.parametrize("where, name, value, command, words", CASES, ids=[f"{c[1]}={c[2]}" for c in CASES])
def test_item11_a_bad_setting_is_one_line_naming_it_and_its_source(app, history_kept, reliability,
                                                                   where, name, value, command, words):
    env = app.env()
    args = list(command)
    if where == "env":
        env[name] = value
        source = f"${name}"
    elif where == "file":
        app.config_dir.mkdir(parents=True, exist_ok=True)
        (app.config_dir / "settings.toml").write_text(f"{name} = {value}\n")
        source = str(app.config_dir / "settings.toml")
    else:
        args += [name, value]
        source = name
    result = app.run(*args, env=env, timeout=20)
    line = result.one_line_error()
    setting = name.removeprefix("GEMINI_CODEGEN_").lower().lstrip("-").replace("-", "_")
    assert result.rc == 2
    assert f"setting '{setting}' from {source}:" in line and words in line, line
    (app.config_dir / "settings.toml").unlink(missing_ok=True)
    assert [t["user_text"] for t in app.history()][::-1] == history_kept  # nothing pruned, nothing written
    shown = line.removeprefix("gemini-codegen: error: ").replace(str(app.config_dir), "CONFIG_DIR")
    reliability(11, f"`{' '.join(command[:2])}` with {name} = {value} ({where})",
                f"refused before any work: `{shown}`", result)


@pytest.mark.parametrize("name, value, words, default", FILE_CASES, ids=[f"{c[0]}={c[1]}" for c in FILE_CASES])
def test_item11_a_bad_value_in_the_settings_file_is_one_line_and_its_default(app, history_kept, reliability,
                                                                            name, value, words, default):
    app.config_dir.mkdir(parents=True, exist_ok=True)
    path = app.config_dir / "settings.toml"
    path.write_text(f"{name} = {value}\n")
    result = app.run("history", timeout=20)
    line = result.one_line_error()
    assert result.rc == 0
    assert f"setting '{name}' from {path}:" in line and words in line and f"using the default ({default})" in line
    assert [t["user_text"] for t in app.history()][::-1] == history_kept
    shown = line.removeprefix("gemini-codegen: warning: ").replace(str(app.config_dir), "CONFIG_DIR")
    reliability(11, f"`history` with {name} = {value} (file)", f"runs on the default: `{shown}`", result)
