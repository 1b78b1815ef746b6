"""The command line as a user runs it: a fresh process, real sockets, no Qt imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def gemini_codegen(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "desktop", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def test_version():
    out = gemini_codegen("--version")
    assert out.returncode == 0 and out.stdout.startswith("gemini-codegen ")


def test_run_offline_json_completes_a_turn_and_reports_timings(fixtures_dir):
    out = gemini_codegen("run", "--wav", str(fixtures_dir / "create_pr.wav"), "--offline", "--json", "--fast")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    kinds = [line["event"] for line in lines]
    assert "TurnFinished" in kinds and kinds[-1] == "Summary"
    summary = lines[-1]
    assert summary["ok"] and summary["turns"] == 1
    for stage in ("live.ws_open", "live.setup", "live.key_to_wire", "live.speech_end_to_first_audio", "turn.total"):
        assert summary["stages"][stage]["count"] >= 1, stage
    user = "".join(line["text"] for line in lines if line["event"] == "TranscriptDelta" and line["role"] == "user")
    assert "flaky login test" in user
    assert "PySide6" not in out.stderr
    network = summary["network"]  # every profile offers compression, and the stand-in accepts it
    assert network["compression"]["accepted"].startswith("permessage-deflate")
    assert network["up"]["by_kind"]["audio"]["wire_bytes"] < network["up"]["by_kind"]["audio"]["payload_bytes"]
    assert network["down"]["by_kind"]["audio"]["messages"] > 0 and network["up"]["by_kind"]["tools"]["messages"] == 1
    rates = network["bytes_per_minute"]
    assert 0 < rates["up_per_minute_of_user_speech"] < 3e6 and rates["both_per_minute_of_conversation"] > 0


def test_run_json_reports_each_turns_tokens_and_the_estimated_cost_which_today_keeps_across_runs(fixtures_dir):
    import sqlite3
    import wave

    from desktop.live.usage import Usage
    from desktop.pricing import DEFAULT_PRICES
    from desktop.state.store import DB_NAME

    typed = "what is the status of my runs"
    args = ("run", "--wav", str(fixtures_dir / "status.wav"), "--offline", "--json", "--fast", "--then", typed)
    summaries = []
    for _ in range(2):  # two runs on one data dir: the second's "today" holds the first's tokens
        out = gemini_codegen(*args)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        reports = [line for line in lines if line["event"] == "UsageReported"]
        assert [r["turn_id"] for r in reports] == [1, 2]
        spoken, written = reports[0]["report"], reports[1]["report"]
        with wave.open(str(fixtures_dir / "status.wav")) as w:
            wav_s = w.getnframes() / w.getframerate()
        # the stand-in counts 25 tokens per second of the turn's audio (at most the WAV and its pre-roll)
        assert 25 * 0.5 <= spoken["prompt"]["audio"] <= 25 * (wav_s + 0.5) and spoken["response"]["audio"] > 0
        assert written["prompt"] == {"text": -(-len(typed) // 4)} and written["response"]["audio"] > 0
        summaries.append(lines[-1])
        usage = lines[-1]["usage"]
        assert usage == reports[-1]["session"]
        assert usage["total_tokens"] == spoken["total_tokens"] + written["total_tokens"]
        cost = lines[-1]["estimated_cost"]
        session = Usage(usage["prompt"], usage["response"])
        assert cost["session_usd"] == pytest.approx(DEFAULT_PRICES.estimate(session), abs=1e-6)
        assert cost["prices_date"] == DEFAULT_PRICES.date and cost["session_usd"] > 0
    first, second = summaries
    assert second["estimated_cost"]["today_tokens"] == (first["usage"]["total_tokens"]
                                                       + second["usage"]["total_tokens"])
    assert second["estimated_cost"]["today_usd"] == pytest.approx(
        first["estimated_cost"]["session_usd"] + second["estimated_cost"]["session_usd"], abs=1e-5)
    db = sqlite3.connect(os.path.join(os.environ["GEMINI_CODEGEN_DATA_DIR"], DB_NAME))
    assert db.execute("SELECT sum(tokens) FROM daily_usage").fetchone()[0] == second["estimated_cost"]["today_tokens"]
    assert db.execute("SELECT count(DISTINCT session_id) FROM session_usage").fetchone()[0] == 2


def test_run_text_summary_says_what_went_over_the_network(fixtures_dir):
    out = gemini_codegen("run", "--wav", str(fixtures_dir / "status.wav"), "--offline", "--fast",
                         env={"GEMINI_CODEGEN_LIVE_COMPRESSION": "off"})
    assert out.returncode == 0, out.stderr
    line = next(li for li in out.stdout.splitlines() if li.startswith("Network:"))
    assert "sent" in line and "received" in line and "compression off" in line
    assert "per minute you talk" in out.stdout


def test_missing_key_is_one_clear_line(fixtures_dir):
    out = gemini_codegen("run", "--wav", str(fixtures_dir / "status.wav"))
    assert out.returncode == 2 or out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "GEMINI_API_KEY" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args, words", [
    (["run", "--wav", "/nonexistent.wav", "--offline"], "no such file"),
    (["run", "--wav", __file__, "--offline"], "not a WAV file"),
])
def test_bad_input_files_are_one_clear_line(args, words):
    out = gemini_codegen(*args)
    assert out.returncode != 0 and words in out.stderr and "Traceback" not in out.stderr


def test_bad_setting_in_environment_is_named(fixtures_dir):
    out = gemini_codegen("run", "--wav", str(fixtures_dir / "status.wav"), "--offline",
                         env={"GEMINI_CODEGEN_VAD_MODE": "7"})
    assert out.returncode != 0 and "vad_mode" in out.stderr and "GEMINI_CODEGEN_VAD_MODE" in out.stderr


def test_subcommands_do_not_import_qt():
    code = "import sys; from desktop.cli import build_parser; build_parser(); print('PySide6' in str(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False"
