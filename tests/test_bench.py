"""The benchmark's report and the documents generated from it (short sections only; CI runs --quick)."""

from devtools.bench import run_bench
from devtools.perfdocs import write_performance_docs


def test_bench_sections_report_rows_and_write_the_docs(tmp_path):
    report = run_bench(quick=True, only=["metrics", "encode", "codegen"], progress=lambda s: None)
    data = report.as_dict()
    assert data["sections"]["metrics"]["record_ns_median"] > 0
    names = {r["name"] for r in data["comparisons"]}
    assert "encode one 20 ms audio message" in names and "HTTP requests for 50 concurrent reads of one run" in names
    coalescing = next(r for r in data["comparisons"] if r["name"].startswith("HTTP requests for 50"))
    assert coalescing["baseline"] == 50 and coalescing["optimized"] == 1
    paths = write_performance_docs(data, tmp_path)
    perf = (tmp_path / "performance.md").read_text()
    guide = (tmp_path / "optimization-guide.md").read_text()
    assert "| encode one 20 ms audio message |" in perf and data["date"] in perf
    assert "Single-flight coalescing" in guide and "**50.00x**" in guide
    assert all(p.exists() for p in paths)


def test_a_failing_section_is_reported_not_fatal(monkeypatch):
    import devtools.bench as bench

    def broken(report):
        raise RuntimeError("boom")

    monkeypatch.setattr(bench, "SECTIONS", [("broken", broken), ("metrics", bench.bench_metric_record)])
    data = bench.run_bench(quick=True, progress=lambda s: None).as_dict()
    assert data["sections"]["broken"] == {"error": "RuntimeError: boom"}
    assert "record_ns_median" in data["sections"]["metrics"]


def test_network_section_measures_bytes_and_compression_and_writes_the_guide(tmp_path):
    """One profile, one spoken turn: the section's rows, its decision and the documents generated from it."""
    import shutil

    from devtools.bench import _send_cpu_ours
    from devtools.bench_core import ROOT, emulator_process
    from devtools.bench_network import network_section
    from devtools.network_docs import update_scalability
    from devtools.perfdocs import render_guide

    section, rows = network_section(True, emulator_process, _send_cpu_ours, profiles=("saver",), fixtures=("status",))
    saver = section["profiles"]["saver"]
    up_row = next(r for r in rows if r.name.startswith("uplink bytes per minute of talking, saver"))
    assert up_row.optimized < 0.85 * up_row.baseline  # huffman on the noisy room's audio
    assert saver["decision"]["configured"] == "huffman" and "battery" in saver["decision"]["reason"]
    assert saver["conversation_on"]["compression"]["accepted"].startswith("permessage-deflate")
    assert saver["conversation_off"]["noisy"]["turns"] == 1
    if "tcp_measured" in saver["conversation_off"]["noisy"]:  # Linux: kernel bytes = estimate + TLS handshake
        for side in ("up", "down"):  # (the handshake's ECDSA signature varies by a byte or two)
            diffs = [c["tcp_measured"][f"minus_estimate_{side}"] for c in (
                saver["conversation_off"]["noisy"], saver["conversation_off"]["clean"], saver["conversation_on"])]
            assert 0 < min(diffs) and max(diffs) - min(diffs) <= 8 and max(diffs) < 4096, diffs
    data = {"date": "today", "machine": {"cpu": "cpu", "cores": 2}, "comparisons": [r.as_dict() for r in rows],
            "sections": {"network": section}}
    guide = render_guide(data)
    assert "## Network and compression" in guide and "**saver**: huffman" in guide
    assert "No audio codec on the uplink" in guide
    shutil.copy(ROOT / "docs" / "scalability.md", tmp_path / "scalability.md")
    for _ in range(2):  # the generated block replaces itself
        update_scalability(tmp_path / "scalability.md", section)
    text = (tmp_path / "scalability.md").read_text()
    assert text.count("<!-- bench:network -->") == 1 and "## Network: per user and for N users" in text
    assert "## CodeGen: per organisation" in text  # the hand-written part is kept


async def test_run_update_freshness_is_measured_per_leg_and_the_focus_meets_its_goals():
    """A short version of `bench --only run_updates`: detection on simulated time for the run in focus and the
    others, the real legs (card painted, news -> Gemini's first audio), and the sums."""
    from desktop.codegen.tracker import Intervals
    from desktop.live.protocol import live_url
    from devtools import bench_run_updates as ru
    from devtools.bench_ui import run_update_to_paint
    from tests.standins import client_tls, live_emulator

    focused = await ru.detection(Intervals(), 2)
    unfocused = await ru.detection(Intervals(), 2, focus=False)
    paint = run_update_to_paint(5)
    async with live_emulator(model_delay_s=0.05, speedup=50) as emu:
        speech = await ru.news_to_speech(live_url(emu.url), client_tls(), 2)
    assert len(paint) == 5 and all(0 < s < 1 for s in paint) and all(0.05 <= s < 2 for s in speech)
    section = ru.freshness_section(focused, paint, speech)
    assert section["focused"]["card"]["n"] == 6 and section["focused"]["spoken"]["n"] == 4  # 3 changes, 2 news
    assert section["focused"]["card"]["p95_s"] <= ru.CARD_GOAL_S and section["focused"]["spoken"]["p95_s"] <= ru.SPOKEN_GOAL_S
    assert section["others"]["card"]["n"] > 20 and 0 < section["requests_per_minute"]
    assert unfocused.per_minute <= ru.BUDGET_PER_MIN < focused.per_minute  # the run in focus is what costs


def test_key_to_paint_presses_the_key_like_a_person_and_each_press_is_its_own_turn():
    """A short `bench --only ui`: every press is painted, and every release (held back for the auto-repeat
    window, as on a real X server) ends its turn before the next press."""
    from devtools.bench_ui import key_to_paint

    summary = key_to_paint(presses=3, timeout_s=30)
    assert summary.count == 3 and 0 < summary.p50_ms < 1000


async def test_client_added_latency_subtracts_the_share_the_stand_in_measured_for_each_reply():
    from desktop.live.emulator import LiveEmulator
    from desktop.tls import TlsIdentity
    from devtools.bench import _e2e_turns
    from devtools.bench_core import server_replies

    identity = TlsIdentity.self_signed()
    tls = identity.client_context()
    async with LiveEmulator(model_delay_s=0.3, tls=identity.server_context()) as emu:
        result = await _e2e_turns(emu.url, tls, 2, 20, realtime=False)
        assert await server_replies(emu.url, tls, "nobody") == []
        (key, replies), = emu.stats.replies.items()  # the bench's session, under its own key
    assert key.startswith("bench-e2e-") and len(replies) == 2
    assert all(own_ms >= 300 for _, own_ms in replies)  # the stand-in waited its model delay before answering
    whole = result["stages"]["live.activity_end_to_first_audio"]
    added = result["client_added_ms"]["samples"]
    assert result["turns"] == 2 and len(added) == 2
    assert all(0 <= ms < whole["max_ms"] - 290 for ms in added)  # the server's measured share is not the client's
