"""Item 1: the default settings speak Google's documented wss:// endpoint, and exactly that code path reaches the
TLS stand-in when only the host is redirected."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.config import Settings
from desktop.live import protocol as p
from desktop.live.client import LiveClient, LiveConfig, LiveError
from desktop.live.emulator import LiveEmulator
from tests.faults.conftest import FAKE_KEY, wav
from tests.standins import server_tls

DOCUMENTED_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


class RecordingEmulator(LiveEmulator):
    """The real Live stand-in, remembering each upgrade request's path and headers."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen: list[tuple[str, dict[str, str]]] = []

    def _check_request(self, conn, request):
        self.seen.append((request.path, {k.lower(): v for k, v in request.headers.raw_items()}))
        return super()._check_request(conn, request)


def test_default_settings_give_the_documented_endpoint():
    settings = Settings()
    assert p.live_url(settings.live_url, settings.api_version) == (
        "wss://generativelanguage.googleapis.com" + DOCUMENTED_PATH)
    assert settings.model == "gemini-3.8-live"


def test_item01_run_reaches_the_tls_stand_in_when_only_the_host_is_redirected(app, peers, reliability):
    emu = RecordingEmulator(model_delay_s=0.05, speedup=40, tls=server_tls())
    peers.call(emu.start())
    host = f"wss://127.0.0.1:{emu.port}"  # scheme and host only: path, API version and key placement are the defaults
    result = app.run("run", "--wav", wav("status.wav"), "--fast", "--json", "--live-url", host,
                     env=app.env(GEMINI_API_KEY=FAKE_KEY), timeout=60)
    peers.call(emu.stop())
    assert result.rc == 0, result.stderr[-3000:]
    summary = result.events[-1]
    assert summary["event"] == "Summary" and summary["ok"] and summary["turns"] == 1
    (path, headers), = emu.seen
    assert path == DOCUMENTED_PATH  # no key in the query string
    assert headers["x-goog-api-key"] == FAKE_KEY
    assert emu.stats.turns == 1
    reliability(1, "`run` with the default endpoint, only the host redirected to a TLS stand-in",
                "connects over wss:// (documented path, key in the `x-goog-api-key` header), completes the turn",
                result)


async def test_wss_without_a_trusted_certificate_is_a_clear_network_error():
    """No custom context: the default trust store verifies the peer (an untrusted certificate is refused with a
    clear message, not a crash)."""
    emu = LiveEmulator(tls=server_tls())
    async with emu:
        client = LiveClient(LiveConfig(url=p.live_url(f"wss://127.0.0.1:{emu.port}"), api_key=FAKE_KEY,
                                       setup_timeout_s=5))
        with pytest.raises(LiveError) as info:
            await client.connect()
    assert info.value.kind == "network" and "certificate" in info.value.message
