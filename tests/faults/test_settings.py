"""Item 11: every numeric (and URL) setting is checked for its range; a bad value is one line naming the
setting and where it came from, exit 2, and nothing is touched (a negative prune setting does not wipe history)."""

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
    ("file", "vad_mode", "2.7", ["history"], "whole number"),
    ("file", "model", "[1, 2]", ["history"], "expected text"),
    ("file", "metrics_port", "70000", ["history"], "outside 0..65535"),
    ("flag", "--codegen-org-id", "-5", ["runs", "list"], "outside 1..9223372036854775807"),
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
