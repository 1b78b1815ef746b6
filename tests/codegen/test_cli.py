"""`runs list/show/follow/create`, `emulate codegen` and `run --follow`, in-process against a loopback emulator."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest

from desktop import session as wiring
from desktop.cli import main
from tests.standins import ca_file, codegen_emulator

from .conftest import ORG, TOKEN


@pytest.fixture
def served(monkeypatch, tmp_path):
    """An emulator (https://) on its own loop thread, and the environment pointing at it and trusting it."""
    loop = asyncio.new_event_loop()
    emu = codegen_emulator(token=TOKEN, org_id=ORG, step_s=0)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(emu.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    monkeypatch.setenv("CODEGEN_API_URL", emu.url)
    monkeypatch.setenv("GEMINI_CODEGEN_CA_FILE", str(ca_file(tmp_path)))
    monkeypatch.setenv("CODEGEN_API_TOKEN", TOKEN)
    monkeypatch.setenv("CODEGEN_ORG_ID", str(ORG))
    yield emu
    asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_create_list_show(served, capsys):
    assert main(["runs", "create", "Fix the flaky login test"]) == 0
    (run_id,) = served.runs
    assert capsys.readouterr().out.strip() == f"started run {run_id}: {served.url}/demo/runs/{run_id}"
    assert main(["runs", "list", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["run_id"] == run_id and row["prompt"] == "Fix the flaky login test" and row["category"] == "done"
    assert main(["runs", "show", str(run_id)]) == 0
    out = capsys.readouterr().out
    assert "COMPLETE" in out and "PR:" in out and f"Run {run_id} is complete" in out


def test_follow_exit_codes(served, capsys):
    ok, bad = served.seed("works"), served.seed("this will fail")
    assert main(["runs", "follow", str(ok.id)]) == 0
    out = capsys.readouterr().out
    assert "step 5 [FINAL_ANSWER]" in out and f"run {ok.id} completed" in out
    assert main(["runs", "follow", str(bad.id), "--json"]) == 1
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["event"] == "Result" and last["category"] == "failed"


def test_errors_are_one_line(served, capsys, monkeypatch):
    assert main(["runs", "show", "999999"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "gemini-codegen: error: CodeGen could not find run 999999." and "Traceback" not in err
    monkeypatch.setenv("CODEGEN_API_TOKEN", "wrong")
    assert main(["runs", "list"]) == 1
    assert "rejected the API token" in capsys.readouterr().err
    monkeypatch.delenv("CODEGEN_API_TOKEN")
    assert main(["runs", "list"]) == 2
    assert "CodeGen is not configured: set CODEGEN_API_TOKEN and CODEGEN_ORG_ID" in capsys.readouterr().err


def test_run_wav_offline_then_yes_follow(fixtures_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(wiring, "OFFLINE_STEP_S", 0.05)
    code = main(["run", "--wav", str(fixtures_dir / "create_pr.wav"), "--offline", "--fast", "--then", "yes",
                 "--follow", "--json", "--data-dir", str(tmp_path)])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    created = [r for r in records if r["event"] == "ToolCallFinished" and "run_id" in r["result"]]
    assert len(created) == 1
    run_id = created[0]["result"]["run_id"]
    kinds = [r["event"] for r in records if r.get("run_id") == run_id]
    assert kinds[-1] == "RunFinished" and "RunStep" in kinds and "RunUpdate" in kinds
    assert records[-1]["event"] == "Summary" and records[-1]["ok"] is True
    # after the run ended, before the exit: what Gemini said about it
    events = [r["event"] for r in records]
    told = records[events.index("RunUpdateTold")]
    assert events.index("RunFinished") < events.index("RunUpdateTold") < events.index("Summary")
    assert told["spoken"] and told["run_ids"] == [run_id] and told["transcript"].startswith(f"Run {run_id} is done")


def test_emulate_codegen_serves_until_stopped(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "desktop", "emulate", "codegen", "--port", "0",
                             "--step-seconds", "0", "--fault", "extra"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("CodeGen emulator listening on http://127.0.0.1:")
        import httpx

        url = line.split()[-1]
        r = httpx.post(f"{url}/v1/organizations/3/agent/run", json={"prompt": "hi"},
                       headers={"Authorization": "Bearer t"}, timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "COMPLETE" and "cost_usd" in r.json()
    finally:
        proc.terminate()
        proc.wait(5)


def test_emulate_codegen_rejects_unknown_fault(capsys):
    assert main(["emulate", "codegen", "--fault", "meteor"]) == 2
    assert "unknown fault 'meteor'" in capsys.readouterr().err


def test_runs_bench_reports_cache_coalescing_and_budget(capsys):
    assert main(["runs", "bench", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["cache"]["requests"] == 0 and results["coalescing"]["requests"] == 1
    assert results["budget"]["per_minute"] <= 6.0 and results["budget"]["by_route"] == {
        "list": results["budget"]["requests"]}
