"""The performance panel: the headline (end of speech -> first sound) and its split at the top, and the network
line (bytes each way and whether Gemini accepted compression)."""

from __future__ import annotations

import re

from desktop.events import MetricsSnapshot
from desktop.metrics import Metrics
from desktop.voice_latency import VoiceLatency
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


def test_the_headline_and_its_split_lead_the_panel(qtbot):
    panel = PerfPanel()
    qtbot.addWidget(panel)
    metrics = Metrics()
    panel.update_snapshot(metrics.snapshot())
    assert "no spoken turn measured yet" in panel.headline.text()
    # speech ends at 0; key up 150 ms later; activityEnd 5 ms after; first audio +400 ms; first sample +10 ms
    VoiceLatency(speech_end=0.0, activity_end_sent=0.155, first_audio=0.555, first_sound=0.565,
                 released=0.150).record(metrics)
    over = panel.update_snapshot(metrics.snapshot())
    text = panel.headline.text()
    assert "End of speech → first sound" in text
    # (the histograms report within 1.6 % of the true value)
    p50 = float(re.search(r"(\d+) ms</span> p50", text).group(1))
    gemini = float(re.search(r"Gemini (\d+) ms", text).group(1))
    mine = float(re.search(r"this app (\d+(?:\.\d)?) ms", text).group(1))
    assert abs(p50 - 565) <= 10 and abs(gemini - 400) <= 7 and abs(mine - 15) <= 1
    assert "key held after the last word 150 ms" in text
    assert over == []  # 565 ms is under the 1 s target
    # the headline's stage is also the first row of the table
    assert next(iter(panel.rows)) == "voice.speech_end_to_first_sound"
