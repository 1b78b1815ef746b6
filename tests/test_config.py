from pathlib import Path

import pytest

from desktop.config import ConfigError, Settings, load_settings, save_settings


def test_precedence_defaults_file_env_flags(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text('model = "from-file"\nvad_mode = 1\ngemini_api_key = "file-secret-ignored"\n')
    env = {"GEMINI_MODEL": "from-env", "GEMINI_CODEGEN_TAIL_MS": "150"}
    s = load_settings({"model": "from-flag", "live_url": None}, env=env, path=path, use_keyring=False)
    assert s.model == "from-flag" and s.vad_mode == 1 and s.tail_ms == 150
    assert s.gemini_api_key is None  # never from the file
    s = load_settings({}, env={"GEMINI_API_KEY": "k" * 10, "CODEGEN_ORG_ID": "7"}, path=path, use_keyring=False)
    assert s.has_gemini_credentials and s.codegen_org_id == 7
    assert "k" * 10 not in repr(s)


def test_save_never_writes_secrets(tmp_path: Path):
    path = tmp_path / "settings.toml"
    save_settings(Settings(model="m2", gemini_api_key="sekrit-value", codegen_token="tok-value"), path)
    text = path.read_text()
    assert 'model = "m2"' in text and "sekrit" not in text and "tok-value" not in text
    assert load_settings({}, env={}, path=path, use_keyring=False).model == "m2"


@pytest.mark.parametrize("env, words", [
    ({"GEMINI_CODEGEN_VAD_MODE": "9"}, "outside 0..3"),
    ({"GEMINI_CODEGEN_DENOISE": "magic"}, "not one of"),
    ({"GEMINI_CODEGEN_OFFLINE": "maybe"}, "true/false"),
    ({"GEMINI_CODEGEN_LIVE_COMPRESSION": "zstd"}, "not one of auto, off, deflate, huffman"),
    ({"GEMINI_LIVE_URL": "https://example.com"}, "must start with ws:// or wss://"),
    ({"GEMINI_LIVE_URL": "wss://127.0.0.1:99999"}, "not a usable URL"),
    ({"CODEGEN_API_URL": "ftp://example.com"}, "must start with http:// or https://"),
    ({"CODEGEN_API_URL": "not a url"}, "must start with http:// or https://"),
    ({"CODEGEN_API_URL": "http://127.0.0.1:99999"}, "not a usable URL"),
    ({"GEMINI_CODEGEN_CA_FILE": "/no/such/ca.pem"}, "no such file"),
    ({"GEMINI_CODEGEN_TURN_TIMEOUT_S": "-inf"}, "finite"),
    ({"GEMINI_CODEGEN_PRUNE_MAX_TURNS": "0"}, "outside 1.."),
])
def test_bad_values_name_the_setting_and_source(tmp_path, env, words):
    with pytest.raises(ConfigError) as info:
        load_settings({}, env=env, path=tmp_path / "none.toml", use_keyring=False)
    assert words in str(info.value) and list(env)[0] in str(info.value)


def test_broken_settings_file_is_reported_and_the_defaults_apply(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("model = [unclosed")
    s = load_settings({}, env={}, path=path, use_keyring=False)
    assert s == Settings()
    (problem,) = s.file_problems
    assert problem.startswith(f"cannot read settings file {path}:") and problem.endswith("using the defaults")


def test_live_compression_setting_from_file_env_and_flag(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('live_compression = "off"\n')
    assert load_settings({}, env={}, path=path, use_keyring=False).live_compression == "off"
    env = {"GEMINI_CODEGEN_LIVE_COMPRESSION": "huffman"}
    assert load_settings({}, env=env, path=path, use_keyring=False).live_compression == "huffman"
    assert load_settings({"live_compression": "deflate"}, env=env, path=path,
                         use_keyring=False).live_compression == "deflate"
    assert Settings().live_compression == "auto"


def test_a_bad_value_in_the_file_is_reported_and_falls_back_to_its_default(tmp_path):
    """A saved file never stops the app from starting: the bad value is named with its file and replaced by
    the default; the rest of the file still applies."""
    path = tmp_path / "settings.toml"
    for line, words, default in (("vad_mode = 2.7", "whole number", "3"), ("model = [1, 2]", "expected text", None),
                                 ("model = \"\"", "must not be empty", None),
                                 ("turn_timeout_s = true", "expected a number", "30.0")):
        path.write_text(line + "\ntail_ms = 150\n")
        s = load_settings({}, env={}, path=path, use_keyring=False)
        name = line.split(" = ")[0]
        assert getattr(s, name) == getattr(Settings(), name) and s.tail_ms == 150, line
        (problem,) = s.file_problems
        assert words in problem and str(path) in problem and f"setting {name!r}" in problem, line
        assert f"using the default ({default or getattr(Settings(), name)})" in problem, line
    path.write_text("vad_mode = 3.0\n")
    assert load_settings({}, env={}, path=path, use_keyring=False).vad_mode == 3
