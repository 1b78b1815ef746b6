"""Async HTTP client for the CodeGen agent API.

One pooled ``httpx.AsyncClient`` (HTTP/2 where the server offers it, gzip), with: a total deadline and a
size limit on every response (``body.BoundedBody`` inflates within the limit); timeouts; retries
with jittered exponential backoff on network errors and 5xx; 429 honouring ``Retry-After`` (an
``ErrorEvent("rate_limited")`` on the bus says it is waiting); client-side rate limiters matching the
documented limits (sliding windows, like the server's); single-flight coalescing of identical concurrent
GETs; and a response cache (in memory, read through / written to a ``CacheBackend`` when given one) where
finished runs are kept for good and active runs for a short TTL.  The token is sent in a header and never logged.

A page is checked against what was asked: more than ``limit`` items is a service fault, cut to the limit (said
once in the log, counted as ``codegen.oversized_page``).  A create is never retried blindly: each carries a
marker in its metadata (``api.CREATE_MARKER``), and when a create went unanswered (the deadline passed, the
connection broke after sending, a gateway said 502/503/504) the recent runs are searched for that marker
before the request is sent again: a run it already started is returned, not duplicated.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import ssl
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from desktop import egress
from desktop.codegen.api import (
    CREATE_MARKER,
    ERROR_KINDS,
    LogPage,
    RepoPage,
    Run,
    RunPage,
    ShapeError,
    error_message,
    loads,
)
from desktop.codegen.body import ACCEPT_ENCODING, BodyTooLarge, BodyUndecodable, BoundedBody
from desktop.events import ErrorEvent, EventBus
from desktop.metrics import Metrics
from desktop.tls import certificate_problem

if TYPE_CHECKING:
    from desktop.tracing import Tracer

log = logging.getLogger(__name__)
T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

ACTIVE_TTL_S = 3.0  # an active run's cached copy answers for this long
MAX_RESPONSE_BYTES = 4 << 20  # a page of 100 runs is ~200 KB; nothing the API documents comes near this
DEADLINE_S = 30.0  # one request, connect to last byte, however slowly the server trickles it


class CacheBackend(Protocol):
    """Persistent storage for cached responses (the state store implements it)."""

    def load(self, key: str) -> tuple[bytes, str | None, float | None] | None:
        """(body, etag, expires_at epoch seconds or None = forever), or None when absent."""
        ...

    def save(self, key: str, body: bytes, etag: str | None, expires_at: float | None) -> None: ...


class CodegenError(Exception):
    """A failed CodeGen request; ``str(exc)`` is a speakable, user-facing sentence."""

    def __init__(self, message: str, *, kind: str = "codegen", status: int | None = None):
        super().__init__(message)
        self.message, self.kind, self.status = message, kind, status

    def event(self) -> ErrorEvent:
        action = {"auth": "Check CODEGEN_API_TOKEN and CODEGEN_ORG_ID."}.get(self.kind, "")
        return ErrorEvent(self.kind, self.message, action)


class Unanswered(CodegenError):
    """The request was sent (or may have been) and no answer came: a POST's effect on the server is unknown.
    Never sent again blindly; as a tool's result it says so (``outcome``, ``hint``: Gemini must not retry it)."""

    outcome = "unconfirmed"
    retryable = False
    hint = "It may have taken effect: do not send it again on your own; check the run (get_run_logs) first."


class RateLimiter:
    """At most ``rate`` requests in any ``per`` seconds (a sliding-window log: the server counts the same way,
    where a token bucket of the same rate would allow twice as many in one window).  ``margin_s`` keeps a
    little slack for network delay between the two clocks."""

    def __init__(self, rate: int, per: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
                 margin_s: float = 0.2):
        self.rate, self.per, self.margin_s = rate, per, margin_s
        self.clock, self.sleep = clock, sleep
        self.sent: deque[float] = deque()
        self.waits = 0

    def wait_time(self) -> float:
        now = self.clock()
        while self.sent and self.sent[0] <= now - self.per - self.margin_s:
            self.sent.popleft()
        return 0.0 if len(self.sent) < self.rate else self.sent[0] + self.per + self.margin_s - now

    async def acquire(self) -> None:
        while (delay := self.wait_time()) > 0:
            self.waits += 1
            await self.sleep(delay)
        self.sent.append(self.clock())


@dataclass(frozen=True)
class Limits:
    """Documented limits (requests, window seconds); the client stays inside them."""

    create: tuple[int, float] = (10, 60.0)
    standard: tuple[int, float] = (60, 30.0)
    logs: tuple[int, float] = (60, 60.0)


@dataclass
class _Entry:
    body: bytes
    etag: str | None
    expires_at: float | None  # epoch seconds; None = forever
    # the same moment on the monotonic clock (None: read back from the backend): a wall clock that jumps
    # back cannot make an entry answer for longer than its TTL
    fresh_until: float | None = None


class CodegenClient:
    def __init__(self, base_url: str, token: str, org_id: int, *, bus: EventBus | None = None,
                 metrics: Metrics | None = None, backend: CacheBackend | None = None, limits: Limits = Limits(),
                 timeout_s: float = 15.0, max_retries: int = 4, backoff_s: float = 0.25, max_backoff_s: float = 8.0,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep, wall: Clock = time.time,
                 active_ttl_s: float = ACTIVE_TTL_S, max_rate_wait_s: float = 25.0,
                 ssl_context: ssl.SSLContext | None = None, deadline_s: float = DEADLINE_S,
                 max_response_bytes: int = MAX_RESPONSE_BYTES, tracer: Tracer | None = None):
        self.base_url = base_url.rstrip("/")
        self.tracer = tracer  # a client span per request, its traceparent sent along (None: tracing is off)
        self.org_id = org_id
        self.bus, self.metrics, self.backend = bus, metrics, backend
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self.sleep, self.wall, self.active_ttl_s = sleep, wall, active_ttl_s
        self.clock = clock  # cache ages (monotonic); ``wall`` only stamps what the backend keeps
        self.max_rate_wait_s = max_rate_wait_s  # a longer Retry-After fails at once (a voice answer can't wait)
        self.deadline_s, self.max_response_bytes = deadline_s, max_response_bytes
        self.buckets = {name: RateLimiter(*getattr(limits, name), clock=clock, sleep=sleep)
                        for name in ("create", "standard", "logs")}
        # plain http:// only on loopback, and the proxy from the policy Gemini Live uses too (our own
        # transport: httpx then reads no proxy variables of its own, so a loopback stand-in is never proxied)
        self.route: egress.Route = egress.Route()
        self.refused: egress.Refused | None = None  # said by every request, before any connection
        try:
            self.route = egress.route(self.base_url)
        except egress.Refused as exc:
            self.refused = exc
        transport = httpx.AsyncHTTPTransport(
            verify=ssl_context if ssl_context is not None else True,  # None: httpx's default CA bundle
            http2=True, proxy=self.route.proxy,
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=30.0))
        self.http = httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(timeout_s, connect=5.0), transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     "Accept-Encoding": ACCEPT_ENCODING, "User-Agent": "gemini-codegen-desktop"})
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self.requests = 0  # HTTP requests actually sent (retries included)
        self.oversized_pages = 0  # pages with more items than asked for (cut to the limit)
        self.creates_recovered = 0  # unanswered creates whose run was found by its marker (not created again)

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> CodegenClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ endpoints
    def _org(self, alpha: bool = False) -> str:
        return f"/v1/{'alpha/' if alpha else ''}organizations/{self.org_id}"

    async def create_run(self, prompt: str, *, repo_id: int | None = None,
                         metadata: Mapping[str, Any] | None = None) -> Run:
        """Start a run.  An unanswered create is retried only after the recent runs show it started none."""
        marker = uuid.uuid4().hex
        body: dict[str, Any] = {"prompt": prompt, "metadata": {**dict(metadata or {}), CREATE_MARKER: marker}}
        if repo_id is not None:
            body["repo_id"] = repo_id
        attempt = 0
        while True:
            try:
                raw = await self._send("POST", f"{self._org()}/agent/run", "create", body)
                break
            except Unanswered as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise
                await self.sleep(self._backoff(attempt))
                try:
                    found = await self._created_by(marker)
                except CodegenError:  # cannot tell whether it started a run: sending it again could duplicate it
                    raise exc from None
                if found is not None:
                    self.creates_recovered += 1
                    log.info("an unanswered create had started run %d; using it instead of creating another",
                             found.id)
                    self._remember(found.id, found)
                    return found
        run = _parse(Run.from_json, raw)
        self._remember(run.id, run)
        return run

    async def _created_by(self, marker: str) -> Run | None:
        """The run a create carrying ``marker`` started, if the newest runs hold it."""
        page = await self.list_runs(limit=20)
        return next((run for run in page.items if run.marker == marker), None)

    async def resume_run(self, run_id: int, prompt: str) -> Run:
        """Send ``prompt`` to run ``run_id``.  Never repeated after a gateway error or a lost answer (the agent
        would get the instruction twice): that is an ``Unanswered`` saying to check the run first."""
        try:
            raw = await self._send("POST", f"{self._org()}/agent/run/resume", "standard",
                                   {"agent_run_id": run_id, "prompt": prompt}, what=f"run {run_id}")
        except Unanswered as exc:
            why = f"its gateway answered HTTP {exc.status}" if exc.status else "no answer came"
            raise Unanswered(f"CodeGen did not confirm that run {run_id} got the instruction ({why}). It may have: "
                             "check the run's latest steps before sending it again.", kind=exc.kind,
                             status=exc.status) from None
        run = _parse(Run.from_json, raw)
        self._cache.pop(self._run_key(run_id), None)
        return run

    async def get_run(self, run_id: int) -> Run:
        key = self._run_key(run_id)
        raw = await self._cached_get(key, f"{self._org()}/agent/run/{run_id}", "standard", what=f"run {run_id}")
        return _parse(Run.from_json, raw)

    async def list_runs(self, *, skip: int = 0, limit: int = 20) -> RunPage:
        path = f"{self._org()}/agent/runs?skip={skip}&limit={max(1, min(100, limit))}"
        raw = await self._coalesced(path, lambda: self._send("GET", path, "standard"))
        page = _parse(RunPage.from_json, raw, limit=max(1, min(100, limit)))
        self._check_page(page.dropped, len(page.items))
        for run in page.items:  # every listed run refreshes its own cache entry
            self._remember(run.id, run)
        return page

    async def list_repos(self, *, skip: int = 0, limit: int = 100) -> RepoPage:
        """The organisation's repositories (one page; the standard rate limit)."""
        limit = max(1, min(100, limit))
        path = f"{self._org()}/repos?skip={skip}&limit={limit}"
        raw = await self._coalesced(path, lambda: self._send("GET", path, "standard"))
        page = _parse(RepoPage.from_json, raw, limit=limit)
        self._check_page(page.dropped, len(page.items))
        return page

    async def get_logs(self, run_id: int, *, skip: int = 0, limit: int = 100, reverse: bool = False) -> LogPage:
        path = (f"{self._org(alpha=True)}/agent/run/{run_id}/logs?skip={skip}&limit={max(1, min(100, limit))}"
                f"&reverse={'true' if reverse else 'false'}")
        raw = await self._coalesced(path, lambda: self._send("GET", path, "logs", what=f"run {run_id}"))
        page = _parse(LogPage.from_json, raw, limit=max(1, min(100, limit)))
        self._check_page(page.dropped, len(page.logs))
        return page

    def _check_page(self, dropped: int, kept: int) -> None:
        """A page with more items than asked for is a service fault: it was cut to the limit (said once)."""
        if not dropped:
            return
        self.oversized_pages += 1
        if self.metrics is not None:
            self.metrics.count("codegen.oversized_page")
        if self.oversized_pages == 1:
            log.warning("CodeGen sent a page of %d items where at most %d were asked for (a service fault); the "
                        "first %d were kept and the rest dropped (said once per session)", kept + dropped, kept, kept)

    # ------------------------------------------------------------------ cache
    def _run_key(self, run_id: int) -> str:
        return f"codegen:{self.base_url}:{self.org_id}:run:{run_id}"

    def _remember(self, run_id: int, run: Run) -> None:
        body = json.dumps(_run_json(run)).encode()
        self._store(self._run_key(run_id), body, None, final=run.final)

    def _store(self, key: str, body: bytes, etag: str | None, *, final: bool) -> None:
        expires = None if final else self.wall() + self.active_ttl_s
        self._cache[key] = _Entry(body, etag, expires, None if final else self.clock() + self.active_ttl_s)
        if self.backend is not None:
            try:
                self.backend.save(key, body, etag, expires)
            except Exception:
                log.warning("CodeGen cache backend failed to save; keeping the in-memory copy", exc_info=True)

    def _lookup(self, key: str) -> _Entry | None:
        entry = self._cache.get(key)
        if entry is None and self.backend is not None:
            try:
                loaded = self.backend.load(key)
            except Exception:
                log.warning("CodeGen cache backend failed to load", exc_info=True)
                loaded = None
            if loaded is not None and not self._stamped_ahead(loaded[2]):
                entry = self._cache[key] = _Entry(*loaded)
        return entry

    def _stamped_ahead(self, expires_at: float | None) -> bool:
        """A saved entry that expires later than a fresh one would: it was stamped by a clock that was ahead
        (then set back).  It is dropped, not trusted for the time the jump added."""
        return expires_at is not None and expires_at > self.wall() + self.active_ttl_s

    def _fresh(self, entry: _Entry) -> bool:
        """Final entries always; others until their TTL ends on both clocks (wall: the backend's stamp, also
        passed when the wall clock jumps forward; monotonic: what no wall-clock jump can extend)."""
        if entry.expires_at is None:
            return True
        if entry.expires_at <= self.wall():
            return False
        return entry.fresh_until is None or self.clock() < entry.fresh_until

    async def _cached_get(self, key: str, path: str, bucket: str, *, what: str = "") -> bytes:
        t0 = time.perf_counter()
        entry = self._lookup(key)
        if entry is not None and self._fresh(entry):
            if self.metrics is not None:
                self.metrics.observe_s("codegen.request_hit", time.perf_counter() - t0)
            return entry.body

        async def fetch() -> bytes:
            etag = entry.etag if entry is not None else None
            body, new_etag = await self._request("GET", path, bucket, None, what, etag)
            if body is None and entry is not None:  # 304: the stale copy is still right
                body = entry.body
            assert body is not None
            try:
                final = Run.from_json(loads(body)).final
            except ValueError:  # not a run the app can read (e.g. a bad id): never cached; the caller says why
                return body
            self._store(key, body, new_etag or etag, final=final)
            return body

        return await self._coalesced(path, fetch)

    async def _coalesced(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> bytes:
        """Single flight: concurrent identical GETs share one request."""
        fut = self._inflight.get(key)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            body = await fetch()
        except BaseException as exc:
            if not fut.done():
                fut.set_exception(exc if isinstance(exc, Exception) else CodegenError("request cancelled"))
                fut.exception()  # mark retrieved when nobody else waits
            raise
        else:
            fut.set_result(body)
            return body
        finally:
            self._inflight.pop(key, None)

    # ------------------------------------------------------------------ HTTP
    async def _send(self, method: str, path: str, bucket: str, body: Any = None, *, what: str = "") -> bytes:
        out, _ = await self._request(method, path, bucket, body, what, None)
        assert out is not None
        return out

    async def _request(self, method: str, path: str, bucket: str, body: Any, what: str,
                       etag: str | None) -> tuple[bytes | None, str | None]:
        attempt = 0
        headers = {"If-None-Match": etag} if etag else None
        if self.refused is not None:
            raise CodegenError(f"Not connecting to CodeGen: {self.refused}", kind="network")
        while True:
            await self._take_turn(bucket)
            try:
                status, resp_headers, content = await self._attempt(method, path, body, headers)
            except httpx.TransportError as exc:
                self._retry_unreached(exc, method, attempt)
                attempt += 1
                await self.sleep(self._backoff(attempt))
                continue
            if status == 304:
                return None, resp_headers.get("etag")
            if 200 <= status < 300:
                return content, resp_headers.get("etag")
            wait = self._wait_to_retry(method, status, resp_headers, content, attempt, what)
            attempt += 1
            await self.sleep(wait)

    async def _take_turn(self, bucket: str) -> None:
        """Wait for the request's rate limits: its own bucket, and the standard one (creates have their own)."""
        if bucket != "standard":
            await self.buckets[bucket].acquire()
        if bucket != "create":
            await self.buckets["standard"].acquire()

    async def _attempt(self, method: str, path: str, body: Any,
                       headers: Mapping[str, str] | None) -> tuple[int, httpx.Headers, bytes]:
        """One try, timed (``codegen.request_miss``); a URL that cannot be used is the user's to fix."""
        t0 = time.perf_counter()
        try:
            self.requests += 1
            return await self._exchange(method, path, body, headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise CodegenError(f"The CodeGen URL {self.base_url!r} cannot be used ({exc}). "
                               f"Set CODEGEN_API_URL to an https:// address.", kind="codegen") from None
        finally:
            if self.metrics is not None:
                self.metrics.observe_s("codegen.request_miss", time.perf_counter() - t0)

    def _retry_unreached(self, exc: httpx.TransportError, method: str, attempt: int) -> None:
        """Returns when a request the network failed may be tried again; raises when not."""
        self._never_retried(exc)  # a certificate or a proxy's 407 fails the same way every time
        # a POST is retried only when it surely never reached the server
        safe = method == "GET" or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        if attempt >= self.max_retries or not safe:
            error = CodegenError if safe else Unanswered  # a POST that may have reached the server
            raise error(f"Cannot reach CodeGen at {_host(self.base_url)} ({_reason(exc)}). "
                        f"Check the network.", kind="network") from None

    def _wait_to_retry(self, method: str, status: int, headers: httpx.Headers, content: bytes, attempt: int,
                       what: str) -> float:
        """How long to wait before trying an answered request again (429, a GET's 5xx); raises when it is not
        tried again: a POST a gateway answered (it may have taken effect), or the retries are used up."""
        if status == 429 and attempt < self.max_retries:
            wait = _retry_after(headers.get("retry-after"), self._backoff(attempt + 1))
            if self.metrics is not None:
                self.metrics.count("rate_limited")
            if wait > self.max_rate_wait_s:
                raise CodegenError(f"CodeGen is rate limiting requests; try again in {_duration(wait)}.",
                                   kind="rate_limited", status=429)
            if self.bus is not None:
                self.bus.emit(ErrorEvent("rate_limited", f"CodeGen is rate limiting requests; waiting "
                                                         f"{wait:.0f} s before trying again.", ""))
            return wait
        if method == "POST" and status in (502, 503, 504):  # a gateway's word: the POST may have taken effect
            raise Unanswered(error_message(status, None, what=what), kind=_kind(status), status=status)
        if status >= 500 and attempt < self.max_retries and (method == "GET" or status in (502, 503, 504)):
            return self._backoff(attempt + 1)
        try:
            payload = json.loads(content)
        except ValueError:
            payload = None
        raise CodegenError(error_message(status, payload, what=what), kind=_kind(status), status=status)

    async def _exchange(self, method: str, path: str, body: Any,
                        headers: Mapping[str, str] | None) -> tuple[int, httpx.Headers, bytes]:
        """One request (traced when tracing is on: each attempt is a client span)."""
        if self.tracer is None:
            return await self._exchange_once(method, path, body, headers)
        with self.tracer.http_request(method, self.base_url + path) as span:
            answer = await self._exchange_once(method, path, body, {**(headers or {}), **span.headers})
            span.status(answer[0])
            return answer

    async def _exchange_once(self, method: str, path: str, body: Any,
                             headers: Mapping[str, str] | None) -> tuple[int, httpx.Headers, bytes]:
        """One request, streamed: the body is read (and inflated) up to ``max_response_bytes`` and the whole
        exchange ends within ``deadline_s``; either limit stops it at once with a ``CodegenError``."""
        limit = self.max_response_bytes
        try:
            async with asyncio.timeout(self.deadline_s):
                async with self.http.stream(method, path, json=body, headers=headers) as resp:
                    content = BoundedBody(limit, resp.headers.get("content-encoding"),
                                          resp.headers.get("content-length"))
                    async for chunk in resp.aiter_raw():
                        content.feed(chunk)
                    return resp.status_code, resp.headers, content.finish()
        except TimeoutError:
            raise Unanswered(f"CodeGen did not finish answering within {self.deadline_s:g} s, so the request "
                               f"was stopped (codegen_timeout_s). Try again; check the network if it persists.",
                               kind="network") from None
        except BodyTooLarge as exc:
            size = f" ({_megabytes(exc.declared)})" if exc.declared else ""
            raise CodegenError(f"CodeGen sent a response larger than {_megabytes(limit)}{size}, so it was stopped "
                               f"unread. Try again; if it persists, the service or a proxy in between is "
                               f"misbehaving.", kind="codegen") from None
        except BodyUndecodable as exc:
            raise CodegenError(f"CodeGen sent a response I could not read ({exc}).", kind="codegen") from None

    def _never_retried(self, exc: httpx.TransportError) -> None:
        """Raise at once for a failure that no retry can cure: the server's certificate refused (named:
        untrusted issuer, another host name, expired), or the proxy asking for a login (HTTP 407)."""
        host = _host(self.base_url)
        problem = certificate_problem(exc, host)
        if problem is not None:
            raise CodegenError(f"Cannot connect securely to CodeGen at {host}: {problem.why}. {problem.action}",
                               kind="network") from None
        if isinstance(exc, httpx.ProxyError) and str(exc).startswith("407"):
            route = self.route
            why = ("refused the user name and password in its URL" if route.has_credentials
                   else "asks for a user name and password")
            raise CodegenError(f"The proxy {route.shown} (from {route.variable}) {why} (HTTP 407). Put them in "
                               f"{route.variable} as http://USER:PASSWORD@HOST:PORT, or add {host} to NO_PROXY.",
                               kind="network") from None

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff."""
        return random.uniform(0.5, 1.0) * min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))


def _kind(status: int) -> str:
    return ERROR_KINDS.get(status, "codegen")


def _retry_after(value: str | None, default: float) -> float:
    """Seconds to wait, as the server said (seconds or an HTTP date); ``default`` when absent or unreadable."""
    if value:
        try:
            seconds = float(value)
            return max(0.0, seconds) if math.isfinite(seconds) else default
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError, OverflowError):
                pass
    return default


def _duration(seconds: float) -> str:
    """A wait the way a person says it: "45 seconds", "17 minutes", "3 hours", "12 days"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            n = round(seconds / size)
            return f"{n} {unit}s"
    n = round(seconds)
    return f"{n} second{'s' if n != 1 else ''}"


def _megabytes(n: int) -> str:
    return f"{n / 2**20:g} MB"


def _host(url: str) -> str:
    return httpx.URL(url).host or url


def _reason(exc: Exception) -> str:
    """What went wrong on the wire, in words (httpx's message, else the kind of failure)."""
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


def _parse(from_json: Callable[..., T], raw: bytes, **kwargs: Any) -> T:
    try:
        return from_json(loads(raw), **kwargs)
    except (ValueError, ShapeError) as exc:
        raise CodegenError(f"CodeGen sent a response I could not read ({exc}).") from None


def _run_json(run: Run) -> dict[str, Any]:
    """A run back to its wire shape (for the cache)."""
    return {"id": run.id, "organization_id": run.organization_id, "status": run.status,
            "created_at": run.created_at, "web_url": run.web_url, "result": run.result, "summary": run.summary,
            "source_type": run.source_type,
            "metadata": {**({"prompt": run.prompt} if run.prompt else {}),
                         **({CREATE_MARKER: run.marker} if run.marker else {}),
                         **({"repo": run.repo} if run.repo else {})},
            "github_pull_requests": [{"id": p.id, "title": p.title, "url": p.url, "created_at": p.created_at,
                                      "head_branch_name": p.head_branch_name} for p in run.pull_requests]}
