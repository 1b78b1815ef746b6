"""TLS for the endpoints and for the local stand-ins.

The app talks to Gemini Live over ``wss://`` and to CodeGen over ``https://`` with the default trust stores.
The local stand-ins (offline demo, tests, load test) serve the same TLS with a throwaway self-signed
certificate for loopback; a client trusts it because that certificate is loaded as a CA into the
connection's own context.  Verification is never turned off anywhere.

``ca_file`` (a setting) adds CA certificates to the system's for the app's own connections: a company TLS
proxy, or a stand-in started with ``gemini-codegen emulate ... --tls``.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

IDENTITY_MAX_AGE_S = 24 * 3600  # a fresh loopback certificate at least once a day (each is valid 30 days)


@dataclass(frozen=True)
class TlsIdentity:
    """A certificate and its private key (PEM) for 127.0.0.1, ::1 and localhost."""

    cert_pem: bytes
    key_pem: bytes
    created: float = 0.0  # time.time() when made

    @classmethod
    def self_signed(cls, days: int = 30) -> TlsIdentity:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                           x509.IPAddress(ipaddress.ip_address("::1")), x509.DNSName("localhost")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=days)).add_extension(san, critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(cert.public_bytes(serialization.Encoding.PEM),
                   key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()), time.time())

    def write(self, directory: Path) -> tuple[Path, Path]:
        """The certificate and key as PEM files in ``directory`` (both readable by their owner only)."""
        from desktop.private_files import write_private

        cert_path, key_path = directory / "emulator-cert.pem", directory / "emulator-key.pem"
        write_private(cert_path, self.cert_pem)  # 0600 files in a 0700 folder
        write_private(key_path, self.key_pem)
        return cert_path, key_path

    def server_context(self) -> ssl.SSLContext:
        with tempfile.TemporaryDirectory(prefix="gemini-codegen-tls-") as tmp:
            return server_context(*self.write(Path(tmp)))

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate and nothing else."""
        return ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))


_identity: TlsIdentity | None = None
_identity_lock = threading.Lock()


def loopback_identity() -> TlsIdentity:
    """The process's certificate for its in-process stand-ins (made once, renewed daily)."""
    global _identity
    with _identity_lock:
        if _identity is None or time.time() - _identity.created > IDENTITY_MAX_AGE_S:
            _identity = TlsIdentity.self_signed()
        return _identity


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for loopback written to ``directory``: (cert.pem, key.pem)."""
    return TlsIdentity.self_signed().write(directory)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def client_ssl_context(cert: Path) -> ssl.SSLContext:
    """A client context that trusts only the certificate(s) in ``cert``."""
    return ssl.create_default_context(cafile=str(cert))


def endpoint_context(ca_file: str | None) -> ssl.SSLContext | None:
    """The context for the configured endpoints: None means each library's default trust store (as for
    Google); with ``ca_file``, the system's CAs plus the ones in that file."""
    if not ca_file:
        return None
    ctx = ssl.create_default_context()
    try:
        ctx.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        from desktop.config import ConfigError

        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise ConfigError(f"setting 'ca_file': cannot load CA certificates from {ca_file} ({reason})") from None
    return ctx


# OpenSSL's verify results (X509_V_ERR_*) by what the user can do about them
_UNTRUSTED = {2, 18, 19, 20, 21, 27, 28}  # no known issuer, self-signed, untrusted or rejected root
_WRONG_HOST = {62, 64}  # host name / IP address mismatch
_EXPIRED, _NOT_YET_VALID = 10, 9
CA_FILE_HINT = "the ca_file setting (--ca-file, GEMINI_CODEGEN_CA_FILE)"


@dataclass(frozen=True)
class CertificateProblem:
    """Why a server's certificate was refused, in the user's terms: ``why`` finishes "…because …";
    ``action`` says what to do.  A certificate failure is never retried: it would fail the same way."""

    kind: str  # "untrusted" | "wrong_host" | "expired" | "not_yet_valid" | "other"
    why: str
    action: str


def certificate_problem(exc: BaseException | None, host: str) -> CertificateProblem | None:
    """The certificate failure behind ``exc`` (anywhere in its chain of causes), or None when it is not one."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return _explain(exc, host)
        exc = exc.__cause__ or exc.__context__
    return None


def _explain(exc: ssl.SSLCertVerificationError, host: str) -> CertificateProblem:
    code = getattr(exc, "verify_code", None)  # set by OpenSSL's handshake (absent on one made by hand)
    detail = getattr(exc, "verify_message", None) or exc.reason or "certificate verify failed"
    if code in _UNTRUSTED:
        return CertificateProblem(
            "untrusted", f"its certificate comes from an issuer this app does not trust ({detail})",
            f"If {host} is a company TLS proxy or a local stand-in, add its CA certificate with {CA_FILE_HINT}.")
    if code in _WRONG_HOST:
        return CertificateProblem(
            "wrong_host", f"its certificate is for another host name, not {host} ({detail})",
            "Check the host name in the endpoint URL; a certificate for another host is never accepted.")
    if code == _EXPIRED:
        return CertificateProblem(
            "expired", f"its certificate has expired ({detail})",
            "Check this computer's date and time; if they are right, the server's certificate must be renewed.")
    if code == _NOT_YET_VALID:
        return CertificateProblem(
            "not_yet_valid", f"its certificate is not valid yet ({detail})",
            "Check this computer's date and time.")
    return CertificateProblem("other", f"its TLS certificate is not trusted ({detail})",
                              f"If {host} is a company TLS proxy or a local stand-in, add its CA certificate "
                              f"with {CA_FILE_HINT}.")
