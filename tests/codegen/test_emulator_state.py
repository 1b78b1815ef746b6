"""The demo CodeGen keeps its runs and its id counter across restarts; its links stay on this machine."""

from __future__ import annotations

import asyncio

import httpx

from desktop.codegen.emulator import CodegenEmulator


async def test_runs_and_ids_survive_a_restart(tmp_path):
    state = tmp_path / "codegen-demo.json"
    async with CodegenEmulator(step_s=3600, state_path=state) as emu:
        first = emu.seed("Fix the flaky login test")
        second = emu.seed("Bump the version")
        assert emu.status_of(first) == "PENDING"
    async with CodegenEmulator(step_s=3600, state_path=state) as emu:
        assert sorted(emu.runs) == [first.id, second.id]
        assert emu.runs[first.id].prompt == "Fix the flaky login test"
        third = emu.seed("Add a changelog")
        assert third.id == second.id + 1  # never an id given out before
    async with CodegenEmulator(step_s=0.01, state_path=state) as emu:
        await asyncio.sleep(0.1)
        assert emu.status_of(emu.runs[first.id]) == "COMPLETE"  # progress goes on in wall-clock time


async def test_unreadable_saved_state_starts_empty(tmp_path):
    state = tmp_path / "codegen-demo.json"
    state.write_text("{not json")
    async with CodegenEmulator(step_s=0, state_path=state) as emu:
        assert emu.runs == {} and emu.seed("x").id == 1001


async def test_links_are_local_demo_pages(tmp_path):
    async with CodegenEmulator(step_s=0) as emu:
        run = emu.seed("Fix the flaky login test")
        page = emu._run_json(run)
        urls = [page["web_url"], *[pr["url"] for pr in page["github_pull_requests"]]]
        assert len(urls) == 2 and all(u.startswith(f"{emu.url}/demo/") for u in urls)
        async with httpx.AsyncClient() as http:
            for url in urls:
                r = await http.get(url)
                assert r.status_code == 200 and "Offline demo" in r.text and "no real" in r.text


async def test_the_demo_keeps_its_port_so_links_from_earlier_sessions_still_open(tmp_path):
    state = tmp_path / "codegen-demo.json"
    async with CodegenEmulator(step_s=0, state_path=state) as emu:
        link = emu._run_json(emu.seed("Fix the flaky login test"))["web_url"]
        port = emu.port
    async with CodegenEmulator(step_s=0, state_path=state) as emu:
        assert emu.port == port
        async with httpx.AsyncClient() as http:
            r = await http.get(link)
        assert r.status_code == 200 and "Fix the flaky login test" in r.text
        async with CodegenEmulator(step_s=0, state_path=state) as other:  # a second process sharing the demo
            assert other.port != port  # the port is taken: another one for this session only
    async with CodegenEmulator(step_s=0, state_path=state) as emu:
        assert emu.port == port  # the demo's own port is still the one its links use


SEEDER = """
import asyncio, sys
from pathlib import Path
from desktop.codegen.emulator import CodegenEmulator

emu = CodegenEmulator(step_s=3600, state_path=Path(sys.argv[1]))  # loaded before the other process writes
print("ready", flush=True)
sys.stdin.readline()
print(" ".join(str(emu.seed(f"run {i} from {sys.argv[2]}").id) for i in range(int(sys.argv[3]))), flush=True)
"""


def test_two_processes_sharing_the_demo_never_give_out_the_same_run_id(tmp_path):
    import json
    import os
    import subprocess
    import sys

    state, n = tmp_path / "codegen-demo.json", 30
    asyncio.run(_seed_one(state))  # a run from an earlier session: both processes load it first
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", SEEDER, str(state), name, str(n)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env) for name in ("a", "b")]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:  # both go at once
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        ids = [int(i) for p in procs for i in p.communicate(timeout=60)[0].split()]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert len(ids) == 2 * n and len(set(ids)) == 2 * n and min(ids) == 1002, sorted(ids)
    saved = json.loads(state.read_text())
    assert sorted(r["id"] for r in saved["runs"]) == [1001, *sorted(ids)]  # neither dropped the other's runs
    assert saved["next_id"] == 1002 + 2 * n


async def _seed_one(state):
    emu = CodegenEmulator(step_s=3600, state_path=state)
    assert emu.seed("an earlier run").id == 1001


async def test_the_state_folder_is_made_private_when_absent(tmp_path):
    state = tmp_path / "data" / "codegen-demo.json"
    async with CodegenEmulator(step_s=0, state_path=state) as emu:
        emu.seed("Fix the flaky login test")
    assert state.exists() and (state.parent.stat().st_mode & 0o777) == 0o700
