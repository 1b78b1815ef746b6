"""The local stand-ins the way the tests use them: over TLS (wss://, https://), trusted through their own
certificate for each connection only, so every test of our clients runs the code that talks to Google."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from desktop.codegen.emulator import CodegenEmulator
from desktop.live import protocol as p
from desktop.live.client import LiveConfig
from desktop.live.emulator import LiveEmulator
from desktop.tls import TlsIdentity

IDENTITY = TlsIdentity.self_signed()  # one certificate for the whole test session


def server_tls() -> ssl.SSLContext:
    return IDENTITY.server_context()


def client_tls() -> ssl.SSLContext:
    """Trusts the stand-ins' certificate and nothing else."""
    return IDENTITY.client_context()


def ca_file(directory: Path) -> Path:
    """The stand-ins' certificate as a PEM file (for the ``ca_file`` setting / ``--ca-file``)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "standin-ca.pem"
    path.write_bytes(IDENTITY.cert_pem)
    return path


def live_emulator(**kw: Any) -> LiveEmulator:
    return LiveEmulator(tls=server_tls(), **kw)


def codegen_emulator(**kw: Any) -> CodegenEmulator:
    return CodegenEmulator(tls=server_tls(), **kw)


def live_config(emu: LiveEmulator, **kw: Any) -> LiveConfig:
    """A client config for ``emu`` (wss://, the documented path, the key in the header)."""
    kw.setdefault("api_key", "k")
    kw.setdefault("ssl_context", client_tls())
    return LiveConfig(url=p.live_url(emu.url), **kw)
