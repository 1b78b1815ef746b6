"""The run tracker on simulated time: one list request per cycle, the request budget, steps for the focus."""

from __future__ import annotations

import asyncio

from desktop.codegen.client import CodegenClient
from desktop.codegen.tracker import MISSING, Intervals, RunTracker
from desktop.events import ErrorEvent, EventBus, RunFinished, RunStep, RunUpdate
from tests.standins import client_tls, codegen_emulator

from .conftest import ORG, TOKEN, SimClock


async def _until(cond, real_timeout: float = 10.0) -> None:
    """Yield to the loop (real sockets) until ``cond()``; bounded in real time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + real_timeout
    while not cond():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


class Setup:
    def __init__(self, step_s: float):
        self.sim = SimClock()
        self.bus, self.events = EventBus(), []
        self.bus.subscribe(self.events.append)
        self.emu = codegen_emulator(token=TOKEN, org_id=ORG, step_s=step_s, clock=self.sim)
        self.client: CodegenClient | None = None
        self.tracker: RunTracker | None = None

    async def __aenter__(self) -> Setup:
        await self.emu.start()
        self.client = CodegenClient(self.emu.url, TOKEN, ORG, bus=self.bus, clock=self.sim, sleep=self.sim.sleep,
                                    wall=self.sim, ssl_context=client_tls())
        self.tracker = RunTracker(self.client, self.bus, clock=self.sim, sleep=self.sim.sleep, wall=self.sim)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.tracker.stop()
        await self.client.close()
        await self.emu.stop()

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


async def test_twenty_runs_for_five_simulated_minutes_stay_in_budget():
    step_s = 60.0  # RUNNING at 60 s, pull request + EVALUATION at 240 s, COMPLETE at 300 s
    async with Setup(step_s) as s:
        start = s.sim.now
        runs = [s.emu.seed(f"task {i}") for i in range(20)]
        for run in runs:
            s.tracker.track(run.id, run.prompt)
        s.tracker.start()
        await _until(lambda: s.sim.now >= start + 300.0)
        requests, by_route = s.emu.stats.requests, dict(s.emu.stats.by_route)
        await _until(lambda: len(s.of(RunFinished)) == 20)
    assert requests / 5.0 <= 6.0, f"{requests} requests in 5 simulated minutes"
    assert by_route == {"list": requests}  # one list per cycle; never a get per run, no logs without a focus
    assert s.emu.stats.statuses[429] == 0 and all(lim.waits == 0 for lim in s.client.buckets.values())
    # every status change reached the bus within one (the longest) poll interval
    changes = {"RUNNING": 60.0, "EVALUATION": 240.0, "COMPLETE": 300.0}
    seen = [(u.status, u.updated_at - start) for u in s.of(RunUpdate) if u.status in changes]
    assert {st for st, _ in seen} == set(changes) and len(seen) == 60
    assert all(0 <= at - changes[st] <= Intervals().max_s for st, at in seen)
    print(f"\n20 runs, 5 simulated minutes: {requests} requests ({requests / 5:.1f}/min), "
          f"worst status delay {max(at - changes[st] for st, at in seen):.0f} s")


async def test_no_active_run_makes_no_request():
    async with Setup(1.0) as s:
        s.tracker.start()
        for _ in range(50):
            await asyncio.sleep(0.002)
        assert s.emu.stats.requests == 0
        run = s.emu.seed("one")
        s.tracker.track(run.id)
        await _until(lambda: s.of(RunFinished))
        settled = s.emu.stats.requests
        for _ in range(50):
            await asyncio.sleep(0.002)
        assert s.emu.stats.requests == settled and not s.tracker.active


async def test_focused_run_gets_its_steps_in_order_from_one_request_every_focus_interval():
    async with Setup(10.0) as s:
        run = s.emu.seed("watched")
        s.tracker.track(run.id, "watched", focus=True)
        s.tracker.start()
        await _until(lambda: s.of(RunFinished))
        steps = s.of(RunStep)
        assert [st.index for st in steps] == list(range(5))
        assert steps[-1].message_type == "FINAL_ANSWER"
        done = s.of(RunFinished)
        assert len(done) == 1 and done[0].category == "done"
        assert s.events.index(steps[-1]) < s.events.index(done[0])
        assert s.of(RunUpdate)[-1].pull_requests[0].url.endswith(str(run.id))
        # read every focus interval while the user looks at it: every change shows within it
        assert max(s.sim.slept) <= Intervals().focus_s
        changes = {"RUNNING": 10.0, "EVALUATION": 40.0, "COMPLETE": 50.0}  # steps of 10 s
        assert all(0 <= u.updated_at - run.started - changes[u.status] <= Intervals().focus_s
                   for u in s.of(RunUpdate) if u.status in changes)
        # the logs page carries the status: the list only at its own, slower cadence
        assert s.emu.stats.by_route["list"] < s.emu.stats.by_route["logs"] == s.tracker.focus_polls


async def test_runs_out_of_focus_finish_on_the_list_alone_and_failure_is_reported():
    async with Setup(5.0) as s:
        ok, bad = s.emu.seed("background work"), s.emu.seed("this will fail")
        s.tracker.track(ok.id)
        s.tracker.track(bad.id)
        s.tracker.focus(None)
        s.tracker.start()
        await _until(lambda: len(s.of(RunFinished)) == 2)
        by_id = {e.run_id: e for e in s.of(RunFinished)}
        assert by_id[ok.id].category == "done"
        assert by_id[bad.id].category == "failed" and "stopped" in by_id[bad.id].summary
        assert s.emu.stats.by_route["logs"] == 0


async def test_status_change_resets_a_backed_off_interval():
    async with Setup(1000.0) as s:
        run = s.emu.seed("slow")
        s.tracker.track(run.id)
        s.tracker.start()
        await _until(lambda: s.sim.now >= 1000.0 + 600)  # nothing changes for a while: backed off
        assert s.tracker.interval == Intervals().max_s
        await _until(lambda: s.sim.now >= 1000.0 + 1100)  # the run moved to RUNNING at 1000 s
        assert [u.status for u in s.of(RunUpdate)] == ["PENDING", "RUNNING"]
        running = s.of(RunUpdate)[-1]
        assert running.updated_at - 2000.0 <= Intervals().max_s


async def test_a_failing_poll_is_reported_once_and_polling_goes_on():
    async with Setup(1000.0) as s:
        run = s.emu.seed("outage")
        s.emu.inject("5xx", 40)  # longer than the client's retries, several cycles in a row
        s.tracker.track(run.id)
        s.tracker.start()
        await _until(lambda: s.emu.faults["5xx"] == 0 and s.of(RunUpdate))
    errors = [e for e in s.events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and "trouble" in errors[0].message
    assert s.of(RunUpdate)[0].status == "PENDING"


async def test_run_missing_from_the_list_is_asked_for_alone_then_dropped_when_gone():
    async with Setup(1000.0) as s:
        kept = s.emu.seed("kept")
        s.tracker.page_size = 1
        newer = s.emu.seed("newer")  # fills the one-run page: "kept" is not on it
        asked: list[int] = []  # the runs the tracker asks for one by one (the call goes through)
        get_run = s.client.get_run

        async def spy(run_id: int):
            asked.append(run_id)
            return await get_run(run_id)

        s.client.get_run = spy
        s.tracker.track(kept.id)
        s.tracker.track(404404)
        s.tracker.focus(None)
        s.tracker.start()
        await _until(lambda: any(u.run_id == kept.id for u in s.of(RunUpdate)) and 404404 not in s.tracker.active)
        await s.tracker.stop()
        assert asked.count(404404) == 1 and set(asked) == {kept.id, 404404}  # the unknown one once, then dropped
        assert newer.id not in s.tracker.active
        assert kept.id in s.tracker.active and not any(isinstance(e, ErrorEvent) for e in s.events)
    (gone,) = [u for u in s.of(RunUpdate) if u.run_id == 404404]  # said once, not silently dropped
    assert gone.category == MISSING and [f.category for f in s.of(RunFinished) if f.run_id == 404404] == [MISSING]


async def test_the_focus_cadence_ends_a_while_after_the_user_last_turned_to_the_run():
    async with Setup(step_s=100_000.0) as s:  # the run stays PENDING with no new steps
        start = s.sim.now
        run = s.emu.seed("long task")
        s.tracker.track(run.id, run.prompt, focus=True)
        s.tracker.start()
        window = Intervals().focus_for_s
        await _until(lambda: s.sim.now >= start + window)
        read_while_focused, requests, t1 = s.tracker.focus_polls, s.emu.stats.requests, s.sim.now
        await _until(lambda: s.sim.now >= t1 + 600.0)
        per_minute_after = (s.emu.stats.requests - requests) / ((s.sim.now - t1) / 60.0)
    focus_s = Intervals().focus_s
    assert focus_s is not None and abs(read_while_focused - window / focus_s) <= 2  # 20 a minute while in focus
    assert s.tracker.focus_polls == read_while_focused  # then none: it backs off like any other run
    # (a list request a minute, with the focused card's steps read along with it)
    assert per_minute_after <= 2 * 60.0 / Intervals().max_s + 0.2, f"{per_minute_after:.2f} requests a minute"


async def test_turning_to_a_run_again_reads_it_on_its_cadence_again():
    async with Setup(step_s=100_000.0) as s:
        run = s.emu.seed("long task")
        s.tracker.track(run.id, run.prompt, focus=True)
        s.tracker.start()
        await _until(lambda: s.sim.now >= 1000.0 + Intervals().focus_for_s + 120.0)
        before = s.tracker.focus_polls
        s.tracker.focus(run.id)  # the user asks about it, or clicks its card
        await _until(lambda: s.tracker.focus_polls >= before + 5)
        assert s.sim.slept[-1] <= (Intervals().focus_s or 0)
