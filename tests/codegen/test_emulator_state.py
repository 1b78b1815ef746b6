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
