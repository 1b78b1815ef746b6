"""A tiny load test against a Live emulator in a child process: report shape, clean-up, the markdown."""

from __future__ import annotations

import psutil
import pytest

from desktop.cli import main
from devtools import loadtest


@pytest.fixture(scope="module")
def report() -> dict:
    return loadtest.run_scenario("normal", sessions=3, duration_s=6)


def test_report_shape_and_numbers(report: dict) -> None:
    assert report["scenario"] == "normal" and report["sessions"] == 3
    assert report["connected"] == 3 and report["connect_failures"] == 0
    assert report["turns"] >= 3 and report["turns_ok"] == report["turns"]
    assert report["error_rate"] == 0.0
    t, a = report["turn_latency_ms"], report["client_added_ms"]
    assert 400 <= t["p50"] <= t["p95"] <= t["p99"] <= t["max"] < 5000  # model delay 400 ms
    assert 0 <= a["p50"] <= a["p95"] <= a["p99"]
    if "+codegen" in report["key"]:  # tool calls went to the CodeGen emulator (both children ran)
        assert len(report["child_pids"]) == 2 and report["tool_calls"] >= report["turns"]
        assert report["codegen_requests"] > 0 and report["codegen_requests_per_min"] > 0
    else:  # Live only: what is left after the model delay is the client's share
        assert t["p50"] - a["p50"] == pytest.approx(400, abs=50)
    assert 0 < report["cpu_percent_of_one_core"] < 200 and report["rss_mb"]["peak"] > 0
    assert {"errors_under_1_percent", "cpu_under_70_percent", "turn_p95_under_2_s"} <= set(report["checks"])
    assert report["stages"]["live.activity_end_to_first_audio"]["count"] == report["turns_ok"]
    v = report["voice_latency_ms"]  # the headline: end of speech -> first sound, and the client's share
    assert 400 <= v["p50_ms"] <= v["p95_ms"] < 5000 and 0 <= v["client_share_p95_ms"] < v["p95_ms"]
    assert set(v["split_p95_ms"]) == {"voice.turn_end_wait", "voice.client_before", "voice.service",
                                      "voice.client_after"}
    assert report["stages"]["live.client_added"]["count"] == report["turns_ok"]
    assert report["counters"]["messages_sent"] > 100


def test_child_processes_are_gone(report: dict) -> None:
    assert report["child_pids"]
    for pid in report["child_pids"]:
        assert not psutil.pid_exists(pid)


def test_markdown_sections_are_rewritten_in_place(report: dict, tmp_path) -> None:
    path = tmp_path / "loadtest.md"
    key = report["key"]
    loadtest.write_docs(path, {**report, "scenario": "peak", "key": "peak", "description": "peak run"})
    loadtest.write_docs(path, report)
    loadtest.write_docs(path, {**report, "turns": 12345})
    text = path.read_text()
    assert text.startswith("# Load test results")
    assert text.count(f"<!-- loadtest:{key} -->") == 1 and text.count("<!-- loadtest:peak -->") == 1
    assert text.index(f"loadtest:{key}") < text.index("loadtest:peak")  # scenario order
    assert "| turns (ok) | 12345 (" in text
    assert "| end of speech -> first sound p50 / p95 (client's share at p95) | " in text


def test_slope() -> None:
    assert loadtest.slope_per_min([(0, 100.0), (60, 101.0), (120, 102.0)]) == pytest.approx(1.0)
    assert loadtest.slope_per_min([(0, 5.0)]) == 0.0


def test_bad_flags_are_one_line_errors(capsys) -> None:
    assert main(["loadtest", "--sessions", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "gemini-codegen: error: --sessions must be between 1 and 1000"
