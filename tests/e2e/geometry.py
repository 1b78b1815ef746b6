"""Clipping and overlap, read from the widgets' real geometry (not from pixels).

``layout_problems(window)`` lists every visible widget that does not fit: outside its parent (for content
inside a scroll area: wider than the viewport, since those scroll only vertically), a label whose text is
cut (one line narrower than its text, or a wrapped label shorter than its text needs), a button narrower
than its text, or two sibling widgets that overlap.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QScrollArea, QWidget

SLACK = 2  # pixels of rounding


def _name(w: QWidget) -> str:
    text = ""
    if isinstance(w, QLabel | QAbstractButton):
        text = w.text()[:30]
    return f"{type(w).__name__}({w.objectName() or ''}{' ' + repr(text) if text else ''})"


def _scroll_viewport(w: QWidget) -> QWidget | None:
    """The viewport of the scroll area whose content holds ``w`` (None if none)."""
    child, p = w, w.parentWidget()
    while p is not None:
        area = p.parentWidget()
        if isinstance(area, QScrollArea) and p is area.viewport() and child is area.widget():
            return p
        child, p = p, area
    return None


def _visible_children(w: QWidget) -> list[QWidget]:
    return [c for c in w.findChildren(QWidget) if c.isVisibleTo(w.window()) and c.isVisible()]


def layout_problems(window: QWidget) -> list[str]:
    problems: list[str] = []
    for w in _visible_children(window):
        if w.width() <= 0 or w.height() <= 0 or w.isWindow():
            continue
        parent = w.parentWidget()
        if parent is None:
            continue
        viewport = _scroll_viewport(w)
        if viewport is not None and not isinstance(parent, QScrollArea):
            left = w.mapTo(viewport, w.rect().topLeft()).x()
            right = w.mapTo(viewport, w.rect().topRight()).x()
            if left < -SLACK or right > viewport.width() + SLACK:
                problems.append(f"{_name(w)} sticks out of its scroll area horizontally "
                                f"({left}..{right} in {viewport.width()})")
        elif not QRect(-SLACK, -SLACK, parent.width() + 2 * SLACK, parent.height() + 2 * SLACK).contains(
                w.geometry()):
            problems.append(f"{_name(w)} {w.geometry().getRect()} is clipped by {_name(parent)} "
                            f"{parent.width()}x{parent.height()}")
        if isinstance(w, QLabel) and w.text() and w.pixmap().isNull():
            if w.wordWrap():
                need = w.heightForWidth(w.width())
                if need > w.height() + SLACK:
                    problems.append(f"{_name(w)} needs {need} px of height, has {w.height()}")
            elif w.sizeHint().width() > w.width() + SLACK and not w.property("elided"):
                problems.append(f"{_name(w)} text needs {w.sizeHint().width()} px, has {w.width()}")
        if isinstance(w, QAbstractButton) and w.text() and w.minimumSizeHint().width() > w.width() + SLACK:
            problems.append(f"{_name(w)} needs {w.minimumSizeHint().width()} px, has {w.width()}")
        if isinstance(w, QLineEdit) and w.width() < 60:
            problems.append(f"{_name(w)} is only {w.width()} px wide")
    for parent in [window, *_visible_children(window)]:
        kids = [c for c in parent.children() if isinstance(c, QWidget) and c.isVisible() and not c.isWindow()
                and c.width() > 0 and c.height() > 0]
        for i, a in enumerate(kids):
            for b in kids[i + 1:]:
                if a.property("overlay") or b.property("overlay"):
                    continue
                overlap = a.geometry().intersected(b.geometry())
                if overlap.width() > SLACK and overlap.height() > SLACK:
                    problems.append(f"{_name(a)} overlaps {_name(b)} in {_name(parent)}")
    return problems
