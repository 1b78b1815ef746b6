"""Each setting declares when a change to it takes effect, and an explicitly chosen noise suppressor wins over
the quality profile's."""

from __future__ import annotations

from dataclasses import fields

from desktop.config import APPLIES, LAUNCH, LIVE, SESSION, Settings, applies, changed_settings, load_settings
from desktop.quality import BALANCED, PERFORMANCE, SAVER
from desktop.session import effective_profile


def test_every_setting_says_when_it_applies():
    for f in fields(Settings):
        if f.name != "file_problems":
            assert f.metadata.get("applies") in APPLIES, f.name
    assert applies("quality_profile") == LIVE and applies("confirm_before_create") == LIVE
    assert applies("speak_run_updates") == LIVE and applies("ptt_key") == LIVE
    for name in ("voice", "input_device", "denoise", "vad_mode", "echo_cancellation", "ptt_mode", "model"):
        assert applies(name) == SESSION, name
    assert applies("log_level") == LAUNCH and applies("update_feed_url") == LAUNCH
    assert applies("check_updates") == LIVE  # turned off: the update notice goes at once


def test_changed_settings_names_each_change_with_its_kind():
    old = Settings()
    new = old.replace(voice="Puck", quality_profile="saver", log_level="INFO")
    assert changed_settings(old, new) == {"voice": SESSION, "quality_profile": LIVE, "log_level": LAUNCH}
    assert changed_settings(old, old) == {}


def test_the_profile_picks_the_suppressor_only_when_none_was_chosen():
    assert Settings().denoise == "auto"
    assert effective_profile(Settings(), PERFORMANCE).denoise == PERFORMANCE.denoise == "rnnoise"
    assert effective_profile(Settings(), SAVER) == SAVER
    for chosen in ("webrtc", "rnnoise", "off"):
        for profile in (PERFORMANCE, BALANCED, SAVER):
            assert effective_profile(Settings(denoise=chosen), profile).denoise == chosen


def test_a_saved_webrtc_choice_is_read_as_a_choice(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('denoise = "webrtc"\n')
    settings = load_settings(env={}, path=path, use_keyring=False)
    assert settings.denoise == "webrtc"
    assert effective_profile(settings, PERFORMANCE).denoise == "webrtc"  # not rnnoise on mains power
