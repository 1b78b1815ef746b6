"""The CodeGen agent API's shapes as typed data (runs, pages, logs, errors).

Parsing is tolerant: unknown fields are ignored, missing ones get empty defaults, and ``status`` is a free
string whose case varies ("completed" in the docs, "COMPLETE" from the service).  ``classify`` maps any
status to a ``RunCategory`` (running / done / failed / unknown); an unknown status counts as still running and is
shown as sent.  ``RunCategory`` is the one list of categories: the database, the events, the tracker, the run
news and the window all use it (``missing``: a run the service no longer knows).

Ids are not tolerated: a run id (and any other id the service sends) must be a whole number from 1 to
2**53 - 1, sent as a JSON integer; anything else (true, 1.9, -3, 2**70, "12", Infinity) is refused with a
``ShapeError`` naming the field, never clamped.  ``loads`` reads a response without JSON's non-standard
``Infinity`` / ``NaN``.  A page is cut to what was asked (``limit``): the rest is counted in ``dropped``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class RunCategory(enum.StrEnum):
    """What a run's status means to the app.  The values are stored in the database and sent in events."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # failed, cancelled or stopped
    UNKNOWN = "unknown"  # a status this client does not know: counted as still going, shown as queued
    MISSING = "missing"  # the service no longer knows the run (HTTP 404): reported once, not followed again

    @property
    def final(self) -> bool:
        """Nothing more will come: done, failed, or no longer known."""
        return self in FINAL

    @classmethod
    def parse(cls, value: object) -> RunCategory:
        """A stored or sent category; anything else (an old or damaged row) is ``UNKNOWN``."""
        try:
            return cls(value) if isinstance(value, str) else cls.UNKNOWN
        except ValueError:
            return cls.UNKNOWN


RUNNING, DONE, FAILED, UNKNOWN, MISSING = (RunCategory.RUNNING, RunCategory.DONE, RunCategory.FAILED,
                                           RunCategory.UNKNOWN, RunCategory.MISSING)
FINAL = frozenset({DONE, FAILED, MISSING})


def sql_list(categories: Iterable[RunCategory]) -> str:
    """``('done', 'failed', ...)`` for a SQL ``IN``: the categories are this module's constants, never input."""
    return "(" + ", ".join(f"'{c.value}'" for c in sorted(categories)) + ")"


MAX_ID = 2**53 - 1  # the largest id every JSON reader (and the window's JavaScript-free views) keeps exactly
CREATE_MARKER = "gemini_codegen_request"  # metadata key: the create request a run came from (no duplicate runs)

_RUNNING = frozenset({"ACTIVE", "RUNNING", "PENDING", "EVALUATION", "QUEUED", "STARTING", "IN_PROGRESS"})
_DONE = frozenset({"COMPLETE", "COMPLETED", "DONE", "SUCCEEDED", "SUCCESS"})
_FAILED = frozenset({"ERROR", "FAILED", "FAILURE", "CANCELLED", "CANCELED", "STOPPED", "TIMEOUT",
                     "MAX_ITERATIONS_REACHED", "OUT_OF_TOKENS"})


def classify(status: str | None) -> RunCategory:
    """A status the service sent, as a category (never ``MISSING``: that is the absence of a run)."""
    key = (status or "").strip().upper().replace(" ", "_").replace("-", "_")
    if key in _RUNNING:
        return RUNNING
    if key in _DONE:
        return DONE
    if key in _FAILED:
        return FAILED
    return UNKNOWN


def _str(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    return "" if v is None else str(v)


def _int(d: Mapping[str, Any], key: str, default: int = 0) -> int:
    v = d.get(key)
    if isinstance(v, bool):
        return default
    try:
        return int(v) if v is not None else default
    except (TypeError, ValueError, OverflowError):
        return default


class ShapeError(ValueError):
    """A response that is not the documented shape at all (not JSON, not an object, no id or a bad one)."""


def _refuse_constant(name: str) -> Any:
    raise ShapeError(f"a number written as {name}, which JSON does not allow")


def loads(raw: bytes | str) -> Any:
    """A response body as JSON, refusing ``Infinity``, ``-Infinity`` and ``NaN`` (Python's reader takes them)."""
    return json.loads(raw, parse_constant=_refuse_constant)


def valid_id(value: Any, what: str = "run id") -> int:
    """``value`` if it is an id the app can keep exactly (a JSON integer, 1 .. 2**53 - 1), else ``ShapeError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ShapeError(f"a {what} that is not a whole number from 1 to 2**53 - 1: {shown}")
    return value


def _id(d: Mapping[str, Any], key: str, what: str) -> int:
    """An optional id field: absent or null is 0 (unknown); present, it must be valid."""
    v = d.get(key)
    return 0 if v is None else valid_id(v, what)


@dataclass(frozen=True, slots=True)
class PullRequestInfo:
    id: int
    title: str
    url: str
    head_branch_name: str = ""
    created_at: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PullRequestInfo:
        return cls(_id(d, "id", "pull request id"), _str(d, "title"), _str(d, "url"), _str(d, "head_branch_name"),
                   _str(d, "created_at"))


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    status: str
    organization_id: int = 0
    created_at: str = ""
    web_url: str = ""
    result: str = ""
    summary: str = ""
    source_type: str = ""
    prompt: str = ""
    pull_requests: tuple[PullRequestInfo, ...] = ()
    marker: str = ""  # metadata[CREATE_MARKER]: the create request that started it (ours), else ""
    repo: str = ""  # metadata["repo"]: the repository named when this app started it (a name or an id), else ""

    @property
    def category(self) -> RunCategory:
        return classify(self.status)

    @property
    def final(self) -> bool:
        return self.category.final

    @classmethod
    def from_json(cls, d: Any) -> Run:
        if not isinstance(d, Mapping) or d.get("id") is None:
            raise ShapeError("a run without an id")
        prs = d.get("github_pull_requests") or ()
        raw_metadata = d.get("metadata")
        metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
        prompt = _str(d, "prompt") or _str(metadata, "prompt")
        return cls(id=valid_id(d.get("id")), status=_str(d, "status"),
                   organization_id=_id(d, "organization_id", "organization id"),
                   created_at=_str(d, "created_at"), web_url=_str(d, "web_url"), result=_str(d, "result"),
                   summary=_str(d, "summary"), source_type=_str(d, "source_type"), prompt=prompt,
                   pull_requests=tuple(PullRequestInfo.from_json(p) for p in prs if isinstance(p, Mapping)),
                   marker=_str(metadata, CREATE_MARKER), repo=_str(metadata, "repo"))


@dataclass(frozen=True, slots=True)
class RunPage:
    items: tuple[Run, ...]
    total: int
    page: int
    size: int
    pages: int
    dropped: int = 0  # items past the ``limit`` asked for (a service fault), not read

    @classmethod
    def from_json(cls, d: Any, limit: int | None = None) -> RunPage:
        items, dropped = _page_items(d, limit, Run.from_json, "run")
        return cls(items, _int(d, "total", len(items)), _int(d, "page", 1), _int(d, "size", len(items)),
                   _int(d, "pages", 1), dropped)


@dataclass(frozen=True, slots=True)
class Repo:
    """A repository of the organisation (``GET /v1/organizations/{org_id}/repos``, ``RepoResponse``)."""

    id: int
    name: str
    full_name: str = ""  # "owner/name"
    description: str = ""
    language: str = ""
    archived: bool = False

    @classmethod
    def from_json(cls, d: Any) -> Repo:
        if not isinstance(d, Mapping) or d.get("id") is None:
            raise ShapeError("a repository without an id")
        return cls(valid_id(d.get("id"), "repository id"), _str(d, "name"), _str(d, "full_name"),
                   _str(d, "description"), _str(d, "language"), d.get("archived") is True)


@dataclass(frozen=True, slots=True)
class RepoPage:
    items: tuple[Repo, ...]
    total: int
    dropped: int = 0  # items past the ``limit`` asked for (a service fault), not read

    @classmethod
    def from_json(cls, d: Any, limit: int | None = None) -> RepoPage:
        items, dropped = _page_items(d, limit, Repo.from_json, "repository")
        return cls(items, _int(d, "total", len(items)), dropped)


def _page_items(d: Any, limit: int | None, parse: Any, what: str) -> tuple[tuple[Any, ...], int]:
    """A page's items (at most ``limit``, each read by ``parse``) and how many more were sent."""
    if not isinstance(d, Mapping) or not isinstance(d.get("items"), list):
        raise ShapeError(f"a {what} list without items")
    raw, dropped = _cut(d["items"], limit)
    return tuple(parse(r) for r in raw), dropped


def _cut(items: list[Any], limit: int | None) -> tuple[list[Any], int]:
    """At most ``limit`` items (what was asked for) and how many more were sent."""
    if limit is None or len(items) <= limit:
        return items, 0
    return items[:max(0, limit)], len(items) - max(0, limit)


@dataclass(frozen=True, slots=True)
class LogEntry:
    agent_run_id: int
    created_at: str
    message_type: str
    thought: str = ""
    tool_name: str = ""
    tool_input: Any = None
    tool_output: Any = None
    observation: Any = None

    @property
    def text(self) -> str:
        """One readable line for the step."""
        if self.thought:
            return self.thought
        if self.tool_name:
            return f"{self.tool_name}"
        if isinstance(self.observation, str) and self.observation:
            return self.observation
        return self.message_type.replace("_", " ").lower()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LogEntry:
        return cls(_id(d, "agent_run_id", "run id"), _str(d, "created_at"), _str(d, "message_type"), _str(d, "thought"),
                   _str(d, "tool_name"), d.get("tool_input"), d.get("tool_output"), d.get("observation"))


@dataclass(frozen=True, slots=True)
class LogPage:
    run: Run
    logs: tuple[LogEntry, ...]
    total_logs: int
    page: int
    size: int
    pages: int
    dropped: int = 0  # steps past the ``limit`` asked for (a service fault), not read

    @classmethod
    def from_json(cls, d: Any, limit: int | None = None) -> LogPage:
        run = Run.from_json(d)
        raw = d.get("logs") or []
        raw, dropped = _cut(raw if isinstance(raw, list) else [], limit)
        logs = tuple(LogEntry.from_json(x) for x in raw if isinstance(x, Mapping))
        return cls(run, logs, _int(d, "total_logs", len(logs)), _int(d, "page", 1), _int(d, "size", len(logs)),
                   _int(d, "pages", 1), dropped)


# ------------------------------------------------------------------------------------------ errors
ERROR_KINDS = {401: "auth", 403: "auth", 402: "codegen", 404: "codegen", 422: "codegen", 429: "rate_limited"}


def error_message(status: int, body: Any, *, what: str = "") -> str:
    """A speakable, user-facing sentence for an HTTP error from the API (never includes the token)."""
    detail = ""
    if isinstance(body, Mapping):
        raw = body.get("message") or body.get("detail") or ""
        if isinstance(raw, list):  # FastAPI validation errors
            raw = "; ".join(str(x.get("msg", x)) if isinstance(x, Mapping) else str(x) for x in raw)
        detail = str(raw)[:160]
    if status == 401:
        return "CodeGen rejected the API token. Check CODEGEN_API_TOKEN."
    if status == 403:
        return "CodeGen says this token has no permission for that organisation. Check CODEGEN_ORG_ID."
    if status == 402:
        return "Your CodeGen plan has no agent runs left. Upgrade the plan or wait for it to reset."
    if status == 404:
        return f"CodeGen could not find {what or 'that run'}."
    if status == 422:
        return "CodeGen did not accept the request" + (f": {detail}" if detail else ".")
    if status == 429:
        return "CodeGen is rate limiting requests."
    if status >= 500:
        return f"CodeGen is having trouble right now (error {status}). Try again in a moment."
    return f"CodeGen answered with error {status}" + (f": {detail}" if detail else ".")
