"""The update check against a real release feed on loopback: a newer version is offered, the same or an older
one is not, pre-releases only to a pre-release, at most one request a day, none when turned off or in the
offline demo, and a hostile feed costs one log line and nothing else."""

from __future__ import annotations

import json
import logging
import stat

import pytest

from desktop import buildinfo, cli, updates
from desktop.config import Settings, load_settings
from desktop.tls import loopback_identity
from tests.release_feed import Answer, feed, release, release_feed

DAY = updates.CHECK_EVERY_S
NOW = 1_800_000_000.0


def newest(*entries, current="1.0.0"):
    return updates.newest_release(json.dumps(list(entries)).encode(), current)


# ------------------------------------------------------------------------------------------- the feed's words
def test_only_a_newer_release_is_offered():
    got = newest(release("v1.0.0"), release("v1.2.0", "Faster."), release("v1.1.0"))
    assert got == updates.Release("1.2.0", "Faster.", "https://github.com/acme/app/releases/tag/v1")
    assert newest(release("v1.0.0"), release("0.9.0")) is None
    assert newest(release("1.0")) is None  # 1.0 == 1.0.0 (PEP 440)
    assert updates.newest_release(json.dumps(release("v2.0.0")).encode(), "1.0.0").version == "2.0.0"  # one object


def test_pre_releases_and_drafts():
    entries = (release("v1.1.0rc1"), release("v1.0.5", prerelease=True), release("v3.0.0", draft=True))
    assert newest(*entries) is None
    assert newest(*entries, current="1.1.0b1").version == "1.1.0rc1"
    assert newest(release("v1.1.0.dev3")) is None


@pytest.mark.parametrize("entry", [
    {"tag_name": 2}, {"tag_name": None}, {"tag_name": ["v9"]}, {"name": "v9"}, {"tag_name": "latest"},
    {"tag_name": "v" + "9" * 100}, {"tag_name": "9.0.0; rm -rf /"}, "v9.0.0", 9, None,
], ids=repr)
def test_entries_without_a_readable_version_are_skipped(entry):
    assert newest(entry, release("v1.5.0")).version == "1.5.0"
    with pytest.raises(updates.FeedError, match="readable version"):
        newest(entry)


def test_wrong_types_and_hostile_text_cost_only_that_field():
    got = newest(release("v2.0.0", notes={"x": 1}, url="http://example.com/release", draft="yes"))
    assert got == updates.Release("2.0.0", "", "")  # no notes; a plain-http link is not kept
    long_notes = "\n".join(f"line {i} <img src='file:///dev/zero'>" for i in range(50))
    got = newest(release("v2.0.0", notes=long_notes, url="javascript:alert(1)"))
    assert got.url == "" and got.notes.endswith("…") and got.notes.count("\n") < updates.NOTES_LINES
    assert len(got.notes) <= updates.NOTES_CHARS and "<img" in got.notes  # kept as text: the window shows text


@pytest.mark.parametrize("body", [b"", b"{", b"<html>rate limited</html>", b"\xff\xfe", b'"v9.0.0"', b"42",
                                  b"[" * 100_000 + b"]" * 100_000], ids=lambda b: repr(b[:12]))
def test_a_body_that_is_not_a_feed_is_an_error(body):
    with pytest.raises(updates.FeedError):
        updates.newest_release(body, "1.0.0")


# ------------------------------------------------------------------------------------------- over the wire
def settings_for(url: str, **changes) -> Settings:
    return Settings(update_feed_url=url, **changes)


async def test_a_newer_release_is_found_and_the_check_waits_a_day(tmp_path):
    state = tmp_path / "config" / "update-check.json"
    with release_feed() as server:
        url = server.answer("/releases", feed(release("v9.0.0", "Big news."), release("v0.9.0")))
        out = await updates.check(settings_for(url), demo=False, now=NOW, path=state)
        assert out.release == updates.Release("9.0.0", "Big news.", "https://github.com/acme/app/releases/tag/v1")
        assert out.requested and not out.failed and len(server.requests) == 1
        path, headers = server.requests[0]
        assert path == "/releases" and headers["User-Agent"] == "gemini-codegen"  # no version, no identifier
        assert not {"Cookie", "Authorization"} & set(headers)
        assert stat.S_IMODE(state.stat().st_mode) == 0o600 and updates.load_state(state).checked_at == NOW
        for later in (NOW + 1, NOW + DAY - 1):
            again = await updates.check(settings_for(url), demo=False, now=later, path=state)
            assert again.release is None and not again.requested
        assert len(server.requests) == 1  # at most once a day
        out = await updates.check(settings_for(url), demo=False, now=NOW + DAY, path=state)
        assert out.release is not None and len(server.requests) == 2
        out = await updates.check(settings_for(url), demo=False, now=NOW, path=state)  # the clock went back
        assert out.requested and len(server.requests) == 3


async def test_the_same_version_is_not_offered(tmp_path):
    with release_feed() as server:
        url = server.answer("/releases", feed(release(f"v{updates.__version__}")))
        out = await updates.check(settings_for(url), demo=False, now=NOW, path=tmp_path / "s.json")
        assert out.release is None and out.requested and not out.failed


async def test_a_dismissed_version_is_not_offered_again_but_a_newer_one_is(tmp_path):
    state = tmp_path / "s.json"
    updates.dismiss("9.0.0", state)
    with release_feed() as server:
        url = server.answer("/releases", feed(release("v9.0.0")))
        out = await updates.check(settings_for(url), demo=False, now=NOW, path=state)
        assert out.release is None and out.requested and "dismissed" in out.message
        server.answer("/releases", feed(release("v9.0.1")))
        out = await updates.check(settings_for(url), demo=False, now=NOW + DAY, path=state)
        assert out.release is not None and out.release.version == "9.0.1"


@pytest.mark.parametrize("how", ["setting", "environment", "demo"])
async def test_turned_off_or_in_the_demo_no_request_is_made(tmp_path, how, monkeypatch):
    with release_feed() as server:
        url = server.answer("/releases", feed(release("v9.0.0")))
        settings, demo = settings_for(url), False
        if how == "setting":
            settings = settings_for(url, check_updates=False)
        elif how == "environment":
            monkeypatch.setenv("GEMINI_CODEGEN_CHECK_UPDATES", "0")
            settings = load_settings({"update_feed_url": url}, use_keyring=False)
        else:
            demo = True
        out = await updates.check(settings, demo=demo, now=NOW, path=tmp_path / "s.json")
        assert out.release is None and not out.requested and server.requests == []
        assert ("offline demo" if how == "demo" else "off") in out.message
        assert not (tmp_path / "s.json").exists()


def test_the_feed_is_the_releases_of_the_repository_the_build_came_from():
    source = buildinfo.BuildInfo("0.1.0", "abc", "linux-x86_64", False, "3.11")
    assert updates.feed_url(Settings(), source) is None  # from source: nothing to ask
    packaged = buildinfo.BuildInfo("0.1.0", "abc", "linux-x86_64", True, "3.11", (), "acme/gemini-codegen")
    assert updates.feed_url(Settings(), packaged) == "https://api.github.com/repos/acme/gemini-codegen/releases?per_page=10"
    assert updates.feed_url(Settings(update_feed_url="https://example.com/feed.json"), packaged) == \
        "https://example.com/feed.json"
    assert buildinfo.repository_name("acme/app") == "acme/app"
    for bad in ("acme", "acme/app/x", "../etc", "acme/app?x=1", 3, None):
        assert buildinfo.repository_name(bad) == ""


def test_a_plain_http_feed_off_this_computer_is_refused_by_the_settings():
    from desktop.config import ConfigError

    with pytest.raises(ConfigError, match="only allowed to this computer"):
        load_settings({"update_feed_url": "http://example.com/feed.json"}, env={}, use_keyring=False)


HOSTILE = {
    "not JSON": Answer(body=b"{\"tag_name\": "),
    "huge": Answer(body=b"[" + b" " * (updates.MAX_FEED_BYTES + 10) + b"]"),
    "huge, no length": Answer(body=b" " * (updates.MAX_FEED_BYTES + 10), headers={"Content-Length": ""}),
    "wrong type": Answer(body=b'{"releases": "v9.0.0"}'),
    "garbage version": Answer(body=json.dumps([release("nine point oh")]).encode()),
    "404": Answer(404, b'{"message": "Not Found"}'),
    "429": Answer(429, b'{"message": "API rate limit exceeded"}', {"Retry-After": "3600"}),
    "500": Answer(500, b"oops"),
    "503": Answer(503, b""),
    "slow": Answer(stall=True),
    "redirect to http": Answer(302, headers={"Location": "http://198.51.100.7/releases"}),
    "redirect loop": Answer(302, headers={"Location": "/releases"}),
    "gzip bomb": Answer(body=__import__("gzip").compress(b"[" + b" " * (8 * updates.MAX_FEED_BYTES) + b"]"),
                        headers={"Content-Encoding": "gzip"}),
}


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_hostile_feed_costs_one_log_line_and_nothing_else(tmp_path, caplog, name):
    caplog.set_level(logging.DEBUG)
    with release_feed() as server:
        url = server.answer("/releases", HOSTILE[name])
        out = await updates.check(settings_for(url), demo=False, now=NOW, path=tmp_path / "s.json", timeout_s=1.0)
    assert out.release is None and out.failed and out.requested
    lines = [r for r in caplog.records if r.name == "desktop.updates"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING, [r.getMessage() for r in lines]
    assert "\n" not in lines[0].getMessage() and lines[0].exc_info is None
    if name == "redirect to http":
        assert len(server.requests) == 1  # refused before connecting to the plain host


async def test_a_redirect_is_followed_to_https_only(tmp_path, caplog):
    identity = loopback_identity()
    cert = tmp_path / "ca.pem"
    cert.write_bytes(identity.cert_pem)
    with release_feed(identity.server_context()) as tls_server, release_feed() as plain_server:
        plain_url = plain_server.answer("/releases", feed(release("v9.0.0")))
        moved = tls_server.answer("/moved", feed(release("v9.0.0")))
        tls_server.answer("/releases", Answer(301, headers={"Location": "/moved"}))
        tls_server.answer("/downgrade", Answer(302, headers={"Location": plain_url}))
        settings = settings_for(tls_server.url("/releases"), ca_file=str(cert))
        out = await updates.check(settings, demo=False, now=NOW, path=tmp_path / "a.json")
        assert out.release is not None and [p for p, _h in tls_server.requests] == ["/releases", "/moved"]
        assert moved.endswith("/moved")
        settings = settings_for(tls_server.url("/downgrade"), ca_file=str(cert))
        out = await updates.check(settings, demo=False, now=NOW, path=tmp_path / "b.json")
        assert out.failed and "redirected from https to http" in out.message
        assert plain_server.requests == []  # never asked over plain http
        out = await updates.check(settings_for(tls_server.url("/moved")), demo=False, now=NOW,
                                  path=tmp_path / "c.json")
        assert out.failed  # without the CA the loopback certificate is not trusted: verification stays on


def test_the_command_line_checks_now_and_prints_the_result(tmp_path, capsys):
    with release_feed() as server:
        url = server.answer("/releases", feed(release("v9.0.0", "Big news.\x1b[31m red")))
        assert cli.main(["update-check", "--feed", url]) == 0
        out = capsys.readouterr().out
        assert "version 9.0.0 is available" in out and "Big news." in out and "\x1b" not in out
        assert cli.main(["update-check", "--feed", url]) == 0  # asked for: not held back by the day's limit
        assert len(server.requests) == 2
        server.answer("/releases", Answer(500))
        assert cli.main(["update-check", "--feed", url]) == 1
        assert "update check failed" in capsys.readouterr().out
    assert cli.main(["update-check", "--feed", "http://example.com/feed"]) == 2  # refused, one line
    assert "only allowed to this computer" in capsys.readouterr().err
