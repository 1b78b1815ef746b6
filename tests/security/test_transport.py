"""Issue 22, item 5 — transport: what leaves this computer, and how.

* plain ``ws://`` / ``http://`` only to loopback: refused before any socket is opened otherwise (clients and
  settings alike);
* a refused certificate is named (untrusted issuer -> the ``ca_file`` setting, another host name, expired)
  and never retried: loopback TLS peers with certificates made here count the connection attempts;
* one proxy policy for both services: a tiny CONNECT proxy on 127.0.0.1 counts what goes through it.  The
  local stand-ins never do; a remote-looking host (``*.proxied.invalid``, which only the proxy "resolves", to
  127.0.0.1) does, for Live and CodeGen alike, with ``HTTPS_PROXY`` or ``ALL_PROXY``; ``NO_PROXY`` sends it
  direct; a 407 fails at once; SOCKS is refused in one line.

Nothing here may leave the machine: the ``loopback_only`` fixture makes name resolution and ``connect`` fail
for anything but loopback in this process, and ``GUARD`` does the same in the command's child process.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from desktop import egress
from desktop.codegen.client import CodegenClient, CodegenError
from desktop.codegen.emulator import CodegenEmulator
from desktop.config import ConfigError, load_settings
from desktop.live import protocol as p
from desktop.live.client import LiveClient, LiveConfig, LiveError
from desktop.live.emulator import LiveEmulator
from tests.faults.conftest import FAKE_KEY, FAKE_TOKEN, wav

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "HTTP_PROXY",
                   "http_proxy")
REMOTE_LIVE = "gemini.proxied.invalid"  # a name only the test proxy knows (it connects to 127.0.0.1)
REMOTE_CODEGEN = "codegen.proxied.invalid"


# ------------------------------------------------------------------------------------ certificates
@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(name: str) -> tuple[Pem, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Pem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)), key, cert


def make_leaf(ca: tuple[Pem, ec.EllipticCurvePrivateKey, x509.Certificate], *, ip: str | None = None,
              dns: str | None = None, expired: bool = False) -> Pem:
    _, ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    start, end = ((now - datetime.timedelta(days=20), now - datetime.timedelta(days=1)) if expired else
                  (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=7)))
    names: list[x509.GeneralName] = []
    if ip:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    if dns:
        names.append(x509.DNSName(dns))
    cert = (x509.CertificateBuilder().subject_name(_name(dns or ip or "peer")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return Pem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


TRUSTED_CA = make_ca("transport test CA")
OTHER_CA = make_ca("a CA the client does not know")
PEERS = {  # certificate case -> the loopback peer's certificate
    "untrusted issuer": make_leaf(OTHER_CA, ip="127.0.0.1"),
    "other host name": make_leaf(TRUSTED_CA, dns="other.example"),
    "expired": make_leaf(TRUSTED_CA, ip="127.0.0.1", expired=True),
}
REMOTE_CERTS = {REMOTE_LIVE: make_leaf(TRUSTED_CA, dns=REMOTE_LIVE),
                REMOTE_CODEGEN: make_leaf(TRUSTED_CA, dns=REMOTE_CODEGEN)}
THREATS = {
    "untrusted issuer": "a TLS peer whose certificate comes from a CA the client does not trust",
    "other host name": "a TLS peer whose certificate is for another host name",
    "expired": "a TLS peer whose certificate has expired",
}
EXPECTED = {  # what each message must say
    "untrusted issuer": ("issuer this app does not trust", "ca_file"),
    "other host name": ("another host name", "host name in the endpoint URL"),
    "expired": ("has expired", "date and time"),
}


def server_context(pem: Pem) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_bytes(pem.cert)
        key.write_bytes(pem.key)
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def client_context() -> ssl.SSLContext:
    """Trusts the test CA and nothing else."""
    return ssl.create_default_context(cadata=TRUSTED_CA[0].cert.decode("ascii"))


# ------------------------------------------------------------------------------------ peers
class _Counted(asyncio.Protocol):
    def __init__(self, peer: TlsPeer) -> None:
        peer.attempts += 1  # made at TCP accept, before the TLS handshake

    def data_received(self, data: bytes) -> None:
        pass


@dataclass
class TlsPeer:
    """A TLS server on 127.0.0.1 that counts TCP connections (its certificate decides the rest)."""

    pem: Pem
    attempts: int = 0
    port: int = 0
    _server: Any = None

    async def __aenter__(self) -> TlsPeer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Counted(self), "127.0.0.1", 0,
                                                ssl=server_context(self.pem))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()


@dataclass
class ConnectProxy:
    """An HTTP proxy on 127.0.0.1 that counts CONNECTs.  ``answer`` 200 opens the tunnel — always to
    127.0.0.1 at the port asked for, whatever the host name — any other status is sent back instead."""

    answer: int = 200
    connects: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    other_requests: list[str] = field(default_factory=list)
    port: int = 0
    _server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> ConnectProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._server.close()

    async def __aenter__(self) -> ConnectProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            method, target, _ = head.split("\r\n", 1)[0].split(" ", 2)
            if method != "CONNECT":
                self.other_requests.append(head.split("\r\n", 1)[0])
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.connects.append(target)
            self.auth.append(next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                                   if line.lower().startswith("proxy-authorization:")), None))
            if self.answer != 200:
                writer.write(f"HTTP/1.1 {self.answer} Proxy Authentication Required\r\nProxy-Authenticate: Basic "
                             f"realm=\"test\"\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(target.rsplit(":", 1)[1]))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


# ------------------------------------------------------------------------------------ guards
def _loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host == "localhost":
        return host == "localhost"
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """In this process: resolving a name or connecting to an address off this computer fails at once (and
    is recorded); every connect() is recorded.  Also clears the proxy variables."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    seen = SimpleNamespace(resolved=[], connects=[], blocked=[])
    real_gai, real_connect, real_connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        host = host.decode() if isinstance(host, bytes) else host
        seen.resolved.append(host)
        if not _loopback(host):
            seen.blocked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"blocked by the test: {host} is not loopback")
        return real_gai(host, *args, **kw)

    def check(address: Any) -> None:
        seen.connects.append(address)
        if isinstance(address, tuple) and not _loopback(address[0]):
            seen.blocked.append(address)
            raise OSError(f"blocked by the test: {address} is not loopback")

    def connect(self: socket.socket, address: Any) -> Any:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return seen


GUARD = '''
import ipaddress, socket
def _ok(host):
    if isinstance(host, bytes):
        host = host.decode()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False
_gai, _connect = socket.getaddrinfo, socket.socket.connect
def getaddrinfo(host, *a, **k):
    if not _ok(host):
        raise socket.gaierror(socket.EAI_NONAME, "blocked by the test: not loopback")
    return _gai(host, *a, **k)
def connect(self, address):
    if isinstance(address, tuple) and not _ok(address[0]):
        raise OSError("blocked by the test: not loopback")
    return _connect(self, address)
socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
'''


@pytest.fixture
def guard_dir(tmp_path: Path) -> str:
    """A PYTHONPATH entry whose sitecustomize keeps the child process on loopback."""
    path = tmp_path / "guard"
    path.mkdir()
    (path / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    return str(path)


def child_env(app: Any, guard: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in app.env().items() if k not in PROXY_VARIABLES}
    env.update(PYTHONPATH=guard, **extra)
    return env


def live_client(url: str, ctx: ssl.SSLContext | None = None) -> LiveClient:
    return LiveClient(LiveConfig(url=p.live_url(url), api_key=FAKE_KEY, ssl_context=ctx or client_context(),
                                 setup_timeout_s=5))


async def no_sleep(_: float) -> None:
    pass


def codegen_client(url: str, ctx: ssl.SSLContext | None = None) -> CodegenClient:
    """Retries without waiting: a failure that were retried would show as more attempts, at once."""
    return CodegenClient(url, FAKE_TOKEN, 1, ssl_context=ctx or client_context(), sleep=no_sleep, deadline_s=10)


# ======================================================================== plain URLs
@pytest.mark.parametrize("service", ["live", "codegen"])
async def test_plain_url_to_another_host_is_refused_before_any_socket(service, loopback_only, threat):
    url = "ws://example.invalid" if service == "live" else "http://example.invalid"
    t0 = time.perf_counter()
    if service == "live":
        with pytest.raises(LiveError) as info:
            await live_client(url, None).connect()
        message = f"{info.value.message} {info.value.action}"
        assert info.value.fatal
    else:
        async with codegen_client(url) as client:
            with pytest.raises(CodegenError) as cg:
                await client.get_run(1)
            assert client.requests == 0
        message = cg.value.message
    elapsed_ms = (time.perf_counter() - t0) * 1e3
    assert loopback_only.resolved == [] and loopback_only.connects == []  # not even a name looked up
    assert "unencrypted" in message and "example.invalid" in message and "\n" not in message
    assert ("wss://" if service == "live" else "https://") in message
    assert elapsed_ms < 500
    asset = "Gemini API key" if service == "live" else "CodeGen token"
    threat("transport", asset, f"a plain {url.split(':')[0]}:// URL to another host sends it in clear",
           "plain URLs only to 127.0.0.0/8, ::1, localhost; refused before connecting",
           f"refused in {elapsed_ms:.1f} ms, 0 names resolved, 0 sockets connected; says why in one line")


@pytest.mark.parametrize("variable, url", [
    ("GEMINI_LIVE_URL", "ws://example.invalid"), ("CODEGEN_API_URL", "http://example.invalid:8080"),
    ("GEMINI_LIVE_URL", "ws://127.0.0.2:9"), ("CODEGEN_API_URL", "http://[::1]:9"),
    ("CODEGEN_API_URL", "http://localhost:9"), ("GEMINI_LIVE_URL", "ws://127.1:9"),
])
def test_settings_refuse_plain_urls_off_this_computer(variable, url, tmp_path, threat):
    env = {variable: url}
    loopback = "example" not in url and "127.1:" not in url  # 127.1 is not a spelling accepted as loopback
    if loopback:
        settings = load_settings(env=env, path=tmp_path / "none.toml", use_keyring=False)
        assert url in (settings.live_url, settings.codegen_url)
        return
    with pytest.raises(ConfigError) as info:
        load_settings(env=env, path=tmp_path / "none.toml", use_keyring=False)
    assert f"${variable}" in str(info.value) and "unencrypted" in str(info.value)
    if url == "ws://example.invalid":
        threat("transport", "Gemini API key / CodeGen token", "a plain URL to another host saved in the settings",
               "the settings' own validation applies the same rule (desktop.egress.plain_url_problem)",
               "GEMINI_LIVE_URL=ws://example.invalid refused at load time, naming the variable")


# ======================================================================== certificates
@pytest.mark.parametrize("case", list(PEERS))
@pytest.mark.parametrize("service", ["live", "codegen"])
async def test_a_refused_certificate_is_named_and_never_retried(service, case, loopback_only, threat):
    async with TlsPeer(PEERS[case]) as peer:
        url = f"{'wss' if service == 'live' else 'https'}://127.0.0.1:{peer.port}"
        if service == "live":
            client = live_client(url)
            with pytest.raises(LiveError) as info:
                await client.connect()
            await client.close()
            message = f"{info.value.message} {info.value.action}"
            assert info.value.fatal  # the session does not reconnect after it
        else:
            async with codegen_client(url) as cg:
                with pytest.raises(CodegenError) as err:
                    await cg.get_run(7)
                assert cg.requests == 1
            message = err.value.message
        await asyncio.sleep(0.05)
    why, action = EXPECTED[case]
    assert why in message and action in message, message
    assert "usable" not in message and "\n" not in message
    assert peer.attempts == 1, peer.attempts
    threat("transport", "Gemini API key" if service == "live" else "CodeGen token",
           THREATS[case],
           "verification on; the failure is named with what to do; never retried",
           f"{peer.attempts} connection attempt; message says '{why}' and '{action}'")


# ======================================================================== proxy policy (pure)
def test_proxy_policy_for_remote_and_loopback_hosts(threat):
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://user:secret@lower:2", "ALL_PROXY": "http://all:3"}
    assert egress.route("wss://api.example.com/x", env).proxy == "http://user:secret@lower:2"  # lower case wins
    assert egress.route("wss://api.example.com/x", env).shown == "http://lower:2"  # never the password
    assert egress.route("https://api.example.com", {"ALL_PROXY": "proxy.corp:3128"}).proxy == "http://proxy.corp:3128"
    assert egress.route("https://api.example.com", {"all_proxy": "http://a:1"}).variable == "all_proxy"
    assert egress.route("https://api.example.com", {}).proxy is None
    for loopback in ("wss://127.0.0.1:9", "https://127.3.2.1", "wss://[::1]:9", "https://localhost:9",
                     "https://LOCALHOST.:9", "ws://127.0.0.1:9", "http://localhost"):
        assert egress.route(loopback, env | {"ALL_PROXY": "socks5://s:1"}).proxy is None, loopback
    no_proxy = {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".corp.example, 198.51.100.0/24, api.example.com:8443, [2001:db8::1]"}
    direct = ["https://corp.example", "https://a.b.corp.example", "https://198.51.100.7", "https://api.example.com:8443",
              "wss://[2001:db8::1]"]
    proxied = ["https://notcorp.example", "https://api.example.com", "https://203.0.113.1", "wss://[2001:db8::2]"]
    for url in direct:
        assert egress.route(url, no_proxy).proxy is None, url
    for url in proxied:
        assert egress.route(url, no_proxy).proxy == "http://p:1", url
    assert egress.route("https://x.example", {"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}).proxy is None
    threat("transport", "the local stand-ins' traffic", "proxy variables send loopback traffic to a proxy",
           "one policy (desktop.egress): HTTPS_PROXY/https_proxy, ALL_PROXY/all_proxy, NO_PROXY/no_proxy; "
           "loopback always direct", f"{len(direct) + len(proxied) + 12} routing cases as specified")


def test_socks_and_unusable_proxies_are_refused_in_one_line():
    with pytest.raises(egress.Refused) as info:
        egress.route("wss://api.example.com", {"ALL_PROXY": "socks5h://u:pw@127.0.0.1:1080"})
    text = str(info.value)
    assert "ALL_PROXY" in text and "SOCKS" in text and "pw" not in text and "\n" not in text
    with pytest.raises(egress.Refused):
        egress.route("https://api.example.com", {"HTTPS_PROXY": "ftp://p:1"})


# ======================================================================== proxies, real clients
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "ALL_PROXY"])
async def test_a_remote_host_goes_through_the_proxy_for_both_services(variable, loopback_only, monkeypatch,
                                                                      threat):
    async with ConnectProxy() as proxy, \
            LiveEmulator(model_delay_s=0.01, tls=server_context(REMOTE_CERTS[REMOTE_LIVE])) as live, \
            CodegenEmulator(tls=server_context(REMOTE_CERTS[REMOTE_CODEGEN])) as codegen:
        monkeypatch.setenv(variable, proxy.url)
        client = live_client(f"wss://{REMOTE_LIVE}:{live.port}")
        await client.connect()
        assert client.connected
        await client.close()
        async with codegen_client(f"https://{REMOTE_CODEGEN}:{codegen.port}") as cg:
            page = await cg.list_runs(limit=5)
        assert page.items is not None
    assert proxy.connects == [f"{REMOTE_LIVE}:{live.port}", f"{REMOTE_CODEGEN}:{codegen.port}"]
    assert REMOTE_LIVE not in loopback_only.resolved and REMOTE_CODEGEN not in loopback_only.resolved
    threat("transport", "Gemini and CodeGen traffic", f"{variable} honoured by one service and not the other",
           "both clients take the proxy from desktop.egress",
           f"{variable}: 1 CONNECT each for Live and CodeGen; the remote names were never resolved locally")


async def test_no_proxy_sends_a_remote_host_direct(loopback_only, monkeypatch, threat):
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "proxied.invalid")
        with pytest.raises(LiveError):
            await live_client(f"wss://{REMOTE_LIVE}:9").connect()
        async with codegen_client(f"https://{REMOTE_CODEGEN}:9") as cg:
            with pytest.raises(CodegenError):
                await cg.get_run(1)
    assert proxy.connects == []
    assert REMOTE_LIVE in loopback_only.blocked and REMOTE_CODEGEN in loopback_only.blocked  # tried direct
    threat("transport", "Gemini and CodeGen traffic", "NO_PROXY ignored by one service",
           "NO_PROXY/no_proxy read by the one policy", "0 CONNECTs; both clients resolved the host themselves "
                                                          "(blocked by the test, nothing left the machine)")


@pytest.mark.parametrize("credentials", [False, True])
async def test_a_407_from_the_proxy_fails_at_once_and_says_so(credentials, loopback_only, monkeypatch, threat):
    async with ConnectProxy(answer=407) as proxy:
        proxy_url = f"http://alice:s3cret-pw@127.0.0.1:{proxy.port}" if credentials else proxy.url
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        client = live_client(f"wss://{REMOTE_LIVE}:9")
        with pytest.raises(LiveError) as live_err:
            await client.connect()
        await client.close()
        live_connects = len(proxy.connects)
        async with codegen_client(f"https://{REMOTE_CODEGEN}:9") as cg:
            with pytest.raises(CodegenError) as cg_err:
                await cg.get_run(1)
            assert cg.requests == 1
    assert live_connects == 1 and len(proxy.connects) == 2  # one CONNECT each, no retry
    assert live_err.value.fatal
    for message in (f"{live_err.value.message} {live_err.value.action}", cg_err.value.message):
        assert "407" in message and "HTTPS_PROXY" in message and "s3cret" not in message and "\n" not in message
        assert ("refused the user name and password" if credentials else "asks for a user name") in message
    assert all((a is not None) == credentials for a in proxy.auth)
    threat("transport", "the proxy login", "a 407 from the proxy retried (5 times for CodeGen)",
           "407 is not retried; the message says the proxy wants a login (never printing the password)",
           f"{'with' if credentials else 'without'} credentials: 1 CONNECT per service, one-line message")


async def test_socks_proxy_is_refused_before_any_socket(loopback_only, monkeypatch, threat):
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(LiveError) as live_err:
        await live_client(f"wss://{REMOTE_LIVE}:9").connect()
    async with codegen_client(f"https://{REMOTE_CODEGEN}:9") as cg:
        with pytest.raises(CodegenError) as cg_err:
            await cg.get_run(1)
    assert loopback_only.connects == [] and loopback_only.resolved == []
    for message in (str(live_err.value), cg_err.value.message):
        assert "SOCKS" in message and "ALL_PROXY" in message
    threat("transport", "Gemini and CodeGen traffic", "a socks5:// proxy crashes the app (ImportError)",
           "SOCKS refused in one line (neither client speaks it)", "0 sockets; both say ALL_PROXY names a SOCKS proxy")


# ======================================================================== the real command
@pytest.fixture
def counting_proxy(peers) -> Iterator[ConnectProxy]:
    proxy = ConnectProxy()
    peers.call(proxy.start())
    yield proxy
    peers.call(proxy.stop())


@pytest.mark.parametrize("command", [
    ["run", "--offline", "--fast", "--json", "--wav", wav("status.wav")],
    ["selftest", "--json"],
    ["runs", "list", "--offline", "--json"],
], ids=["offline-demo", "selftest", "runs-offline"])
def test_the_local_stand_ins_never_go_through_a_proxy(command, app, counting_proxy, guard_dir, threat):
    env = child_env(app, guard_dir, HTTPS_PROXY=counting_proxy.url, https_proxy=counting_proxy.url,
                    ALL_PROXY=counting_proxy.url)
    result = app.run(*command, env=env, timeout=90)
    assert result.rc == 0, result.stderr[-3000:]
    assert counting_proxy.connects == [] and counting_proxy.other_requests == []
    threat("transport", "the offline demo", f"`{' '.join(command[:2])}` sends its loopback traffic to HTTPS_PROXY",
           "loopback targets are always reached directly", f"rc 0 in {result.seconds:.1f} s, 0 CONNECTs")


def test_the_command_refuses_a_socks_proxy_in_one_line(app, guard_dir, threat):
    env = child_env(app, guard_dir, CODEGEN_API_URL=f"https://{REMOTE_CODEGEN}", CODEGEN_API_TOKEN=FAKE_TOKEN,
                    CODEGEN_ORG_ID="1", ALL_PROXY="socks5://127.0.0.1:1080")
    result = app.run("runs", "list", env=env, timeout=60)
    line = result.one_line_error()
    assert result.rc != 0 and "SOCKS" in line and "ALL_PROXY" in line and "blocked by the test" not in line
    threat("transport", "the command line", "ALL_PROXY=socks5://… ends in an ImportError traceback",
           "refused in one line before connecting", f"rc {result.rc}, one line: {line[:80]}…")
