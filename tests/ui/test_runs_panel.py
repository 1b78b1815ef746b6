"""The runs panel follows RunUpdate / RunStep / RunFinished from the engine's bus: status chip, elapsed
time, links, latest steps of the focused run, a notification when a run ends while the window is away."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt

from desktop.events import PullRequest, RunFinished, RunStep, RunUpdate
from ui.runs_panel import format_elapsed, parse_created


def test_run_card_lifecycle(qtbot, window):
    win, bridge = window, window.bridge
    created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 75))
    assert not win.runs._clock.isActive()  # no run going: the elapsed-time clock does not tick
    bridge.post(RunUpdate(101, "RUNNING", "running", prompt="Fix the flaky login test in api",
                          web_url="https://codegen.example/runs/101", created_at=created))
    qtbot.waitUntil(lambda: 101 in win.runs.cards, timeout=3000)
    card = win.runs.cards[101]
    assert card.chip.text() == "Running" and card.elapsed.text().startswith("1m")
    assert win.runs._clock.isActive()
    assert win.runs.focused == 101  # the first run is focused
    for i, text in enumerate(["Cloning repository", "Running tests", "Found flaky wait in login_test.py"]):
        bridge.post(RunStep(101, i, "ACTION", text))
    qtbot.waitUntil(lambda: "flaky wait" in card.steps.text(), timeout=3000)
    assert not card.steps.isHidden()

    bridge.post(RunUpdate(102, "RUNNING", "running", prompt="Add a unit test for password reset"))
    qtbot.waitUntil(lambda: 102 in win.runs.cards, timeout=3000)
    other = win.runs.cards[102]
    focused: list[int] = []
    win.runs.focus_requested.connect(focused.append)
    qtbot.mouseClick(other, Qt.MouseButton.LeftButton)
    assert focused == [102] and other.focused and not card.focused and card.steps.isHidden()

    notes: list[tuple[str, str]] = []
    win.notified.connect(lambda t, m: notes.append((t, m)))
    bridge.post(RunUpdate(101, "COMPLETE", "done", summary="Opened a pull request",
                          pull_requests=(PullRequest("Fix flaky login test", "https://git.example/pr/7"),)))
    bridge.post(RunFinished(101, "done", "Opened a pull request"))
    qtbot.waitUntil(lambda: card.category == "done" and bool(notes), timeout=3000)
    assert card.chip.text() == "Done" and "https://git.example/pr/7" in card.links.text()
    assert "Open in CodeGen" in card.links.text()  # kept from the first update
    assert notes[0][0] == "Run #101 finished"
    frozen = card.elapsed.text()
    card.tick()
    assert card.elapsed.text() == frozen  # a finished run's time stops
    assert win.runs._clock.isActive()  # 102 is still going
    bridge.post(RunFinished(102, "failed", "Tests failed"))
    qtbot.waitUntil(lambda: other.category == "failed", timeout=3000)
    assert not win.runs._clock.isActive()  # nothing going: the clock stops


def test_elapsed_and_created_parsing():
    assert format_elapsed(5) == "5s" and format_elapsed(125) == "2m 05s" and format_elapsed(3720) == "1h 02m"
    assert parse_created("2026-01-01T00:00:00Z") == parse_created("2026-01-01T00:00:00+00:00")
    assert parse_created("not a date") is None and parse_created("") is None


def test_closing_while_a_run_is_going_asks_when_there_is_no_tray(qtbot, window):
    from PySide6.QtWidgets import QMessageBox

    win = window
    assert not win.tray.available  # offscreen: no system tray
    win.runs.on_update(RunUpdate(1001, "RUNNING", "running", "Fix the flaky login test"))
    win.close()
    assert win.isVisible() and win.bridge.running  # not closed: asked first
    box = win.quit_box
    assert isinstance(box, QMessageBox) and "#1001" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert win.isVisible() and win.bridge.running
    win.close()
    quit_button = next(b for b in win.quit_box.buttons() if b.text() == "Quit")
    quit_button.click()
    qtbot.waitUntil(lambda: not win.isVisible() and not win.bridge.running, timeout=10_000)


def test_a_reused_run_id_gets_a_fresh_card_with_nothing_of_the_old_run(qtbot, window):
    win, bridge = window, window.bridge
    bridge.post(RunUpdate(301, "COMPLETE", "done", prompt="Fix the login test", summary="Fixed",
                          web_url="https://codegen.example/runs/301", created_at="2026-01-01T10:00:00+00:00"))
    bridge.post(RunStep(301, 0, "ACTION", "edited login_test.py"))
    qtbot.waitUntil(lambda: 301 in win.runs.cards and "login_test" in win.runs.cards[301].steps.text(), timeout=3000)
    card = win.runs.cards[301]
    bridge.post(RunUpdate(301, "RUNNING", "running", prompt="Bump the version",
                          created_at="2026-01-02T09:00:00+00:00"))
    qtbot.waitUntil(lambda: card.last is not None and card.last.prompt == "Bump the version", timeout=3000)
    assert card.chip.text() == "Running" and card.ended is None
    assert card.last.summary == "" and card.last.web_url == "" and card.steps.text() == ""
