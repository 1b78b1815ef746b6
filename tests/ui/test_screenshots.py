"""Screenshots of the offline demo, settings and the performance panel, from the real window offscreen
(the listening and run-in-progress pictures are taken by the push-to-talk end-to-end test)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import save_shot
from ui import theme


def test_screenshots_of_ready_settings_and_performance(qtbot, window, shots):
    win = window
    qtbot.waitUntil(lambda: win.conversation.history_done, timeout=5000)  # the (empty) history has loaded
    save_shot(win, shots / "offline-demo-ready.png")
    app = QApplication.instance()
    try:  # the light variant, as on a desktop in light mode
        theme.apply(app, dark=False)
        win.restyle()
        save_shot(win, shots / "offline-demo-ready-light.png")
        assert win.grab().toImage().pixelColor(5, 5).lightness() > 200
    finally:
        theme.apply(app, dark=True)
        win.restyle()

    dlg = win.open_settings()
    qtbot.waitUntil(dlg.isVisible, timeout=2000)
    save_shot(dlg, shots / "settings.png")
    dlg.reject()

    # a few turns, then the panel shows the engine's live per-second metric snapshots
    for _ in range(3):
        qtbot.keyPress(win.conversation, Qt.Key.Key_Space)
        win.bridge.feed_silence(300)
        qtbot.wait(60)
        qtbot.keyRelease(win.conversation, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not win.listening, timeout=2000)  # a release is held back 30 ms (auto-repeat)
        win.bridge.feed_silence(300)
        qtbot.waitUntil(lambda: win.state != "listening", timeout=3000)
    qtbot.waitUntil(lambda: "ui.key_to_paint" in win.perf.rows and len(win.perf.rows["ui.key_to_paint"][4].values) >= 3,
                    timeout=6000)
    win.perf.show()
    qtbot.waitExposed(win.perf)
    save_shot(win.perf, shots / "performance.png")
    assert not win.perf.rows["ui.key_to_paint"][3].text() == ""
    win.perf.hide()
