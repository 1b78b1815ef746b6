"""CodeGen test fixtures: the loopback emulator, a client for it, and a simulated clock."""

from __future__ import annotations

import pytest

from desktop.codegen.client import CodegenClient, Limits
from desktop.codegen.tracker import SimulatedTime
from desktop.events import EventBus
from desktop.metrics import Metrics
from tests.standins import client_tls, codegen_emulator

TOKEN, ORG = "test-token-abc", 7


SimClock = SimulatedTime


@pytest.fixture
async def emulator():
    async with codegen_emulator(token=TOKEN, org_id=ORG, step_s=0) as emu:
        yield emu


@pytest.fixture
def bus_events():
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    return bus, seen


@pytest.fixture
async def make_client(emulator, bus_events):
    clients: list[CodegenClient] = []

    def make(**kw) -> CodegenClient:
        kw.setdefault("bus", bus_events[0])
        kw.setdefault("metrics", Metrics())
        kw.setdefault("backoff_s", 0.01)
        kw.setdefault("limits", Limits())
        kw.setdefault("ssl_context", client_tls())
        c = CodegenClient(kw.pop("url", emulator.url), kw.pop("token", TOKEN), kw.pop("org_id", ORG), **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()
