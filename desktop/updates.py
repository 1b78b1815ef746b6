"""Is a newer release out?  A notice only: nothing is ever downloaded or installed.

**The feed** is GitHub's releases API for the repository the build came from (the release workflow records
it in ``build_info.json``): ``https://api.github.com/repos/OWNER/NAME/releases?per_page=10``, the newest ten
releases, pre-releases included (offered only to someone already running a pre-release; ``releases/latest``
would never show them).  The ``update_feed_url`` setting points elsewhere: any URL that answers with one
release object or a list of them in the same shape (``tag_name`` "v1.2.3" or "1.2.3", ``html_url``,
``body`` for the notes, optional ``prerelease`` and ``draft``).  A build from source has no repository, so
it checks nothing unless a feed is set.

**What is sent** is one GET of the feed, without cookies, keys or anything naming this computer or this
copy (the User-Agent says only "gemini-codegen", as GitHub asks for one), through the app's egress policy
(``desktop.egress``: plain http only to this computer, the proxy variables) and its TLS trust
(``desktop.tls.endpoint_context``: the system's CAs plus ``ca_file``).  Redirects are followed only to https
(a few hops); the body is read up to ``MAX_FEED_BYTES``; the whole exchange ends within ``TIMEOUT_S``.

**When**: the window asks once the session is up (``check``), never in the offline demo, never with
``check_updates`` off (``GEMINI_CODEGEN_CHECK_UPDATES=0``), and at most once a day: the time of the last
request is kept in the config folder (``update-check.json``, private), with the version the user dismissed
(not offered again).  A feed that fails in any way (not JSON, the wrong shapes, a version that is not one,
HTTP errors, too big, too slow, a redirect to http) costs one log line and shows nothing.

What the feed says is data: the version must parse (PEP 440, ``packaging.version``), the notes are cut to
``NOTES_CHARS`` and shown as text, the link is kept only when it is https (the window checks it again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from packaging.version import InvalidVersion, Version

from desktop import __version__, buildinfo, egress
from desktop.config import Settings, config_dir
from desktop.private_files import write_private

log = logging.getLogger(__name__)

FEED_TEMPLATE = "https://api.github.com/repos/{repository}/releases?per_page=10"
CHECK_EVERY_S = 24 * 3600
TIMEOUT_S = 5.0  # the whole exchange, redirects included
MAX_FEED_BYTES = 1 << 20  # ten releases with long notes fit easily
MAX_REDIRECTS = 3
MAX_RELEASES = 100  # entries looked at in a list
MAX_VERSION_CHARS = 64
NOTES_CHARS = 600
NOTES_LINES = 8
HEADERS = {"Accept": "application/vnd.github+json, application/json", "User-Agent": "gemini-codegen"}
STATE_FILE = "update-check.json"


class FeedError(Exception):
    """Why the feed could not be used (one line, for the log)."""


@dataclass(frozen=True, slots=True)
class Release:
    version: str  # normalised (PEP 440): safe to show as it is
    notes: str  # the feed's text, cut to NOTES_CHARS / NOTES_LINES: untrusted, shown as text only
    url: str  # the release page if the feed gave an https one, else ""


@dataclass(frozen=True, slots=True)
class Outcome:
    release: Release | None  # a newer release to offer (not dismissed), or None
    message: str  # one line: what happened
    requested: bool = False  # the feed was asked
    failed: bool = False


@dataclass(frozen=True, slots=True)
class CheckState:
    checked_at: float | None = None  # time.time() of the last request
    dismissed: str = ""  # the version the user closed the notice of


# ---------------------------------------------------------------------------------------------- the feed
def feed_url(settings: Settings, build: buildinfo.BuildInfo | None = None) -> str | None:
    """The feed to ask: the setting, else the releases of the repository the build came from, else None."""
    if settings.update_feed_url:
        return settings.update_feed_url
    repository = (build or buildinfo.current()).repository
    return FEED_TEMPLATE.format(repository=repository) if repository else None


def parse_version(text: object) -> Version | None:
    """A tag such as "v1.2.3" as a version, or None when it is not one."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_VERSION_CHARS:
        return None
    text = text.strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    try:
        return Version(text)
    except InvalidVersion:
        return None


def newest_release(body: bytes, current: str = __version__) -> Release | None:
    """The newest release in the feed ``body`` that is newer than ``current`` (a pre-release only when
    ``current`` is one; drafts never), or None when there is none.  ``FeedError`` when the feed is not
    one: not JSON, not a release or a list of them, or no release with a readable version."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise FeedError("the feed is not JSON") from None
    entries = [data] if isinstance(data, dict) else data if isinstance(data, list) else None
    if entries is None:
        raise FeedError(f"the feed is a JSON {type(data).__name__}, not a release or a list of releases")
    mine = Version(current)
    readable = 0
    best: tuple[Version, dict[str, Any]] | None = None
    for entry in entries[:MAX_RELEASES]:
        if not isinstance(entry, dict):
            continue
        version = parse_version(entry.get("tag_name"))
        if version is None:
            continue
        readable += 1
        if entry.get("draft") is True:
            continue
        pre = version.is_prerelease or entry.get("prerelease") is True
        if pre and not mine.is_prerelease:
            continue
        if version > mine and (best is None or version > best[0]):
            best = version, entry
    if not readable:
        raise FeedError("no release in the feed has a readable version (tag_name)")
    if best is None:
        return None
    version, entry = best
    url = entry.get("html_url")
    return Release(str(version), _notes(entry.get("body")),
                   url if isinstance(url, str) and urlsplit(url).scheme == "https" else "")


def _notes(body: object) -> str:
    if not isinstance(body, str):
        return ""
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").split("\n")]
    text = "\n".join(line for line in lines[:NOTES_LINES]).strip()
    if len(lines) > NOTES_LINES or len(text) > NOTES_CHARS:
        text = text[: NOTES_CHARS - 1].rstrip() + "…"
    return text


async def fetch_feed(url: str, *, timeout_s: float = TIMEOUT_S, max_bytes: int = MAX_FEED_BYTES,
                     ca_file: str | None = None, env: Mapping[str, str] | None = None) -> bytes:
    """The feed's body: one GET (plus at most ``MAX_REDIRECTS`` redirects, to https only), within
    ``timeout_s`` in all and ``max_bytes``.  Raises ``FeedError`` (or ``egress.Refused``, or an httpx or
    TLS error) when it cannot be had."""
    import httpx

    from desktop.codegen.body import ACCEPT_ENCODING, BodyTooLarge, BodyUndecodable, BoundedBody
    from desktop.tls import endpoint_context

    context = endpoint_context(ca_file)
    try:
        async with asyncio.timeout(timeout_s):
            for _hop in range(MAX_REDIRECTS + 1):
                route = egress.route(url, env)  # plain http only to this computer; the proxy variables
                transport = httpx.AsyncHTTPTransport(verify=context if context is not None else True,
                                                     proxy=route.proxy)
                async with httpx.AsyncClient(transport=transport, timeout=timeout_s, follow_redirects=False,
                                             headers={**HEADERS, "Accept-Encoding": ACCEPT_ENCODING}) as client:
                    async with client.stream("GET", url) as resp:
                        if resp.is_redirect and resp.headers.get("location"):
                            target = urljoin(url, resp.headers["location"])
                            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                                raise FeedError(f"the feed redirected from https to {urlsplit(target).scheme}")
                            url = target
                            continue
                        if resp.status_code != 200:
                            raise FeedError(f"the feed answered HTTP {resp.status_code}")
                        body = BoundedBody(max_bytes, resp.headers.get("content-encoding"),
                                           resp.headers.get("content-length"))
                        async for chunk in resp.aiter_raw():
                            body.feed(chunk)
                        return body.finish()
    except TimeoutError:
        raise FeedError(f"the feed did not answer within {timeout_s:g} s") from None
    except BodyTooLarge:
        raise FeedError(f"the feed is larger than {max_bytes} bytes") from None
    except BodyUndecodable as exc:
        raise FeedError(f"the feed could not be read ({exc})") from None
    raise FeedError(f"the feed redirected more than {MAX_REDIRECTS} times")


# ---------------------------------------------------------------------------------------------- the state
def state_path() -> Path:
    return config_dir() / STATE_FILE


def load_state(path: Path | None = None) -> CheckState:
    """What the last checks left (a missing or unreadable file: nothing)."""
    try:
        data = json.loads((path or state_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CheckState()
    if not isinstance(data, dict):
        return CheckState()
    at, dismissed = data.get("checked_at"), data.get("dismissed")
    return CheckState(float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None,
                      dismissed if isinstance(dismissed, str) else "")


def save_state(state: CheckState, path: Path | None = None) -> None:
    write_private(path or state_path(), json.dumps({"checked_at": state.checked_at, "dismissed": state.dismissed}))


def dismiss(version: str, path: Path | None = None) -> None:
    """The user closed the notice of ``version``: it is not offered again (a newer one is)."""
    try:
        save_state(replace(load_state(path), dismissed=version), path)
    except OSError as exc:
        log.warning("could not remember the dismissed update %s: %s", version, exc.strerror or exc)


def due(state: CheckState, now: float) -> bool:
    """No request within the last day (a clock set back counts as a day gone by)."""
    return state.checked_at is None or not 0 <= now - state.checked_at < CHECK_EVERY_S


def skip_reason(settings: Settings, *, demo: bool, url: str | None) -> str | None:
    """Why no automatic check may be made now, or None."""
    if not settings.check_updates:
        return "update checks are off (check_updates)"
    if demo:
        return "no update check in the offline demo"
    if not url:
        return "no release feed for a build from source (set update_feed_url to check one)"
    return None


async def check(settings: Settings, *, demo: bool, now: float | None = None, current: str = __version__,
                path: Path | None = None, timeout_s: float = TIMEOUT_S, force: bool = False,
                build: buildinfo.BuildInfo | None = None) -> Outcome:
    """Ask the feed whether a newer release than ``current`` is out, if allowed and due (``force``: now,
    whatever the setting, the day's limit and a dismissal say: the user asked).  Never raises: a failure is
    one log line and an ``Outcome`` that says it."""
    url = feed_url(settings, build)
    if not force and (reason := skip_reason(settings, demo=demo, url=url)):
        return Outcome(None, reason)
    if not url:
        return Outcome(None, "no release feed for a build from source: set update_feed_url", failed=True)
    now = time.time() if now is None else now
    state = load_state(path)
    if not force and not due(state, now):
        return Outcome(None, "already checked within the last day")
    try:
        save_state(replace(state, checked_at=now), path)  # a failing feed is asked once a day too
    except OSError as exc:
        log.warning("could not record the update check: %s", exc.strerror or exc)
    try:
        release = newest_release(await fetch_feed(url, timeout_s=timeout_s, ca_file=settings.ca_file), current)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the feed did: one line, no notice
        why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        log.warning("update check failed (%s): %s", egress.host_of(url) or "feed", why)
        return Outcome(None, f"update check failed: {why}", requested=True, failed=True)
    if release is None:
        return Outcome(None, f"{current} is the newest release", requested=True)
    if release.version == state.dismissed and not force:
        return Outcome(None, f"version {release.version} is available (dismissed)", requested=True)
    return Outcome(release, f"version {release.version} is available (this is {current})", requested=True)


# ---------------------------------------------------------------------------------------------- command line
def register_cli(sub: Any, common: Any, groups: dict[str, Any]) -> None:
    p = sub.add_parser("update-check", parents=[common],
                       help="ask the release feed now whether a newer version is out (tells only; never downloads)")
    p.add_argument("--feed", metavar="URL", help="the feed to ask (default: the update_feed_url setting, else the "
                                                 "releases of the repository this build came from)")
    p.set_defaults(handler=cmd_update_check)


def cmd_update_check(args: Any) -> int:
    from desktop.commands import settings_from_args
    from desktop.config import check_settings
    from desktop.terminal_text import plain

    settings = settings_from_args(args, use_keyring=False)
    if args.feed:
        settings = settings.replace(update_feed_url=args.feed)
        check_settings(settings, "--feed")
    outcome = asyncio.run(check(settings, demo=False, force=True))
    print(plain(outcome.message))
    if outcome.release is not None:
        if outcome.release.notes:
            print(plain(outcome.release.notes))
        if outcome.release.url:
            print(plain(outcome.release.url))
    return 1 if outcome.failed else 0
