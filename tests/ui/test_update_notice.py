"""The update notice in the window (offscreen), fed by a real release feed on loopback: a newer version is
shown with its notes as text, reachable with the keyboard, dismissible (and then remembered); the same
version, a hostile feed, the setting turned off and the offline demo show nothing, and the last two ask
nothing."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from desktop import updates
from desktop.config import Settings
from tests.release_feed import Answer, feed, release, release_feed
from tests.standins import ca_file
from tests.ui.conftest import make_window
from tests.ui.test_errors import emulator_with_key  # noqa: F401 - a fixture: a Live stand-in on loopback
from ui.update_notice import KEY

NOTES = "<b>Bold</b> claims <img src='file:///dev/zero'>\nSecond line"
PAGE = "https://github.com/acme/app/releases/tag/v9.0.0"


@pytest.fixture
def server():
    with release_feed() as s:
        yield s


@pytest.fixture
def opened(monkeypatch):
    urls: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: urls.append(QUrl(url)) or True)
    return urls


def checked(qtbot, win, offline: bool = False) -> updates.Outcome:
    with qtbot.waitSignal(win.updates.finished, timeout=10_000) as blocker:
        assert win.check_for_updates(offline)
    return blocker.args[0]


_OPEN_BEFORE: set[QWidget] = set()


def _popups() -> set[QWidget]:
    return {w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog | QMessageBox) and w.isVisible()}


@pytest.fixture(autouse=True)
def _popups_open_before():
    """Dialogs an earlier test of the suite left open are not this test's popups."""
    _OPEN_BEFORE.clear()
    _OPEN_BEFORE.update(_popups())


def no_popup() -> bool:
    return not (_popups() - _OPEN_BEFORE)


def test_a_newer_version_is_shown_as_text_with_a_link_and_can_be_dismissed(qtbot, themed_app, server, opened):
    url = server.answer("/releases", feed(release("v9.0.0", NOTES, PAGE)))
    win = make_window(qtbot, Settings(update_feed_url=url), start=False)
    out = checked(qtbot, win)
    assert out.release is not None and KEY in win.messages.messages and no_popup()
    msg = win.messages.messages[KEY]
    assert msg.title.text() == "Version 9.0.0 is available"
    assert msg.text.textFormat() == Qt.TextFormat.PlainText and "<img src='file:///dev/zero'>" in msg.text.text()
    assert msg.accessibleName() == "Update: version 9.0.0 is available"
    assert msg.button is not None and msg.button.text() == "Release page"
    qtbot.waitUntil(lambda: msg.button in win.focus_stops() and msg.close_button in win.focus_stops())  # Tab
    msg.button.setFocus()
    qtbot.keyClick(msg.button, Qt.Key.Key_Space)
    assert [u.toString() for u in opened] == [PAGE]
    msg.close_button.setFocus()
    qtbot.keyClick(msg.close_button, Qt.Key.Key_Space)
    assert KEY not in win.messages.messages
    assert updates.load_state().dismissed == "9.0.0"
    again = checked(qtbot, win)  # the same day: the feed is not asked again
    assert not again.requested and len(server.requests) == 1 and KEY not in win.messages.messages
    win.quit()


def test_a_link_that_is_not_https_gets_no_button(qtbot, themed_app, server, opened):
    url = server.answer("/releases", feed(release("v9.0.0", "Notes", "https://user@example.com/x")))
    win = make_window(qtbot, Settings(update_feed_url=url), start=False)
    checked(qtbot, win)
    msg = win.messages.messages[KEY]
    assert msg.button is None and not win.updates.open_page() and opened == []
    win.quit()


def test_turning_the_setting_off_hides_the_notice(qtbot, themed_app, server):
    url = server.answer("/releases", feed(release("v9.0.0")))
    settings = Settings(update_feed_url=url)
    win = make_window(qtbot, settings, start=False)
    checked(qtbot, win)
    assert KEY in win.messages.messages
    win.apply_settings(settings.replace(check_updates=False))
    assert KEY not in win.messages.messages
    assert updates.load_state().dismissed == ""  # hidden, not dismissed
    out = checked(qtbot, win)
    assert not out.requested and len(server.requests) == 1
    win.quit()


@pytest.mark.parametrize("answer", [
    feed(release(f"v{updates.__version__}")), feed(release("v0.0.1")),
    Answer(body=b"[" * 50_000), Answer(429), Answer(body=json.dumps([release("not-a-version")]).encode()),
], ids=["same", "older", "malformed", "429", "garbage version"])
def test_nothing_newer_or_a_bad_feed_shows_nothing(qtbot, themed_app, server, answer):
    url = server.answer("/releases", answer)
    win = make_window(qtbot, Settings(update_feed_url=url), start=False)
    out = checked(qtbot, win)
    assert out.requested and out.release is None and len(server.requests) == 1
    assert KEY not in win.messages.messages and no_popup()
    win.quit()


def test_the_offline_demo_asks_nothing(qtbot, themed_app, memory_keyring, server):
    """The real start: the offline demo's session comes up and the window decides; the feed is never asked."""
    url = server.answer("/releases", feed(release("v9.0.0")))
    win = make_window(qtbot, Settings(update_feed_url=url), start=False)
    with qtbot.waitSignal(win.updates.finished, timeout=20_000) as blocker:
        win.bridge.start(Settings(update_feed_url=url, offline=True))
    assert win.offline and "offline demo" in blocker.args[0].message
    assert server.requests == [] and KEY not in win.messages.messages
    win.quit()


def test_the_first_live_session_asks_after_a_demo_one_did_not(qtbot, themed_app, memory_keyring, server,
                                                              emulator_with_key, tmp_path):  # noqa: F811
    """The real start twice: the demo (no key yet) asks nothing; with the key added, the live session that
    follows (against a Live stand-in on loopback: not the demo) asks once and shows the notice."""
    url = server.answer("/releases", feed(release("v9.0.0")))
    win = make_window(qtbot, Settings(update_feed_url=url), start=False)
    with qtbot.waitSignal(win.updates.finished, timeout=20_000):
        win.bridge.start(Settings(update_feed_url=url, offline=True))
    assert server.requests == []
    live = Settings(update_feed_url=url, live_url=emulator_with_key.url, gemini_api_key="the-right-key",
                    ca_file=str(ca_file(tmp_path)))
    win.settings = live
    with qtbot.waitSignal(win.updates.finished, timeout=20_000) as blocker:
        win.bridge.restart(live)
    assert not win.offline and blocker.args[0].release is not None and len(server.requests) == 1
    qtbot.waitUntil(lambda: KEY in win.messages.messages)
    win.quit()


def test_turned_off_asks_nothing(qtbot, themed_app, server):
    url = server.answer("/releases", feed(release("v9.0.0")))
    win = make_window(qtbot, Settings(update_feed_url=url, check_updates=False), start=False)
    out = checked(qtbot, win)
    assert not out.requested and server.requests == [] and KEY not in win.messages.messages
    win.quit()
