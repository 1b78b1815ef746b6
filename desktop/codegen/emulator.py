"""A local CodeGen agent API server on loopback (asyncio + h11, HTTP/1.1 keep-alive; https:// with ``tls``).

Real paths and shapes (see the API reference), the organisation's repositories (``DEMO_REPOS``, or the
``repos`` given) included; runs advance through realistic statuses and log steps on a
configurable clock (``step_s`` seconds of ``clock`` per step; 0 = finished at once); the documented rate
limits are enforced with 429 + ``Retry-After``; ETag / If-None-Match answers 304; gzip when asked.
Fault injection: ``5xx`` bursts, ``slow`` responses, ``drop`` (close without answering), ``lowercase``
statuses, ``extra`` unknown fields and ``stall_create`` (a create is carried out, then its answer is held
back that many seconds: the client's deadline passes with the run already started).  A create's ``metadata``
is kept with the run and returned with it, as the service does.  ``stats`` counts every request, per route, for tests.
A prompt containing the word "fail" makes a run end in ERROR.

With a ``state_path`` (the offline demo keeps it in the data dir) the runs and the id counter are saved
after every change and loaded at start, so restarting the session or the app never reuses a run id; a
run's progress is kept in wall-clock time.  Its links point at the emulator itself (``/demo/...`` pages
that say they are the demo's stand-ins), never at a real code host.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import html
import json
import logging
import math
import re
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11

from desktop.private_files import exclusive, private_file, write_private
from desktop.words import shorten

log = logging.getLogger(__name__)
Clock = Callable[[], float]
FIRST_ID = 1001
PR_TITLE_CHARS = 72  # a pull request's title, from the request: whole words and phrases, "…" when cut

# (status once this step is reached, message_type, thought, tool_name)
SCRIPT: tuple[tuple[str, str, str, str], ...] = (
    ("RUNNING", "PLAN_EVALUATION", "Planning: reading the request and finding the code involved", ""),
    ("RUNNING", "ACTION", "Searching the repository", "ripgrep_search"),
    ("RUNNING", "ACTION", "Editing the code and running the tests", "file_edit"),
    ("EVALUATION", "INITIAL_PR_GENERATION", "Opening a pull request", "create_pr"),
    ("COMPLETE", "FINAL_ANSWER", "Opened a pull request with the change and passing tests", ""),
)
FAIL_STEP = ("ERROR", "ERROR", "The tests kept failing, so the agent stopped", "")
DEFAULT_LIMITS = {"create": (10, 60.0), "standard": (60, 30.0), "logs": (60, 60.0)}
# the demo organisation's repositories (RepoResponse): names of the kinds developers say aloud
DEMO_REPOS: tuple[dict[str, Any], ...] = tuple(
    {"id": 501 + i, "name": name, "full_name": f"acme/{name}", "description": description, "github_id": str(9100 + i),
     "organization_id": 1, "visibility": "PRIVATE", "archived": False, "setup_status": "COMPLETE",
     "language": language}
    for i, (name, description, language) in enumerate((
        ("api", "The public REST API and its login service", "Python"),
        ("web-dashboard", "The customer dashboard", "TypeScript"),
        ("payments-service", "Card payments and invoices", "Go"),
        ("flaky-login-test", "A reproduction of the intermittent login test failure", "Python"),
        ("infra-terraform", "Cloud infrastructure as code", "HCL"),
    )))


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class EmuRun:
    id: int
    org_id: int
    prompt: str
    started: float  # emulator clock
    created_at: str
    metadata: dict[str, Any]
    fails: bool = False
    earlier_logs: list[dict[str, Any]] = field(default_factory=list)  # from before a resume
    prs: list[dict[str, Any]] = field(default_factory=list)

    def steps(self, now: float, step_s: float) -> int:
        n = len(SCRIPT) if step_s <= 0 else int(max(0.0, now - self.started) / step_s)
        return min(n, 3 if self.fails else len(SCRIPT))

    def script(self) -> list[tuple[str, str, str, str]]:
        return [*SCRIPT[:2], FAIL_STEP] if self.fails else list(SCRIPT)


@dataclass
class Stats:
    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    connections: int = 0
    traceparents: deque[str] = field(default_factory=lambda: deque(maxlen=100))  # W3C trace context received


class CodegenEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
                 org_id: int | None = None, step_s: float = 3.0, clock: Clock = time.monotonic,
                 limits: dict[str, tuple[int, float]] | None = None, run_allowance: int | None = None,
                 state_path: Path | None = None, tls: ssl.SSLContext | None = None,
                 repos: tuple[dict[str, Any], ...] = DEMO_REPOS):
        self.host, self.port = host, port
        self.tls = tls  # a server context: https:// (desktop.tls), else plain http://
        self.token, self.org_id = token, org_id
        self.step_s, self.clock = step_s, clock
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.run_allowance = run_allowance
        self.runs: dict[int, EmuRun] = {}
        self.repos = [dict(r) for r in repos]  # the organisation's repositories (RepoResponse shapes)
        self.stats = Stats()
        self.faults: dict[str, float] = {}
        self.windows: dict[str, deque[float]] = {name: deque() for name in self.limits}
        self.state_path = state_path
        self._next_id = FIRST_ID
        self._stable_port: int | None = None  # the port this demo's links use, kept in the state file
        if state_path is not None:
            self._load()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self.port}"

    async def start(self) -> CodegenEmulator:
        if self.tls is not None:
            self.tls.set_alpn_protocols(["http/1.1"])  # h11 only: clients fall back from HTTP/2
        if self.port == 0 and self._stable_port:  # the demo's links from earlier sessions keep working
            try:
                self._server = await asyncio.start_server(self._serve, self.host, self._stable_port, ssl=self.tls)
            except OSError as exc:  # taken (another process sharing the demo): any port, for this session only
                log.info("the demo CodeGen's port %d is taken (%s); using another one", self._stable_port, exc)
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.state_path is not None and not self._stable_port:
            self._stable_port = self.port  # saved with the first run (links exist only for runs): a session
            #                                that starts none writes nothing
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> CodegenEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def inject(self, fault: str, value: float = 1) -> None:
        """``5xx`` N (next N requests answer 503), ``drop`` N, ``slow`` SECONDS, ``lowercase`` 1/0, ``extra`` 1/0,
        ``stall_create`` SECONDS (the run is created, its answer held back that long)."""
        if fault not in ("5xx", "drop", "slow", "lowercase", "extra", "stall_create"):
            raise ValueError(f"unknown fault {fault!r}: use 5xx, drop, slow, lowercase, extra or stall_create")
        self.faults[fault] = value

    def seed(self, prompt: str, *, org_id: int | None = None) -> EmuRun:
        """A run created directly (no request, no rate limit): for tests and demos."""
        with self._shared() as next_id:  # an id no process sharing the state file has given out
            run = EmuRun(next_id, org_id if org_id is not None else (self.org_id or 1), prompt, self.clock(),
                         _now_iso(), {"prompt": prompt}, fails="fail" in prompt.lower())
            self._next_id = run.id + 1
            self.runs[run.id] = run
        return run

    # ------------------------------------------------------------------ state across restarts and processes
    # The state file (JSON) holds the runs, the next id and the stable port.  Several app processes may share
    # one demo (the same data dir): each change is a read-modify-write under a lock file beside it, so ids are
    # unique across them and no process drops another's runs.
    def _read(self) -> tuple[dict[int, dict[str, Any]], int, int | None]:
        """The saved runs (as saved), the next id and the stable port; raises OSError/ValueError/KeyError/TypeError."""
        assert self.state_path is not None
        data = json.loads(self.state_path.read_text(encoding="utf-8"))
        runs = {int(r["id"]): r for r in data["runs"]}
        port = data.get("port")
        return runs, max([int(data["next_id"]), *[i + 1 for i in runs]]), port if isinstance(port, int) else None

    @contextlib.contextmanager
    def _shared(self) -> Iterator[int]:
        """Under the state file's lock: yields the next free id; on exit this process's runs are written over
        the file's (the others' kept).  Without a state file: this process's counter."""
        if self.state_path is None:
            yield self._next_id
            return
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(exclusive(self.state_path.with_name(f".{self.state_path.name}.lock")))
            except OSError as exc:  # e.g. a read-only data folder: the runs are kept for this session only
                log.warning("the demo's runs cannot be shared through %s (%s)", self.state_path.parent, exc)
            try:
                saved, next_id, port = self._read()
            except FileNotFoundError:
                saved, next_id, port = {}, FIRST_ID, None
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("the demo's saved runs in %s could not be read (%s); they are replaced", self.state_path,
                            exc)
                saved, next_id, port = {}, FIRST_ID, None
            yield max(next_id, self._next_id)
            now, wall = self.clock(), time.time()
            saved.update({r.id: {**asdict(r), "started": wall - (now - r.started)} for r in self.runs.values()})
            state = {"next_id": max([next_id, self._next_id, *[i + 1 for i in saved]]), "port": port or self._stable_port,
                     "runs": list(saved.values())}
            try:  # 0600 in a 0700 folder: the demo's prompts are the user's
                write_private(self.state_path, json.dumps(state))
            except OSError as exc:
                log.warning("the demo's runs could not be saved to %s: %s", self.state_path, exc)

    def _save(self) -> None:
        with self._shared():
            pass

    def _load(self) -> None:
        assert self.state_path is not None
        private_file(self.state_path)  # saved by an older version with the umask's mode
        try:
            saved, next_id, port = self._read()
            now, wall = self.clock(), time.time()
            runs = [EmuRun(**{**r, "started": now - (wall - float(r["started"]))}) for r in saved.values()]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("the demo's saved runs in %s could not be read (%s); starting with none", self.state_path, exc)
            return
        self.runs = {r.id: r for r in runs}
        self._next_id, self._stable_port = next_id, port

    def status_of(self, run: EmuRun) -> str:
        n = run.steps(self.clock(), self.step_s)
        return "PENDING" if n == 0 else run.script()[n - 1][0]

    # ------------------------------------------------------------------ HTTP plumbing
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.stats.connections += 1
        try:
            while True:
                event = await self._next(conn, reader)
                if isinstance(event, h11.ConnectionClosed) or event is None:
                    return
                if not isinstance(event, h11.Request):
                    return
                body = bytearray()
                while True:
                    part = await self._next(conn, reader)
                    if isinstance(part, h11.Data):
                        body += part.data
                    elif isinstance(part, h11.EndOfMessage):
                        break
                    else:
                        return
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
                reply = await self._handle(event.method.decode(), event.target.decode("latin-1"), headers,
                                           bytes(body))
                if reply is None:  # injected drop
                    return
                status, extra_headers, payload = reply
                json_body = (payload or status != 304) and "content-type" not in extra_headers
                out = [(b"content-type", b"application/json")] if json_body else []
                if payload and len(payload) > 512 and "gzip" in headers.get("accept-encoding", ""):
                    payload = gzip.compress(payload, 5)
                    out.append((b"content-encoding", b"gzip"))
                out += [(k.encode(), v.encode()) for k, v in extra_headers.items()]
                if status != 304:
                    out.append((b"content-length", str(len(payload)).encode()))
                writer.write(conn.send(h11.Response(status_code=status, headers=out)))
                if status != 304 and payload:
                    writer.write(conn.send(h11.Data(data=payload)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (h11.ProtocolError, ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _next(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            if event is h11.PAUSED:
                return None
            return event

    # ------------------------------------------------------------------ requests
    async def _handle(self, method: str, target: str, headers: dict[str, str],
                      body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        self.stats.requests += 1
        url = urlsplit(target)
        route, params = _route(method, url.path)
        self.stats.by_route[route] += 1
        if "traceparent" in headers:
            self.stats.traceparents.append(headers["traceparent"])
        faulted, reply = await self._injected_fault()
        if faulted:
            return reply
        if route == "not_found":
            return self._reply(404, {"detail": "Not Found"})
        if route == "demo":
            return self._demo_page(params)
        refused = self._refused(route, params, headers)
        if refused is not None:
            return refused
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return self._reply(422, {"detail": [{"msg": "body is not valid JSON"}]})
        return await self._answer(route, params, int(params["org"]), query, data, headers)

    async def _injected_fault(self) -> tuple[bool, tuple[int, dict[str, str], bytes] | None]:
        """(True, what to answer: None closes without one) when an injected fault takes this request."""
        if self.faults.get("slow"):
            await asyncio.sleep(self.faults["slow"])
        if self.faults.get("drop", 0) > 0:
            self.faults["drop"] -= 1
            return True, None
        if self.faults.get("5xx", 0) > 0:
            self.faults["5xx"] -= 1
            return True, self._reply(503, {"message": "Service temporarily unavailable", "status_code": 503})
        return False, None

    def _refused(self, route: str, params: dict[str, str],
                 headers: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
        """The 401/403/429 a request gets before it is read (None: it is served)."""
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:] or (self.token is not None and auth[7:] != self.token):
            return self._reply(401, {"message": "Invalid or missing API token", "status_code": 401})
        if self.org_id is not None and int(params["org"]) != self.org_id:
            return self._reply(403, {"message": "You do not have access to this organization", "status_code": 403})
        return self._rate_limit(route)

    async def _answer(self, route: str, params: dict[str, str], org: int, query: dict[str, str], data: Any,
                      headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if route == "create":
            created = self._create(org, data)
            if self.faults.get("stall_create"):
                await asyncio.sleep(self.faults["stall_create"])
            return created
        if route == "resume":
            return self._resume(org, data)
        if route == "list":
            return self._list(org, query, headers)
        if route == "repos":
            return self._repos(org, query, headers)
        run = self.runs.get(int(params["run"]))
        if run is None or run.org_id != org:
            return self._reply(404, {"message": f"Agent run {params['run']} not found", "status_code": 404})
        if route == "get":
            return self._etagged(self._run_json(run), headers)
        return self._logs(run, query, headers)

    def _demo_page(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        run = self.runs.get(int(params["run"]))
        what = "pull request" if params["kind"] == "pulls" else "agent run"
        body = (f"<!doctype html><title>Offline demo</title><h1>Offline demo: {what} #{params['run']}</h1>"
                f"<p>This is the local stand-in for CodeGen: no real {what} exists.</p>"
                + (f"<p>Request: {html.escape(run.prompt)}</p><p>Status: {self.status_of(run)}</p>" if run else ""))
        self.stats.statuses[200] += 1
        return 200, {"content-type": "text/html; charset=utf-8"}, body.encode()

    def _rate_limit(self, route: str) -> tuple[int, dict[str, str], bytes] | None:
        names = {"create": ("create",), "logs": ("logs", "standard")}.get(route, ("standard",))
        now = self.clock()
        waits = []
        for name in names:
            count, window = self.limits[name]
            q = self.windows[name]
            while q and q[0] <= now - window:
                q.popleft()
            if len(q) >= count:
                waits.append(q[0] + window - now)
        if waits:
            retry = max(1, math.ceil(max(waits)))
            return self._reply(429, {"message": "Rate limit exceeded. Please try again later.", "status_code": 429},
                               {"retry-after": str(retry)})
        for name in names:
            self.windows[name].append(now)
        return None

    def _reply(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        self.stats.statuses[status] += 1
        return status, headers or {}, json.dumps(obj).encode()

    def _etagged(self, obj: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        payload = json.dumps(obj).encode()
        etag = '"' + hashlib.sha1(payload).hexdigest()[:16] + '"'
        if headers.get("if-none-match") == etag:
            self.stats.statuses[304] += 1
            return 304, {"etag": etag}, b""
        self.stats.statuses[200] += 1
        return 200, {"etag": etag}, payload

    def _create(self, org: int, data: Any) -> tuple[int, dict[str, str], bytes]:
        prompt = data.get("prompt") if isinstance(data, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            return self._reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": "prompt is required"}]})
        if self.run_allowance is not None and sum(r.org_id == org for r in self.runs.values()) >= self.run_allowance:
            return self._reply(402, {"message": "Agent run limit reached for your plan", "status_code": 402})
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        run = self.seed(prompt, org_id=org)
        run.metadata = {**meta, "prompt": prompt}
        self._save()
        return self._reply(200, self._run_json(run))

    def _resume(self, org: int, data: Any) -> tuple[int, dict[str, str], bytes]:
        if not isinstance(data, dict) or not isinstance(data.get("agent_run_id"), int) \
                or not isinstance(data.get("prompt"), str) or not data["prompt"].strip():
            return self._reply(422, {"detail": [{"msg": "agent_run_id (int) and prompt are required"}]})
        run = self.runs.get(data["agent_run_id"])
        if run is None or run.org_id != org:
            return self._reply(404, {"message": f"Agent run {data['agent_run_id']} not found", "status_code": 404})
        run.earlier_logs = self._log_entries(run) + [self._log(run, "USER_MESSAGE", data["prompt"], "")]
        run.started, run.prompt = self.clock(), data["prompt"]
        run.fails = "fail" in data["prompt"].lower()
        self._save()
        return self._reply(200, self._run_json(run))

    def _paged(self, items: list[Any], query: dict[str, str],
               headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """``items`` as the API pages a list (``skip``, ``limit`` 1-100), or its 422 for bad paging."""
        try:
            skip, limit = int(query.get("skip", 0)), int(query.get("limit", 100))
        except ValueError:
            return self._reply(422, {"detail": [{"msg": "skip and limit must be integers"}]})
        if not 1 <= limit <= 100 or skip < 0:
            return self._reply(422, {"detail": [{"msg": "limit must be 1-100 and skip >= 0"}]})
        page = {"items": items[skip:skip + limit], "total": len(items), "page": skip // limit + 1, "size": limit,
                "pages": max(1, -(-len(items) // limit))}
        return self._etagged(page, headers)

    def _list(self, org: int, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        runs = sorted((r for r in self.runs.values() if r.org_id == org), key=lambda r: -r.id)
        return self._paged([self._run_json(r) for r in runs], query, headers)

    def _repos(self, org: int, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return self._paged([{**r, "organization_id": org} for r in self.repos], query, headers)

    def _logs(self, run: EmuRun, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        try:
            skip, limit = int(query.get("skip", 0)), int(query.get("limit", 100))
        except ValueError:
            return self._reply(422, {"detail": [{"msg": "skip and limit must be integers"}]})
        entries = self._log_entries(run)
        if query.get("reverse") == "true":
            entries = entries[::-1]
        page = {**self._run_json(run), "logs": entries[skip:skip + limit], "total_logs": len(entries),
                "page": skip // max(1, limit) + 1, "size": limit, "pages": max(1, -(-len(entries) // max(1, limit)))}
        return self._etagged(page, headers)

    # ------------------------------------------------------------------ shapes
    def _log(self, run: EmuRun, message_type: str, thought: str, tool: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"agent_run_id": run.id, "created_at": _now_iso(), "message_type": message_type,
                                 "thought": thought, "tool_name": tool or None,
                                 "tool_input": {"query": run.prompt[:40]} if tool else None,
                                 "tool_output": "ok" if tool else None, "observation": None}
        if self.faults.get("extra"):
            entry["span_id"] = "emu-span"
        return entry

    def _log_entries(self, run: EmuRun) -> list[dict[str, Any]]:
        n = run.steps(self.clock(), self.step_s)
        return run.earlier_logs + [self._log(run, mt, thought, tool) for _, mt, thought, tool in run.script()[:n]]

    def _run_json(self, run: EmuRun) -> dict[str, Any]:
        status = self.status_of(run)
        n = run.steps(self.clock(), self.step_s)
        if n >= 4 and not run.fails and not run.prs:
            run.prs.append({"id": run.id * 10, "title": shorten(run.prompt, PR_TITLE_CHARS), "created_at": _now_iso(),
                            "head_branch_name": f"codegen-bot/run-{run.id}"})
            self._save()
        summary = ""
        if status == "COMPLETE":
            summary = f"Done: {run.prompt[:80]}. Opened a pull request."
        elif status == "ERROR":
            summary = "The agent stopped: the tests kept failing."
        if self.faults.get("lowercase"):
            status = "completed" if status == "COMPLETE" else status.lower()
        out: dict[str, Any] = {
            "id": run.id, "organization_id": run.org_id, "status": status, "created_at": run.created_at,
            "web_url": f"{self.url}/demo/runs/{run.id}", "result": summary or None,
            "summary": summary or None, "source_type": "API", "metadata": run.metadata,
            "github_pull_requests": [{**pr, "url": f"{self.url}/demo/pulls/{run.id}",
                                      **({"state": "open", "merged": False} if self.faults.get("extra") else {})}
                                     for pr in run.prs]}
        if self.faults.get("extra"):
            out.update({"state": status.lower(), "cost_usd": 0.12, "trace": {"spans": 3}})
        return out


_ROUTES = (
    ("POST", re.compile(r"^/v1/organizations/(?P<org>\d+)/agent/run$"), "create"),
    ("POST", re.compile(r"^/v1/organizations/(?P<org>\d+)/agent/run/resume$"), "resume"),
    ("GET", re.compile(r"^/v1/organizations/(?P<org>\d+)/agent/run/(?P<run>\d+)$"), "get"),
    ("GET", re.compile(r"^/v1/organizations/(?P<org>\d+)/agent/runs$"), "list"),
    ("GET", re.compile(r"^/v1/organizations/(?P<org>\d+)/repos$"), "repos"),
    ("GET", re.compile(r"^/v1/alpha/organizations/(?P<org>\d+)/agent/run/(?P<run>\d+)/logs$"), "logs"),
    ("GET", re.compile(r"^/demo/(?P<kind>runs|pulls)/(?P<run>\d+)$"), "demo"),
)


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    for m, rx, name in _ROUTES:
        match = rx.match(path)
        if match and m == method:
            return name, match.groupdict()
    return "not_found", {}
