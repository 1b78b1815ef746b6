"""Run in a child process (Qt picks its scale once per process): the window and every dialog on a screen of
the given size and scale; prints their geometries as JSON for tests/ui/test_high_dpi.py."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def main() -> None:
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication(sys.argv[:1])
    from desktop.config import Settings
    from desktop.events import ConfirmationAsked, ConfirmationClosed
    from ui import theme
    from ui.bridge import EngineBridge
    from ui.main_window import MainWindow

    theme.apply(app, dark=True)
    win = MainWindow(Settings(), EngineBridge(use_audio_devices=False))
    win.show()
    app.processEvents()
    screen = win.screen()
    out: dict = {"dpr": screen.devicePixelRatio(), "available": rect(screen.availableGeometry()),
                 "window": rect(win.frameGeometry()), "minimum": [win.minimumWidth(), win.minimumHeight()],
                 "content_minimum": [win.centralWidget().minimumSizeHint().width(),
                                     win.centralWidget().minimumSizeHint().height()]}
    bar = win.ptt.parentWidget()
    assert isinstance(bar, QWidget)

    def bottom_of(w: QWidget) -> list[int]:
        corner = w.mapTo(win, w.rect().bottomRight())
        return [corner.x(), corner.y()]

    out["talk_bar_bottom"] = bottom_of(bar)
    out["window_inner"] = [win.width(), win.height()]
    out["compact"] = win.compact
    # a banner and a request read back (the confirmation card over the talk bar): the card's buttons are in view
    # (what does not fit scrolls between the header and the talk bar) and the talk bar is on screen
    win.messages.show_notice("not-ready", "Not connected yet: wait for Ready, or type.", "warn", "Not connected")
    win.show_read_back(ConfirmationAsked(1, "create", "Create a pull request that fixes the flaky login test in "
                                         "the api repository, and add a test that shows it " * 3, repo="acme/api"))
    for _ in range(3):
        app.processEvents()
    view = win.body.viewport()
    start = win.confirm_card.start
    corners = (start.mapTo(view, start.rect().topLeft()), start.mapTo(view, start.rect().bottomRight()))
    out["with_card"] = {"start_in_view": all(view.rect().contains(c) for c in corners) and start.isVisible(),
                        "scrolls": win.body.verticalScrollBar().maximum() > 0,
                        "talk_bar_bottom": bottom_of(bar), "window_inner": [win.width(), win.height()]}
    if os.environ.get("HIGH_DPI_SHOTS") and os.environ.get("GEMINI_CODEGEN_SCREENSHOTS"):
        win.grab().save(str(Path(os.environ["GEMINI_CODEGEN_SCREENSHOTS"])
                            / f"window-read-back-{os.environ['HIGH_DPI_SHOTS']}.png"))
    win.confirm_card.close_ask(ConfirmationClosed(1, "started"))
    app.processEvents()
    dialogs = {"settings": win.open_settings, "performance": lambda: (win.perf.show(), win.perf)[1],
               "keyboard": win.show_keyboard_help, "quit": lambda: win._ask_to_quit([1001])}
    out["dialogs"] = {}
    shots = os.environ.get("GEMINI_CODEGEN_SCREENSHOTS") if os.environ.get("HIGH_DPI_SHOTS") else None
    if shots:  # the window as it opens at this scale, in the screen's pixels
        win.grab().save(str(Path(shots) / f"window-{os.environ['HIGH_DPI_SHOTS']}.png"))
    for name, open_it in dialogs.items():
        dlg = open_it()
        app.processEvents()
        if shots and name in ("settings", "keyboard"):
            dlg.grab().save(str(Path(shots) / f"{name}-{os.environ['HIGH_DPI_SHOTS']}.png"))
        out["dialogs"][name] = {"frame": rect(dlg.frameGeometry()), "geometry": rect(dlg.geometry()),
                                "content_minimum": [dlg.minimumSizeHint().width(), dlg.minimumSizeHint().height()]}
        dlg.hide()
    win.quit()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
