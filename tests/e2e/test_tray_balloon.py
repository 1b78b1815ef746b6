"""The tray's notification is readable: where the desktop has no notification service Qt shows its own balloon,
light yellow whatever the theme, and the dark theme's light text on it could not be read.  On the real X
display with a window manager that has a system tray (fluxbox)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from ui import theme
from ui.tray import Tray


def luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def balloon() -> QWidget | None:
    return next((w for w in QApplication.topLevelWidgets()
                 if w.metaObject().className() == "QBalloonTip" and w.isVisible()), None)


def test_the_tray_balloon_is_readable_in_both_themes(qtbot, qapp):
    tray = Tray()
    qtbot.waitUntil(lambda: tray.icon.isVisible(), timeout=5000)
    try:
        for dark in (True, False):
            theme.apply(qapp, dark=dark)
            assert tray.notify("Run #1001 finished", "Run 1001 is done and opened pull request #42.")
            qtbot.waitUntil(lambda: balloon() is not None, timeout=5000)
            tip = balloon()
            assert tip is not None
            background = tip.palette().color(QPalette.ColorRole.Window)
            words = [lab for lab in tip.findChildren(QLabel) if lab.text()]
            assert {lab.text() for lab in words} >= {"Run #1001 finished",
                                                     "Run 1001 is done and opened pull request #42."}
            for lab in words:  # WCAG AA for normal text: 4.5:1
                ink = lab.palette().color(QPalette.ColorRole.WindowText)
                assert contrast(ink, background) >= 4.5, (dark, lab.text(), ink.name(), background.name())
            tip.close()
            qtbot.waitUntil(lambda: balloon() is None, timeout=5000)
    finally:
        tray.icon.hide()
        theme.apply(qapp, dark=True)
