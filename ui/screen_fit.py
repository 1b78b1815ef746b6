"""Windows and dialogs that fit the screen they are on, at any scale (100-200 %, 1366x768 and up).

Sizes in the code are in device-independent pixels; at 200 % a 1440x900 screen is 720x450 of them.  The main
window's designed minimum is shrunk to the screen's available area (its layout can go that small), its first
size is the designed one clamped to that area, and every dialog is clamped and placed inside the available
area of the window it belongs to when it opens.  Below ``COMPACT_HEIGHT`` (1366x768 at 200 % is 683x384) the
main window and its panels take their compact layout (``Spacing``: tighter margins and spacing, a smaller
microphone button, shorter empty states) so the talk bar stays on screen; tall dialog pages scroll
(``scrolling``).
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractScrollArea, QFrame, QLayout, QScrollArea, QVBoxLayout, QWidget

# room for the window manager's frame (title bar and borders), in physical pixels
FRAME_ALLOWANCE = QSize(12, 44)
COMPACT_HEIGHT = 560  # device-independent pixels: below this the window's layout is compact


class Spacing(NamedTuple):
    """A layout's margins (left, top, right, bottom) and spacing, in its normal and its compact form."""

    normal: tuple[int, int, int, int, int]
    compact: tuple[int, int, int, int, int]

    def apply(self, layout: QLayout, compact: bool) -> None:
        *margins, spacing = self.compact if compact else self.normal
        layout.setContentsMargins(*margins)
        layout.setSpacing(spacing)


PANEL_SPACING = Spacing((16, 14, 16, 16, 10), (10, 6, 10, 6, 6))  # the conversation's and the runs' panels
EMPTY_HEIGHT = {False: 120, True: 40}  # a panel's empty-state text (normal, compact)
COMPACT_LIST_HEIGHT = 36  # a panel's lists may get this short (about two lines) in the compact layout


HEADER_HEIGHT = {False: 32, True: 26}  # a panel's header row: the conversation's search field, the runs' title


def compact_panel(panel: QWidget, header: QWidget, empty: QWidget, compact: bool) -> None:
    """A panel (the conversation, the runs) in its normal or compact layout: a lower header, and its lists may
    shrink to two lines (they scroll) where they would otherwise ask for their default minimum."""
    layout = panel.layout()
    if layout is not None:
        PANEL_SPACING.apply(layout, compact)
    header.setFixedHeight(HEADER_HEIGHT[compact])
    empty.setMinimumHeight(EMPTY_HEIGHT[compact])
    for area in panel.findChildren(QAbstractScrollArea):
        area.setMinimumHeight(COMPACT_LIST_HEIGHT if compact else 0)


class ShrinkingColumn(QVBoxLayout):
    """A column for a resizable scroll area that is as short as its minimum when the area is short: with the
    height-for-width of its word-wrapped labels Qt would give it its preferred height and scroll more."""

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt API
        return False


def scrolling(page: QWidget) -> QScrollArea:
    """``page`` in a frameless vertical scroll area: a tall page scrolls where the screen is short."""
    from PySide6.QtCore import Qt  # not at import: the launch frame imports this module before Qt's namespace

    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(page)
    return area


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
