"""Links go only where they say: a run card offers a link only to a checked https:// URL (and, in the offline
demo, the stand-ins' pages on 127.0.0.1), labelled with its host, and a click hands the system opener exactly
that URL.  Everything else is text: real clicks all over the card's links reach no opener.

The system opener (``QDesktopServices.openUrl``) is replaced by a recorder for the test: the runs arrive through
the bridge, as the engine delivers CodeGen's answers, in the real window.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QTextDocument

from desktop.events import PullRequest, RunUpdate
from tests.security.test_text_surfaces import window_env  # noqa: F401  (fixture)
from tests.ui.conftest import make_window
from ui.plain_text import readable
from ui.runs_panel import RunCard

SCHEMES = {
    "file": "file:///etc/passwd",
    "javascript": "javascript:alert(document.cookie)",
    "desktop file": "file:///usr/share/applications/evil.desktop",
    "bare .desktop path": "/tmp/evil.desktop",
    "smb": "smb://attacker.example/share/payload",
    "made-up scheme": "codegen-helper://run?cmd=rm%20-rf",
    "data": "data:text/html,<script>alert(1)</script>",
    "plain http": "http://app.codegen.com/runs/1",
}
HIDDEN = {
    "user info before the host": "https://app.codegen.com@evil.example/runs/1",
    "no host": "https:///etc/passwd",
    "no slashes": "https:evil.example",
    "a second URL after a newline": "https://app.codegen.com/x\nhttps://evil.example/",
    "leading space": " https://app.codegen.com/runs/1",
    "quote breaking out of href": 'https://evil.example/" onclick="x()',
    "backslash host confusion": "https://app.codegen.com\\@evil.example/",
}
LOOPBACK = "http://127.0.0.1:8080/runs/5"


@pytest.fixture
def opened(monkeypatch) -> Iterator[list[QUrl]]:
    """What reached the system opener."""
    calls: list[QUrl] = []

    def record(url: QUrl) -> bool:
        calls.append(QUrl(url))
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", record)
    yield calls


@pytest.fixture
def window(qtbot, window_env):  # noqa: F811 - the fixture imported above
    win = make_window(qtbot)
    qtbot.waitUntil(lambda: win.offline and win.runs.local_links, timeout=5000)  # the offline demo
    yield win
    win.quit()


def deliver(qtbot, win, run_id: int, *, web_url: str = "", prs: tuple[PullRequest, ...] = ()) -> RunCard:
    win.bridge.post(RunUpdate(run_id, "COMPLETE", "done", prompt="Fix the flaky login test", web_url=web_url,
                              pull_requests=prs))
    qtbot.waitUntil(lambda: run_id in win.runs.cards and win.runs.cards[run_id].last is not None
                    and win.runs.cards[run_id].last.web_url == web_url, timeout=5000)
    return win.runs.cards[run_id]


def shown_text(card: RunCard) -> str:
    doc = QTextDocument()
    doc.setHtml(card.links.text())
    return readable(doc.toPlainText())


def click_everywhere(qtbot, card: RunCard) -> int:
    """Real clicks on the links label: the start, the middle and the end of each of its first lines (where the
    anchors would be); returns how many."""
    label = card.links
    label.parentWidget().layout().activate()
    line = label.fontMetrics().lineSpacing()
    n = 0
    for y in range(line // 2, min(label.height(), 3 * line), line):
        for x in (12, label.width() // 2, label.width() - 12):
            qtbot.mouseClick(label, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
            n += 1
    return n


def test_hostile_urls_are_shown_as_text_and_never_opened(qtbot, window, opened, threat):
    win = window
    clicks = {"scheme": 0, "hidden": 0}
    for group, urls in (("scheme", SCHEMES), ("hidden", HIDDEN)):
        for n, (name, url) in enumerate(urls.items(), start=1):
            run_id = (100 if group == "scheme" else 200) + n
            card = deliver(qtbot, win, run_id, web_url=url, prs=(PullRequest("Fix login", url),))
            assert card.targets == {}, name
            assert "<a " not in card.links.text(), name  # no link offered
            text = shown_text(card)
            assert "Open in CodeGen: " in text and "Fix login: " in text, (name, text)
            first_line = url.strip().splitlines()[0]
            assert first_line in text.replace("\n", " ") or first_line[:40] in text, (name, text)
            card.links.linkActivated.emit(url)  # even if Qt reported a click on it
            assert not card.open_link(url)
            clicks[group] += click_everywhere(qtbot, card)
            assert opened == [], (name, opened)
    threat("links", "the user's machine (the system opener)",
           "a run's web_url or pull-request URL from CodeGen naming file:///etc/passwd, javascript:, a .desktop "
           "file, smb://, data:, a made-up scheme or plain http://",
           "a link only for https:// with a host (ui.links.target, Qt's own parse); anything else shown as text; "
           "setOpenExternalLinks off, clicks go through RunCard.open_link -> links.open_target",
           f"{len(SCHEMES)} URLs as web_url and as a pull request: no anchor offered, {clicks['scheme']} real clicks "
           "over the links and a forged linkActivated each: 0 calls reached the opener")
    threat("links", "the user's trust in where a link goes",
           "a URL that hides its target: user info before the host, no host, a second URL after a newline, a "
           "leading space, a quote that breaks out of href, a backslash that parsers read differently",
           "refused: whitespace or control characters, no host, any user info, not valid in Qt's strict mode",
           f"{len(HIDDEN)} URLs: no anchor offered, shown as text, {clicks['hidden']} real clicks and a forged "
           "linkActivated each: 0 calls "
           "reached the opener")


def test_a_good_link_opens_exactly_its_url_and_names_its_host(qtbot, window, opened, threat):
    win = window
    web = "https://app.codegen.com/runs/42?tab=logs&x=1"
    card = deliver(qtbot, win, 301, web_url=web)
    assert "Open in CodeGen (app.codegen.com)" in shown_text(card)
    assert card.links.textFormat() == Qt.TextFormat.RichText and not card.links.openExternalLinks()
    card.parentWidget().layout().activate()
    qtbot.mouseClick(card.links, Qt.MouseButton.LeftButton, pos=QPoint(12, card.links.height() // 2))
    assert [u.toString() for u in opened] == [web]  # a real click: exactly that URL, once

    pr = "https://github.com/acme/api/pull/7"
    card = deliver(qtbot, win, 302, prs=(PullRequest("Fix <b>flaky</b> login", pr),))
    assert "⤴ Fix <b>flaky</b> login (github.com)" in shown_text(card)  # the title is text, the host named
    qtbot.mouseClick(card.links, Qt.MouseButton.LeftButton, pos=QPoint(12, card.links.height() // 2))
    assert [u.toString() for u in opened] == [web, pr]

    look_alike = "https://аррӏе.com/login"  # Cyrillic letters that look like "apple"
    card = deliver(qtbot, win, 303, web_url=look_alike)
    assert "Open in CodeGen (xn--80ak6aa92e.com)" in shown_text(card)  # the name it really resolves
    threat("links", "the user's trust in where a link goes",
           "every web_url labelled 'Open in CodeGen' whatever its target; a look-alike (IDN) host",
           "the label names the host (in its ASCII form), the click opens the URL the card checked, nothing else",
           "a real click on 'Open in CodeGen (app.codegen.com)' and on a pull request '(github.com)' each reached "
           "the opener once with exactly their URL; a Cyrillic look-alike shown as xn--80ak6aa92e.com")


def test_loopback_links_only_in_the_offline_demo(qtbot, window, opened, threat):
    win = window
    card = deliver(qtbot, win, 401, web_url=LOOPBACK)
    assert "Open the demo page (127.0.0.1)" in shown_text(card)  # the stand-in's page, in the demo
    card.parentWidget().layout().activate()
    qtbot.mouseClick(card.links, Qt.MouseButton.LeftButton, pos=QPoint(12, card.links.height() // 2))
    assert [u.toString() for u in opened] == [LOOPBACK]

    win.runs.set_local_links(False)  # a session with the real services
    assert card.targets == {} and "<a " not in card.links.text()
    assert f"Open in CodeGen: {LOOPBACK}" in shown_text(card)
    live = deliver(qtbot, win, 402, web_url="https://localhost/admin")
    assert live.targets == {} and "<a " not in live.links.text()
    clicks = click_everywhere(qtbot, card) + click_everywhere(qtbot, live)
    assert [u.toString() for u in opened] == [LOOPBACK]
    threat("links", "services on the user's own machine",
           "a CodeGen URL pointing at 127.0.0.1/localhost (a local admin page, a dev server)",
           "loopback links only in the offline demo (its stand-ins' pages); with the real services shown as text",
           f"demo: the stand-in page opened on a real click; live: no anchor, {clicks} real clicks reached no "
           "opener")
