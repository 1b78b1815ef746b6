"""The real window at its default and minimum sizes: nothing clipped, cut or overlapping (widget geometry),
the conversation opened at its latest turn, earlier runs shown (one the service no longer knows marked as
such).  Screenshots of the real X window go to $GEMINI_CODEGEN_SCREENSHOTS (`make screenshots`: docs/)."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication

from desktop.config import Settings
from desktop.events import EventBus, PullRequest, RunUpdate
from desktop.state.recorder import Recorder
from desktop.state.store import open_store
from tests.e2e.geometry import layout_problems
from tests.ui.test_history import seed_history
from ui.main_window import DEFAULT_SIZE, MINIMUM_SIZE, NARROW
from ui.settings_dialog import SettingsDialog


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


def _seed_runs() -> None:
    """An earlier session's runs: one finished, one the service never heard of (still 'running' here)."""
    store = open_store(Settings())
    bus = EventBus()
    rec = Recorder(store).attach(bus)
    bus.emit(RunUpdate(990, "COMPLETE", "done", "Bump the version of the api package and update the changelog",
                       "Done: bumped the version and updated the changelog. Opened a pull request.",
                       "http://127.0.0.1:9/demo/runs/990",
                       (PullRequest("Bump the api package version to 2.4.1 and note it in the changelog",
                                    "http://127.0.0.1:9/demo/pulls/990"),), _iso(time.time() - 3 * 3600), time.time() - 3 * 3600 + 754))
    bus.emit(RunUpdate(991, "RUNNING", "running", "Add a regression test for the session cookie expiry in the "
                       "login flow of the api repository", "", "", (), _iso(time.time() - 600), time.time() - 540))
    rec.close()
    store.close()


def _resize(app, qtbot, w: int, h: int) -> None:
    app.x.xdotool("windowsize", str(int(app.win.winId())), str(w), str(h))
    qtbot.waitUntil(lambda: (app.win.width(), app.win.height()) == (max(w, MINIMUM_SIZE[0]),
                                                                     max(h, MINIMUM_SIZE[1])), timeout=5000)
    qtbot.wait(200)  # the layout settles (wrapped labels take a second pass)


def test_default_and_minimum_size_render_without_clipping(person, qtbot):
    seed_history(24)
    _seed_runs()
    app = person()
    win = app.win
    conv, bar = win.conversation, win.conversation.scroller.verticalScrollBar()
    qtbot.waitUntil(lambda: conv.oldest_history_id is not None and conv._anchor is None, timeout=10_000)
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # opened at the latest turn
    assert QApplication.focusWidget() is win.root and not conv.search.hasFocus()  # ready to talk, not to search
    qtbot.waitUntil(lambda: {990, 991} <= set(win.runs.cards), timeout=10_000)
    qtbot.waitUntil(lambda: win.runs.cards[991].category == "missing", timeout=20_000)
    assert win.runs.cards[991].chip.text() == "Not found"  # shown and marked, not hidden

    assert (win.width(), win.height()) == DEFAULT_SIZE
    assert layout_problems(win) == []
    app.shot("window-default.png")

    _resize(app, qtbot, 320, 240)  # smaller than allowed (a window manager may let it): the window holds its minimum
    assert (win.width(), win.height()) == MINIMUM_SIZE and win.width() < NARROW
    assert win.split.orientation().name == "Vertical"  # the runs panel under the conversation
    assert layout_problems(win) == []
    assert bar.value() == bar.maximum()
    app.shot("window-minimum.png")

    _resize(app, qtbot, *DEFAULT_SIZE)
    assert win.split.orientation().name == "Horizontal" and layout_problems(win) == []

    app.click(win.settings_button)  # the dialogs, as they open on the real display
    qtbot.waitUntil(lambda: any(d.isVisible() for d in win.findChildren(SettingsDialog)), timeout=5000)
    (dlg,) = [d for d in win.findChildren(SettingsDialog) if d.isVisible()]
    qtbot.waitExposed(dlg)
    dlg.show_tab("audio")
    qtbot.wait(200)
    assert layout_problems(dlg) == []
    app.shot("settings.png", dlg)
    dlg.reject()
    app.click(win.perf_button)
    qtbot.waitUntil(lambda: win.perf.isVisible() and bool(win.perf.rows), timeout=10_000)
    qtbot.waitExposed(win.perf)
    qtbot.wait(200)
    app.shot("performance.png", win.perf)
    win.perf.hide()
