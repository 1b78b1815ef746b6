"""The HTTP client against the loopback emulator, over real sockets."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from desktop.codegen.api import DONE, RUNNING
from desktop.codegen.client import CodegenClient, CodegenError, Limits, Unanswered
from desktop.events import ErrorEvent
from tests.standins import client_tls, codegen_emulator

from .conftest import ORG, TOKEN, SimClock


async def test_every_endpoint(emulator, make_client):
    client = make_client()
    run = await client.create_run("Fix the flaky login test", metadata={"source": "test"})
    assert run.id > 0 and run.web_url.endswith(str(run.id)) and run.prompt == "Fix the flaky login test"
    got = await make_client().get_run(run.id)  # a fresh client (the creating one already has it cached)
    assert got.category == DONE and got.pull_requests and got.summary
    page = await client.list_runs(limit=5)
    assert [r.id for r in page.items] == [run.id] and page.total == 1
    logs = await client.get_logs(run.id)
    assert [e.message_type for e in logs.logs][-1] == "FINAL_ANSWER" and logs.total_logs == len(logs.logs) == 5
    resumed = await client.resume_run(run.id, "Also add a unit test")
    assert resumed.id == run.id
    logs = await client.get_logs(run.id, reverse=True, limit=2)
    assert len(logs.logs) == 2 and logs.total_logs == 11
    assert dict(emulator.stats.by_route) == {"create": 1, "get": 1, "list": 1, "logs": 2, "resume": 1}
    assert emulator.stats.connections == 2  # keep-alive: one pooled connection per client for 6 requests


async def test_repositories_are_listed_and_checked_against_the_limit(emulator, make_client):
    client = make_client()
    page = await client.list_repos()
    assert [r.name for r in page.items] == ["api", "web-dashboard", "payments-service", "flaky-login-test",
                                            "infra-terraform"]
    assert page.items[0].full_name == "acme/api" and page.items[0].language == "Python" and page.total == 5
    assert [r.name for r in (await client.list_repos(skip=3, limit=1)).items] == ["flaky-login-test"]
    emulator.repos.append({"id": 0, "name": "bad id"})
    with pytest.raises(CodegenError, match="repository id"):
        await client.list_repos()
    assert emulator.stats.by_route["repos"] == 3


async def test_bad_token_is_an_auth_error(emulator, make_client):
    with pytest.raises(CodegenError) as err:
        await make_client(token="wrong").list_runs()
    assert err.value.kind == "auth" and err.value.status == 401 and "CODEGEN_API_TOKEN" in str(err.value)


async def test_wrong_org_is_a_permission_error(emulator, make_client):
    with pytest.raises(CodegenError) as err:
        await make_client(org_id=8).list_runs()
    assert err.value.status == 403 and "permission" in str(err.value)


async def test_plan_allowance_reached(emulator, make_client):
    emulator.run_allowance = 0
    with pytest.raises(CodegenError) as err:
        await make_client().create_run("Anything")
    assert err.value.status == 402 and "plan" in str(err.value)


async def test_missing_run_is_not_found(emulator, make_client):
    with pytest.raises(CodegenError) as err:
        await make_client().get_run(424242)
    assert err.value.status == 404 and "run 424242" in str(err.value)


async def test_validation_error_is_explained(emulator, make_client):
    with pytest.raises(CodegenError) as err:
        await make_client().create_run("   ")
    assert err.value.status == 422 and "prompt is required" in str(err.value)


async def test_unreachable_server_is_a_network_error(make_client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    client = make_client(url=f"https://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(CodegenError) as err:
        await client.list_runs()
    assert err.value.kind == "network" and client.requests == 3


async def test_429_waits_for_retry_after_then_succeeds(bus_events):
    bus, seen = bus_events
    sim = SimClock()
    async with codegen_emulator(token=TOKEN, org_id=ORG, step_s=0, clock=sim,
                               limits={"standard": (2, 30.0)}) as emu:
        runs = [emu.seed(f"run {i}") for i in range(3)]
        # the client's own bucket is generous here, so the server's limit is what it runs into
        async with CodegenClient(emu.url, TOKEN, ORG, ssl_context=client_tls(), bus=bus, limits=Limits(standard=(100, 1.0)), clock=sim,
                                 sleep=sim.sleep, max_rate_wait_s=60) as client:
            from desktop.metrics import Metrics

            client.metrics = Metrics()
            for run in runs:
                assert (await client.get_run(run.id)).id == run.id
        assert emu.stats.statuses[429] == 1 and emu.stats.statuses[200] == 3
    assert 30.0 in sim.slept  # Retry-After: the oldest request leaves the 30 s window
    limited = [e for e in seen if isinstance(e, ErrorEvent)]
    assert [e.kind for e in limited] == ["rate_limited"] and "waiting 30 s" in limited[0].message
    assert client.metrics.counters["rate_limited"] == 1


async def test_a_long_retry_after_fails_at_once_with_a_clear_message():
    sim = SimClock()
    async with codegen_emulator(token=TOKEN, org_id=ORG, step_s=0, clock=sim, limits={"create": (1, 60.0)}) as emu:
        async with CodegenClient(emu.url, TOKEN, ORG, ssl_context=client_tls(), limits=Limits(create=(100, 1.0)), clock=sim,
                                 sleep=sim.sleep, max_rate_wait_s=25) as client:
            await client.create_run("first")
            with pytest.raises(CodegenError) as err:
                await client.create_run("second")
    assert err.value.kind == "rate_limited" and "try again in 60 seconds" in str(err.value)
    assert sim.now == 1000.0 and len(emu.runs) == 1


async def test_5xx_burst_is_retried(emulator, make_client):
    run = emulator.seed("burst")
    emulator.inject("5xx", 3)
    client = make_client()
    assert (await client.get_run(run.id)).id == run.id
    assert emulator.stats.statuses[503] == 3 and client.requests == 4


async def test_5xx_burst_longer_than_the_retries_fails_clearly(emulator, make_client):
    emulator.inject("5xx", 10)
    with pytest.raises(CodegenError) as err:
        await make_client(max_retries=2).list_runs()
    assert err.value.status == 503 and "trouble" in str(err.value)


async def test_dropped_connection_is_retried_for_a_get(emulator, make_client):
    run = emulator.seed("drop")
    emulator.inject("drop", 1)
    assert (await make_client().get_run(run.id)).id == run.id


async def test_create_is_retried_on_503(emulator, make_client):
    emulator.inject("5xx", 1)
    await make_client().create_run("Only once")
    assert len(emulator.runs) == 1


async def test_fifty_concurrent_gets_make_one_request(emulator, make_client):
    emulator.step_s = 1000  # still running: nothing is cached for good
    run = emulator.seed("coalesce")
    client = make_client()
    results = await asyncio.gather(*(client.get_run(run.id) for _ in range(50)))
    assert {r.id for r in results} == {run.id}
    assert emulator.stats.by_route["get"] == 1 and emulator.stats.requests == 1


async def test_finished_run_is_cached_for_good(emulator, make_client):
    run = emulator.seed("finished")
    client = make_client(wall=lambda: 1e12)
    await client.get_run(run.id)
    client.wall = lambda: 2e12  # much later: still no request
    for _ in range(20):
        assert (await client.get_run(run.id)).category == DONE
    assert emulator.stats.requests == 1
    assert client.metrics.stage("codegen.request_hit").count == 20
    assert client.metrics.stage("codegen.request_miss").count == 1


async def test_active_run_cache_expires_and_revalidates(emulator, make_client):
    emulator.step_s = 1000
    run = emulator.seed("active")
    now = [1000.0]
    client = make_client(wall=lambda: now[0], active_ttl_s=3.0)
    assert (await client.get_run(run.id)).category == RUNNING
    now[0] += 1.0
    await client.get_run(run.id)
    assert emulator.stats.requests == 1
    now[0] += 5.0
    await client.get_run(run.id)  # stale: asked again with If-None-Match, unchanged
    assert emulator.stats.requests == 2 and emulator.stats.statuses[304] == 1


class DictBackend:
    def __init__(self):
        self.rows: dict[str, tuple[bytes, str | None, float | None]] = {}

    def load(self, key):
        return self.rows.get(key)

    def save(self, key, body, etag, expires_at):
        self.rows[key] = (body, etag, expires_at)


async def test_backend_is_read_through_and_written(emulator, make_client):
    run = emulator.seed("persisted")
    backend = DictBackend()
    await make_client(backend=backend).get_run(run.id)
    (body, etag, expires), = backend.rows.values()
    assert expires is None and etag and b"persisted" in body
    fresh = make_client(backend=backend)  # a new process: its memory is empty, the backend answers
    assert (await fresh.get_run(run.id)).prompt == "persisted"
    assert emulator.stats.requests == 1


async def test_token_bucket_keeps_inside_the_limits(bus_events):
    sim = SimClock()
    limits = {"standard": (5, 10.0)}
    async with codegen_emulator(token=TOKEN, org_id=ORG, step_s=0, clock=sim, limits=limits) as emu:
        ids = [emu.seed(f"r{i}").id for i in range(12)]
        async with CodegenClient(emu.url, TOKEN, ORG, ssl_context=client_tls(), limits=Limits(standard=(5, 10.0)), clock=sim,
                                 sleep=sim.sleep) as client:
            for run_id in ids:
                await client.get_run(run_id)
        assert emu.stats.statuses[429] == 0 and emu.stats.requests == 12
    assert sim.now - 1000.0 >= 10.0  # 5 at once, the next 5 a window later, the last 2 another window later


async def test_lowercase_statuses_extra_fields_and_gzip(emulator, make_client):
    emulator.inject("lowercase")
    emulator.inject("extra")
    for i in range(30):
        emulator.seed(f"a fairly long prompt number {i} so that the page is worth compressing")
    page = await make_client().list_runs(limit=100)
    assert len(page.items) == 30
    assert {r.status for r in page.items} == {"completed"} and {r.category for r in page.items} == {DONE}
    assert all(r.pull_requests for r in page.items)


async def test_slow_response_times_out_clearly(emulator, make_client):
    emulator.inject("slow", 0.5)
    with pytest.raises(CodegenError) as err:
        await make_client(timeout_s=0.1, max_retries=1).list_runs()
    assert err.value.kind == "network"


async def test_token_never_reaches_the_logs(emulator, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(token=TOKEN)
    await client.create_run("log check")
    with pytest.raises(CodegenError):
        await make_client(token=TOKEN + "x").list_runs()
    assert caplog.records and TOKEN not in caplog.text


async def test_a_resume_answered_by_a_gateway_error_is_never_sent_again(emulator, make_client):
    """A 502/503/504 may come after the service acted: sending the instruction again could give it twice."""
    run = emulator.seed("steer")
    emulator.inject("5xx", 3)  # answered 503, as many times as the client would retry a GET
    with pytest.raises(Unanswered) as err:
        await make_client().resume_run(run.id, "Also add a unit test")
    assert emulator.stats.by_route["resume"] == 1 and emulator.stats.statuses[503] == 1
    assert f"did not confirm that run {run.id} got the instruction (its gateway answered HTTP 503)" in str(err.value)
    assert "check the run" in str(err.value) and err.value.retryable is False
