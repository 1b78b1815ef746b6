"""A restarted app follows the runs it was following and answers cached reads without the network."""

from __future__ import annotations

import asyncio

from desktop.config import Settings
from desktop.events import EventBus
from desktop.session import codegen_tools
from desktop.state.recorder import Recorder
from desktop.state.store import open_store
from tests.standins import ca_file, codegen_emulator


async def test_runs_being_followed_survive_a_restart_and_the_cache_lives_in_the_store(tmp_path):
    async with codegen_emulator(step_s=10_000) as emu:
        settings = Settings(codegen_url=emu.url, codegen_token="tok-restart", codegen_org_id=1,
                            data_dir=str(tmp_path), ca_file=str(ca_file(tmp_path)))
        run = emu.seed("fix the flaky login test")
        # first session: the tool reads the run, the tracker follows it, the recorder stores it
        bus = EventBus()
        store = open_store(settings)
        recorder = Recorder(store, model="m", offline=False).attach(bus)
        async with codegen_tools(settings, bus=bus, store=store) as tools:
            answer = await tools.call("get_run_status", {"run_id": run.id})
            assert answer["run_id"] == run.id
            for _ in range(100):
                if store.runs.active():
                    break
                await asyncio.sleep(0.02)
        recorder.close()
        store.close()
        # second session: the run is followed again at once, before any request
        store = open_store(settings)
        assert store.stats()["rows"]["api_cache"] >= 1  # the CodeGen response cache is in the database
        async with codegen_tools(settings, bus=EventBus(), store=store) as tools:
            assert run.id in tools.tracker.active
            assert [r.run_id for r in store.runs.active()] == [run.id]
        store.close()
