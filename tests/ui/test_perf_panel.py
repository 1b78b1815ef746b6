"""The performance panel's network line: bytes each way and whether Gemini accepted compression."""

from __future__ import annotations

from desktop.events import MetricsSnapshot
from ui.perf_panel import PerfPanel


def test_network_line_shows_bytes_and_compression_and_keeps_the_counters_line_short(qtbot):
    panel = PerfPanel()
    qtbot.addWidget(panel)
    panel.update_snapshot(MetricsSnapshot({}, {"messages_sent": 3}))
    assert panel.network.isHidden() and "messages sent: 3" in panel.counters.text()
    counters = {"messages_sent": 140, "wire_bytes_up": 87_000, "payload_bytes_up": 129_000,
                "wire_bytes_down": 77_000, "payload_bytes_down": 134_000, "deflate_offered": 1, "deflate_accepted": 1}
    panel.update_snapshot(MetricsSnapshot({}, counters))
    text = panel.network.text()
    assert not panel.network.isHidden()
    assert "87.00 kB (0.67 of 129.00 kB) sent" in text and "compression on" in text
    assert "wire" not in panel.counters.text() and "deflate" not in panel.counters.text()
    panel.update_snapshot(MetricsSnapshot({}, {**counters, "deflate_offered": 2}))
    assert "on for 1 of 2 connections" in panel.network.text()
    panel.update_snapshot(MetricsSnapshot({}, {**counters, "deflate_accepted": 0}))
    assert "declined by the server" in panel.network.text()
