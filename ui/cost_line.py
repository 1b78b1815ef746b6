"""The header's cost line: this session's and today's tokens with their estimated price, in one line.

Plain text (our own numbers, shown the way service text is: ``PlainLabel``), and never the reason the window
is wider: in a narrow window it says less (the prices without the token counts, then today's price alone)
and only then elides.  The whole line is the accessible name, and the tool tip says it all (by side, the
price table's date and where to change it).  Hidden until the first totals come.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.cost_meter import cost_details, cost_line
from desktop.events import CostUpdate
from desktop.pricing import PriceTable, dollars
from ui.plain_text import PlainLabel, tooltip


class CostLine(PlainLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.line = ""
        self.shorter: tuple[str, ...] = ()  # what a narrower window shows instead, longest first
        self.setProperty("muted", True)
        self.setProperty("elided", True)  # fits its text to its width by design (the layout check knows)
        self.setStyleSheet("font-size: 9pt;")
        self.setMinimumWidth(1)  # elided rather than widening the header
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Estimated cost")
        self.hide()

    def show_update(self, update: CostUpdate, prices: PriceTable | None = None) -> None:
        self.line = cost_line(update)
        self.shorter = (f"Estimated: {dollars(update.session_usd)} this session · {dollars(update.today_usd)} today",
                        f"Estimated today: {dollars(update.today_usd)}")
        details = cost_details(update, prices)
        self.setAccessibleName(self.line)
        self.setAccessibleDescription(details)
        self.setToolTip(tooltip(details))
        self.updateGeometry()  # the whole line may want more room: the header lays out again, then it fits
        self._fit()
        self.show()

    def sizeHint(self):  # noqa: N802 - Qt API: the whole line, whatever is painted now
        hint = super().sizeHint()
        hint.setWidth(self.fontMetrics().horizontalAdvance(self.line) + 4)
        return hint

    def resizeEvent(self, e) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(e)
        self._fit()

    def _fit(self) -> None:
        metrics, width = self.fontMetrics(), max(1, self.width())
        text = next((t for t in (self.line, *self.shorter) if metrics.horizontalAdvance(t) <= width), None)
        if text is None:
            text = metrics.elidedText(self.shorter[-1] if self.shorter else self.line, Qt.TextElideMode.ElideRight,
                                      width)
        if text != self.text():
            self.setText(text)
