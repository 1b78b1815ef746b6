"""Live latency per pipeline stage: p50 / p95 / p99 with a p99 sparkline, and a warning when over target.

At the top, the headline: end of speech -> first reply sample to the speaker, with its split (what the
person feels; ``desktop.voice_latency``)."""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from desktop.events import LatencyDrift, MetricsSnapshot, StageSummary
from desktop.metrics import NOT_THE_APPS, STAGES, WARN_MIN_SAMPLES, advice, slow_stages
from desktop.voice_latency import CLIENT_AFTER, CLIENT_BEFORE, HEADLINE, SERVICE, TURN_END_WAIT, headline
from ui import theme

HISTORY = 60  # samples kept per stage (one a second)


class Sparkline(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.values: deque[float] = deque(maxlen=HISTORY)
        self.target: float | None = None
        self.warned = False  # the stage is slow enough to warn about (red); over its goal only: amber
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(120, 26)

    def push(self, value: float, target: float | None, warned: bool = False) -> None:
        self.values.append(value)
        self.target, self.warned = target, warned
        self.update()

    def _colour(self, value: float) -> QColor:
        c = theme.current()
        over = self.target is not None and value > self.target
        return QColor(c.bad if over and self.warned else c.warn if over else c.accent)

    def paintEvent(self, _e: QPaintEvent) -> None:  # noqa: N802 - Qt API
        if not self.values:
            return
        c = theme.current()
        if len(self.values) == 1:  # one sample: a dot at mid height until a trend exists
            p = QPainter(self)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self._colour(self.values[0]))
            p.drawEllipse(QPointF(self.width() - 4, self.height() / 2), 2.5, 2.5)
            p.end()
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width() - 2, self.height() - 4
        lo, hi = min(self.values), max(self.values)
        span = (hi - lo) * 1.3 or max(hi, 1e-6)  # a flat trend sits in the middle of the box
        base = lo - (span - (hi - lo)) / 2

        def y(v: float) -> float:
            return 2 + h * (1 - (v - base) / span)

        n = len(self.values)
        xs = [1 + w * i / (n - 1) for i in range(n)]
        ys = [y(v) for v in self.values]
        if self.target and base <= self.target <= base + span:  # the target line, when it is in view
            p.setPen(QPen(QColor(c.warn), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(1, y(self.target)), QPointF(w + 1, y(self.target)))
        path = QPainterPath(QPointF(xs[0], ys[0]))
        for px, py in zip(xs[1:], ys[1:], strict=True):
            path.lineTo(px, py)
        p.setPen(QPen(self._colour(self.values[-1]), 1.6))
        p.drawPath(path)
        p.end()


def stage_words(name: str) -> str:
    """What a stage measures, in words (its internal name only when it has no description)."""
    desc = STAGES.get(name, ("", None))[0]
    return desc.replace("->", "→") if desc else name


def fmt_ms(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    if v >= 10:
        return f"{v:.0f} ms"
    return f"{v:.1f} ms" if v >= 0.1 else f"{v * 1000:.0f} µs"


class PerfPanel(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Performance")
        self.resize(880, 640)
        self.rows: dict[str, tuple[QLabel, QLabel, QLabel, QLabel, Sparkline, QLabel]] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 18, 20, 18)
        outer.setSpacing(12)
        title = QLabel("Performance")
        title.setObjectName("AppTitle")
        outer.addWidget(title)
        sub = QLabel("Live latency of every pipeline stage, measured inside the app. Targets are p99.")
        sub.setProperty("muted", True)
        outer.addWidget(sub)
        self.headline = QLabel("End of speech → first sound: no spoken turn measured yet")
        self.headline.setObjectName("PerfHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        outer.addWidget(self.headline)
        self.warning = QLabel()
        self.warning.setObjectName("PerfWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        outer.addWidget(self.warning)
        card = QWidget()
        card.setObjectName("Card")
        self.grid = QGridLayout(card)
        self.grid.setContentsMargins(16, 12, 16, 12)
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(8)
        self.grid.setColumnStretch(0, 1)
        self.grid.setRowStretch(len(STAGES) + 40, 1)  # rows stay at the top; the space goes below them
        for col, text in enumerate(("Stage", "n", "p50", "p95", "p99", "trend", "target")):
            h = QLabel(text.upper())
            h.setObjectName("PanelTitle")
            self.grid.addWidget(h, 0, col, Qt.AlignmentFlag.AlignRight if 0 < col < 5 else Qt.AlignmentFlag.AlignLeft)
        self.empty = QLabel("No samples yet: press the push-to-talk key to start measuring.")
        self.empty.setProperty("muted", True)
        self.grid.addWidget(self.empty, 1, 0, 1, 7)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(card)
        outer.addWidget(scroll, 1)
        self.drift = QLabel()  # the session's replies drifting slower (DriftWatch)
        self.drift.setWordWrap(True)
        self.drift.setVisible(False)
        outer.addWidget(self.drift)
        self.network = QLabel()  # bytes each way and whether Gemini accepted compression
        self.network.setProperty("muted", True)
        self.network.setVisible(False)
        outer.addWidget(self.network)
        self.counters = QLabel()
        self.counters.setProperty("muted", True)
        outer.addWidget(self.counters)

    def _row(self, name: str) -> tuple[QLabel, QLabel, QLabel, QLabel, Sparkline, QLabel]:
        row = self.rows.get(name)
        if row is not None:
            return row
        # a new stage: its row goes below the others
        self.empty.setVisible(False)
        r = len(self.rows) + 1
        label = QLabel(f"<b>{stage_words(name)}</b><br>"
                       f"<span style='color:{theme.current().text_muted}; font-size:8pt'>{name}</span>")
        label.setWordWrap(True)
        self.grid.addWidget(label, r, 0)
        p50, p95, p99, count = QLabel(), QLabel(), QLabel(), QLabel()
        for i, cell in enumerate((p50, p95, p99, count)):
            self.grid.addWidget(cell, r, i + 1, Qt.AlignmentFlag.AlignRight)
        spark = Sparkline()
        self.grid.addWidget(spark, r, 5)
        target = QLabel()
        self.grid.addWidget(target, r, 6)
        new = self.rows[name] = (p50, p95, p99, count, spark, target)
        return new

    def show_drift(self, ev: LatencyDrift | None) -> None:
        """The session's replies drifting slower (None: hide it, e.g. after a fresh session)."""
        self.drift.setVisible(ev is not None)
        if ev is not None:
            self.drift.setText(f"⚠  {ev.message} {ev.action}")
            self.drift.setStyleSheet(f"color: {theme.current().warn}; font-weight: 600;")

    def update_snapshot(self, snap: MetricsSnapshot) -> list[str]:
        """Show ``snap``; returns the app's own stages that are slower than their goal (``slow_stages``): only
        those warn.  A stage over its goal that is not the app's alone (the headline holds the person's own
        wait and Gemini's time) or has too few samples yet is marked in amber, without a warning."""
        c = theme.current()
        self._show_headline(snap)
        over = slow_stages(snap)
        for name in sorted(snap.stages, key=lambda n: (n not in STAGES, list(STAGES).index(n) if n in STAGES else 0, n)):
            s: StageSummary = snap.stages[name]
            if not s.count:
                continue
            n, p50, p95, p99, spark, target = self._row(name)
            n.setText(str(s.count))
            p50.setText(fmt_ms(s.p50_ms))
            p95.setText(fmt_ms(s.p95_ms))
            p99.setText(fmt_ms(s.p99_ms))
            bad = name in over
            colour = c.bad if bad else c.warn if s.over_target else c.text
            _restyle(p99, f"color: {colour}; font-weight: 700;")
            spark.push(s.p99_ms, s.target_ms, bad)
            target.setText(("⚠ " if bad else "✓ " if not s.over_target else "") + fmt_ms(s.target_ms)
                           if s.target_ms else "—")
            _restyle(target, f"color: {colour if s.over_target else c.ok if s.target_ms else c.text_muted};")
            target.setToolTip(_target_words(name, s))
        if over:
            self.warning.setText("⚠  Slower than the goal: " + "; ".join(
                f"{stage_words(name)} took {fmt_ms(snap.stages[name].p95_ms)} at p95 over "
                f"{snap.stages[name].count} samples (goal {fmt_ms(snap.stages[name].target_ms or 0)})"
                for name in over) + "\n" + advice(over))
            _restyle(self.warning, f"#PerfWarning {{ color: {c.bad}; border: 1px solid {c.bad};"
                                       f" border-radius: 8px; padding: 8px 12px; font-weight: 600; }}")
        self.warning.setVisible(bool(over))
        from desktop.live import wire  # the engine has loaded it by the time snapshots arrive

        line = wire.network_line(snap.counters)
        self.network.setText(line or "")
        self.network.setVisible(line is not None)
        shown = {k: v for k, v in snap.counters.items() if v and k not in wire.COUNTERS}
        self.counters.setText("  ·  ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(shown.items())))
        return over

    def _show_headline(self, snap: MetricsSnapshot) -> None:
        head = headline({k: {"p50_ms": s.p50_ms, "p95_ms": s.p95_ms} for k, s in snap.stages.items() if s.count})
        if head is None:
            return
        split = head["split_p95_ms"]
        target = STAGES[HEADLINE][1] or 0.0
        c = theme.current()
        colour = c.warn if head["p95_ms"] > target else c.ok  # partly the person's and Gemini's time: no red
        self.headline.setText(
            f"<span style='font-size:15pt; font-weight:700'>End of speech → first sound: "
            f"<span style='color:{colour}'>{fmt_ms(head['p50_ms'])}</span> p50 · {fmt_ms(head['p95_ms'])} p95</span>"
            f"<br><span style='color:{c.text_muted}'>at p95: this app {fmt_ms(head['client_share_p95_ms'])} "
            f"(before the request {fmt_ms(split.get(CLIENT_BEFORE, 0.0))}, after the reply "
            f"{fmt_ms(split.get(CLIENT_AFTER, 0.0))}) · Gemini {fmt_ms(split.get(SERVICE, 0.0))} · key held after "
            f"the last word {fmt_ms(split.get(TURN_END_WAIT, 0.0))} · target {fmt_ms(target)}</span>")


def _target_words(name: str, s: StageSummary) -> str:
    if s.target_ms is None:
        return "No goal: this stage is shown for information"
    if not s.over_target:
        return f"Within its goal ({fmt_ms(s.target_ms)} at p99)"
    if name in NOT_THE_APPS:
        return ("Over the goal, but this time is not only the app's (your own wait after the last word, Gemini, "
                "CodeGen or the network): no warning")
    if s.count < WARN_MIN_SAMPLES:
        return f"Over the goal in {s.count} samples: a warning needs {WARN_MIN_SAMPLES} samples"
    return f"Over the goal at p99 ({fmt_ms(s.p99_ms)}); p95 {fmt_ms(s.p95_ms)}"


def _restyle(widget: QWidget, css: str) -> None:
    """A new style sheet re-polishes the widget: the snapshot arrives every second, so only when it changed."""
    if widget.styleSheet() != css:
        widget.setStyleSheet(css)
