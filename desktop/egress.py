"""How the app's connections leave this computer: which URLs may be plain, and which go through a proxy.

One policy for both services (Gemini Live over websockets, CodeGen over httpx), decided here before any
socket is opened:

* **Plain only on loopback.** ``ws://`` and ``http://`` are allowed to 127.0.0.0/8, ::1 and ``localhost``
  only (the local stand-ins); to any other host the API key or token would travel in clear, so such a URL
  is refused before connecting (``plain_url_problem``, also used by the settings' validation).
* **Proxies from the standard variables**, read the same way for both: ``https_proxy``/``HTTPS_PROXY``, else
  ``all_proxy``/``ALL_PROXY`` (the lower-case name wins, as with curl and urllib), minus the hosts in
  ``no_proxy``/``NO_PROXY`` (names match themselves and their subdomains; IP addresses and CIDR blocks;
  ``host:port``; ``*`` for all).  A loopback target is always reached directly, whatever they say: the
  local stand-ins never go through a proxy.  HTTP(S) proxies are used with CONNECT; a SOCKS proxy is
  refused in one line (neither client here speaks SOCKS).

The clients own the wire: they ask ``route(url)`` and get either a ``Route`` (direct, or which proxy) or a
``Refused`` whose ``message`` and ``action`` are one line for the user.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

PLAIN_SCHEMES = {"ws": "wss", "http": "https"}  # plain scheme -> its TLS twin
PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")  # in order of precedence
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
LOOPBACK_DESCRIPTION = "this computer (127.0.0.1, ::1, localhost)"


class Refused(ValueError):
    """A connection the policy does not allow; ``message`` says why, ``action`` what to do (one line each)."""

    def __init__(self, message: str, action: str = ""):
        super().__init__(f"{message} {action}".strip())
        self.message, self.action = message, action


@dataclass(frozen=True)
class Route:
    """How to reach a URL: directly (``proxy`` None) or through the HTTP(S) proxy ``proxy``."""

    proxy: str | None = None  # the proxy's URL, credentials included (never print it: see ``shown``)
    variable: str = ""  # where it came from: "HTTPS_PROXY", "all_proxy", ...

    @property
    def shown(self) -> str:
        """The proxy as it may be printed: scheme, host and port, never a user name or password."""
        return proxy_shown(self.proxy) if self.proxy else "direct"

    @property
    def has_credentials(self) -> bool:
        return bool(self.proxy and urlsplit(self.proxy).username)


def host_of(url: str) -> str:
    """The host of ``url``, lower case, without brackets or a trailing dot ("" when it has none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and ``localhost``: the addresses that never leave this
    computer.  Other spellings the resolver might accept (``127.1``, decimal, hex) are not loopback here."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def plain_url_problem(url: str) -> str | None:
    """Why ``url`` must not be used because it is plain (``ws://``, ``http://``) to a host that is not this
    computer; None for a TLS URL or a loopback one."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None  # not a URL at all: the caller's own check says so
    if scheme not in PLAIN_SCHEMES:
        return None
    host = host_of(url)
    if is_loopback(host):
        return None
    return (f"{scheme}:// is unencrypted, so it is only allowed to {LOOPBACK_DESCRIPTION}, not to "
            f"{host or 'an unnamed host'}: the key or token would be sent in clear; use "
            f"{PLAIN_SCHEMES[scheme]}://")


def route(url: str, env: Mapping[str, str] | None = None) -> Route:
    """How to connect to ``url``; raises ``Refused`` for a plain URL off this computer or a SOCKS proxy."""
    if problem := plain_url_problem(url):
        raise Refused(f"{problem}.")
    host = host_of(url)
    if is_loopback(host):
        return Route()  # the local stand-ins: never through a proxy
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("https", "wss"):
        return Route()
    env = os.environ if env is None else env
    variable, proxy = _proxy_setting(env)
    if not proxy or _bypassed(host, _port(url), _no_proxy(env)):
        return Route()
    if "://" not in proxy:
        proxy = "http://" + proxy  # "proxy.corp:3128", as curl reads it
    proxy_scheme = urlsplit(proxy).scheme.lower()
    if proxy_scheme.startswith("socks"):
        raise Refused(f"{variable} names a SOCKS proxy ({proxy_shown(proxy)}), which this app cannot use.",
                      f"Set HTTPS_PROXY to an HTTP proxy, or add {host} to NO_PROXY.")
    if proxy_scheme not in ("http", "https") or not host_of(proxy):
        raise Refused(f"{variable} is not a usable proxy URL ({proxy_shown(proxy)}).",
                      "Set it to http://HOST:PORT (or https://), or unset it.")
    return Route(proxy, variable)


def proxy_shown(proxy: str) -> str:
    """A proxy URL without its user name and password."""
    try:
        parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unreadable URL"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}"


def _proxy_setting(env: Mapping[str, str]) -> tuple[str, str]:
    for name in PROXY_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return "", ""


def _no_proxy(env: Mapping[str, str]) -> list[str]:
    for name in NO_PROXY_VARIABLES:
        value = env.get(name)
        if value is not None and value.strip():
            return [e.strip().lower() for e in value.split(",") if e.strip()]
    return []


def _port(url: str) -> int:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return port or (443 if parts.scheme.lower() in ("https", "wss") else 80)


def _bypassed(host: str, port: int, entries: list[str]) -> bool:
    """Whether NO_PROXY's ``entries`` send ``host:port`` direct."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    for entry in entries:
        if entry == "*":
            return True
        name, want_port = entry, None
        if entry.startswith("[") and "]" in entry:  # [::1]:8080
            name, _, rest = entry[1:].partition("]")
            want_port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:  # host:port (an IPv6 address has more colons)
            name, want_port = entry.split(":")
        if want_port is not None and want_port != str(port):
            continue
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.removeprefix("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False
