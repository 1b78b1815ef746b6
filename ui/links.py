"""Links from CodeGen go only where they say: https:// to a named host (and, in the offline demo, the local
stand-ins' pages on this machine), labelled with that host, opened by our own code.

A service URL is never handed to the system opener as it came: ``target()`` checks it (one parse, Qt's
own, the same that opens it) and a label offers a link only for what passed; ``open_target()`` is the one
place that calls ``QDesktopServices.openUrl``.  Anything else (file://, javascript:, smb://, a .desktop
file, a made-up scheme, a URL with a user name or with spaces) is shown as text, not as a link.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from ui.plain_text import escape

log = logging.getLogger(__name__)
MAX_URL = 2048
LOOPBACK = ("127.0.0.1", "::1", "localhost")
SHOWN_URL_CHARS = 200  # a URL refused as a link is shown as text, this long at most


def host_of(url: QUrl) -> str:
    """The host as it is resolved (IDN in its ASCII form: a look-alike name shows as what it is)."""
    return url.host(QUrl.ComponentFormattingOption.FullyEncoded)


def target(url: str, *, local: bool = False) -> QUrl | None:
    """The URL to open for ``url``, or None when it may not be opened.

    https:// with a host and nothing hidden before it (no user info); with ``local`` (the offline demo) also
    http(s):// to this machine (127.0.0.1, ::1, localhost), the stand-ins' pages.  A loopback host is refused
    outside the demo: a service has no business sending the user to a port on their own machine.
    """
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    q = QUrl(url, QUrl.ParsingMode.StrictMode)
    if not q.isValid() or q.isRelative() or q.userInfo() or not q.host():
        return None
    scheme, host = q.scheme().lower(), host_of(q).lower()
    is_loopback = host in LOOPBACK
    if is_loopback:
        return q if local and scheme in ("http", "https") else None
    return q if scheme == "https" else None


def anchor(url: str, label: str, *, local: bool = False) -> tuple[str, QUrl | None]:
    """Rich text for ``label`` linking to ``url`` (the host shown after the label), and the URL it opens; a
    refused URL gives the label and the URL as plain text, and None."""
    q = target(url, local=local)
    if q is None:
        return f"{escape(label)}: {escape(url, SHOWN_URL_CHARS)}", None
    return f'<a href="{html.escape(url, quote=True)}">{escape(label)} ({html.escape(host_of(q))})</a>', q


def open_target(url: QUrl) -> bool:
    """The one place a service link reaches the system opener (checked again: only what ``target`` allows)."""
    scheme, host = url.scheme().lower(), host_of(url).lower()
    if not (scheme == "https" or (scheme == "http" and host in LOOPBACK)) or not host or url.userInfo():
        log.warning("refused to open a link to %s", url.scheme() or "an unknown scheme")
        return False
    return QDesktopServices.openUrl(url)
