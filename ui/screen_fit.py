"""Windows and dialogs that fit the screen they are on, at any scale (100-200 %, 1366x768 and up).

Sizes in the code are in device-independent pixels; at 200 % a 1440x900 screen is 720x450 of them.  The main
window's designed minimum is shrunk to the screen's available area (its layout can go that small), its first
size is the designed one clamped to that area, and every dialog is clamped and placed inside the available
area of the window it belongs to when it opens.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

# room for the window manager's frame (title bar and borders), in physical pixels
FRAME_ALLOWANCE = QSize(12, 44)


def available(widget: QWidget) -> QRect:
    """The screen area ``widget`` may use (no panels or docks), in device-independent pixels; the frame's
    allowance is taken off its size."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    area = screen.availableGeometry()
    dpr = max(1.0, screen.devicePixelRatio())
    return area.adjusted(0, 0, -round(FRAME_ALLOWANCE.width() / dpr), -round(FRAME_ALLOWANCE.height() / dpr))


def first_size(window: QWidget, preferred: tuple[int, int]) -> QSize:
    """The preferred size, as far as the screen allows (the launch frame and the main window open at it)."""
    return QSize(*preferred).boundedTo(available(window).size())


def fit_main_window(window: QWidget, preferred: tuple[int, int], minimum: tuple[int, int]) -> None:
    """The designed minimum, as far as the screen allows, and the preferred size within the screen."""
    small = QSize(*minimum).boundedTo(available(window).size())
    window.setMinimumSize(small)
    size = first_size(window, preferred).expandedTo(small)
    if window.size() != size and not window.isVisible():
        window.resize(size)


def fit_dialog(dialog: QWidget) -> None:
    """``dialog`` no larger than the available area and placed inside it (centred on its parent, if it has
    one, as far as the screen allows)."""
    parent = dialog.parentWidget()
    area = available(parent.window() if parent is not None else dialog)
    size = dialog.size().boundedTo(area.size()).expandedTo(dialog.minimumSize().boundedTo(area.size()))
    if size != dialog.size():
        dialog.setMinimumSize(dialog.minimumSize().boundedTo(area.size()))
        dialog.resize(size)
    geo = QRect(dialog.pos(), dialog.size())
    if parent is not None:
        geo.moveCenter(parent.window().frameGeometry().center())
    x = min(max(geo.x(), area.x()), area.right() + 1 - geo.width())
    y = min(max(geo.y(), area.y()), area.bottom() + 1 - geo.height())
    if (x, y) != (dialog.x(), dialog.y()):
        dialog.move(x, y)
