"""The CodeGen tools Gemini gets, and their dispatch (``desktop.engine.ToolHandler``).

Every result carries a short ``speech`` string (what Gemini reads aloud) plus the ids and links the UI
needs.  With "confirm before starting a run" on (the default), ``create_agent_run`` without
``confirmed: true`` starts nothing: it answers ``needs_confirmation`` with the prompt to read back.  The
tool itself holds the model to that: ``confirmed: true`` starts a run only for the exact prompt this
session read back, and only after the user spoke (or typed) again after the read-back.  A "yes" with
nothing read back gets "There is nothing waiting for a yes."  The tools learn of the user's turns from
the engine's events (``observe``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.codegen.api import DONE, FAILED, RUNNING, UNKNOWN, LogEntry, Run, classify
from desktop.codegen.client import CodegenClient, CodegenError
from desktop.codegen.tracker import RunTracker
from desktop.events import TranscriptDelta
from desktop.live.protocol import FunctionDeclaration
from desktop.words import shorten

NOT_CONFIGURED = "CodeGen is not configured: set CODEGEN_API_TOKEN and CODEGEN_ORG_ID"
NOTHING_PENDING = "There is nothing waiting for a yes. Tell me what the agent should do first."

_INT = {"type": "INTEGER"}
_STR = {"type": "STRING"}
DECLARATIONS: tuple[FunctionDeclaration, ...] = (
    FunctionDeclaration(
        "create_agent_run",
        "Start a CodeGen coding-agent run. Call first without confirmed: the result gives the request to "
        "read back; call again with confirmed=true only after the user says yes.",
        {"type": "OBJECT", "properties": {
            "prompt": {**_STR, "description": "what the agent should do, in the user's words"},
            "repo": {**_STR, "description": "repository name or numeric repo id, if the user named one"},
            "confirmed": {"type": "BOOLEAN", "description": "true only after the user confirmed"}},
         "required": ["prompt"]}),
    FunctionDeclaration(
        "get_run_status", "Status of a CodeGen run (default: the latest run).",
        {"type": "OBJECT", "properties": {"run_id": {**_INT, "description": "run id; omit for the latest"}}}),
    FunctionDeclaration(
        "list_runs", "Recent CodeGen runs, newest first.",
        {"type": "OBJECT", "properties": {
            "limit": {**_INT, "description": "how many (1-20, default 5)"},
            "state": {**_STR, "enum": ["running", "done", "failed", "all"],
                      "description": "only runs in this state (default all)"}}}),
    FunctionDeclaration(
        "resume_run", "Send a follow-up instruction to a CodeGen run (default: the latest run).",
        {"type": "OBJECT", "properties": {
            "run_id": {**_INT, "description": "run id; omit for the latest"},
            "prompt": {**_STR, "description": "the follow-up instruction"}},
         "required": ["prompt"]}),
    FunctionDeclaration(
        "get_run_logs", "The last steps a CodeGen run took (default: the latest run).",
        {"type": "OBJECT", "properties": {
            "run_id": {**_INT, "description": "run id; omit for the latest"},
            "last": {**_INT, "description": "how many recent steps (1-20, default 5)"}}}),
)


def _int_arg(args: Mapping[str, Any], name: str, default: int | None, lo: int = 1, hi: int = 10**12) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return default
    try:
        return max(lo, min(hi, int(value)))
    except (TypeError, ValueError):
        raise CodegenError(f"{name} must be a number, not {str(value)[:30]!r}.") from None


_SAID = {RUNNING: "is still running", DONE: "is complete", FAILED: "failed", UNKNOWN: "is"}


def run_result(run: Run) -> dict[str, Any]:
    """The ids, links and status the UI needs for one run."""
    return {"run_id": run.id, "status": run.status, "category": run.category, "web_url": run.web_url,
            "summary": run.summary, "pull_requests": [{"title": p.title, "url": p.url} for p in run.pull_requests]}


def describe(run: Run) -> str:
    cat = run.category
    said = _SAID[cat] + (f" ({run.status.lower()})" if cat == UNKNOWN else "")
    text = f"Run {run.id} {said}."
    if run.summary and cat in (DONE, FAILED):
        text += f" {shorten(run.summary, 120)}"
    if run.pull_requests:
        text += f" It opened a pull request: {shorten(run.pull_requests[-1].title, 60)}."
    return text


def _same_prompt(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass(frozen=True, slots=True)
class ReadBack:
    prompt: str
    repo: str
    user_turn: int  # the user's turn during which it was read back


@dataclass
class CodegenTools:
    """``client``/``tracker`` None: CodeGen is not configured and every tool says so."""

    client: CodegenClient | None
    tracker: RunTracker | None = None
    confirm_before_create: bool = True
    read_back: ReadBack | None = None  # the request waiting for the user's yes
    user_turn: int = 0  # the latest turn in which the user said or typed something

    def observe(self, ev: TranscriptDelta) -> None:
        """Transcript subscriber: note each turn in which the user said (or typed) something."""
        if ev.role == "user" and ev.text.strip():
            self.user_turn = max(self.user_turn, ev.turn_id)

    @property
    def declarations(self) -> Sequence[FunctionDeclaration]:
        return DECLARATIONS

    async def call(self, name: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        handler = {"create_agent_run": self.create_agent_run, "get_run_status": self.get_run_status,
                   "list_runs": self.list_runs, "resume_run": self.resume_run,
                   "get_run_logs": self.get_run_logs}.get(name)
        if handler is None:
            raise CodegenError(f"There is no tool named {name}.")
        if self.client is None:
            raise CodegenError(NOT_CONFIGURED, kind="auth")
        return await handler(args)

    @property
    def _client(self) -> CodegenClient:
        assert self.client is not None
        return self.client

    async def create_agent_run(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        prompt = str(args.get("prompt") or "").strip()
        if not prompt:
            raise CodegenError("I need to know what the agent should do.")
        repo = str(args.get("repo") or "").strip()
        if self.confirm_before_create:
            pending = self.read_back
            if args.get("confirmed") is True and pending is None:
                return {"needs_confirmation": False, "nothing_pending": True, "speech": NOTHING_PENDING}
            agreed = (args.get("confirmed") is True and pending is not None and _same_prompt(pending.prompt, prompt)
                      and self.user_turn > pending.user_turn)
            if not agreed or pending is None:  # read it back (again: another prompt, or no answer yet)
                self.read_back = ReadBack(prompt, repo, self.user_turn)
                where = f" in {repo}" if repo else ""
                return {"needs_confirmation": True, "prompt": prompt, "repo": repo,
                        "speech": f"Should I start an agent run{where} to: {shorten(prompt, 160)}? Say yes to start it."}
            repo = repo or pending.repo
            self.read_back = None
        repo_id = int(repo) if repo.isdigit() else None
        text = prompt if repo_id is not None or not repo else f"In the {repo} repository: {prompt}"
        run = await self._client.create_run(text, repo_id=repo_id, metadata={"source": "gemini-codegen-desktop"})
        if self.tracker is not None:
            self.tracker.track(run.id, prompt, focus=True)
        return {**run_result(run), "prompt": prompt,
                "speech": f"Started run {run.id}. I will tell you when it finishes."}

    async def _latest_id(self) -> int:
        run_id = await self._latest_or_none()
        if run_id is None:
            raise CodegenError("You have no CodeGen runs yet.")
        return run_id

    async def _latest_or_none(self) -> int | None:
        if self.tracker is not None and self.tracker.latest_id is not None:
            return self.tracker.latest_id
        page = await self._client.list_runs(limit=1)
        return page.items[0].id if page.items else None

    async def get_run_status(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        run_id = _int_arg(args, "run_id", None) or await self._latest_or_none()
        if run_id is None:  # a question, not a failure
            return {"run_id": None, "speech": "You have no CodeGen runs yet. Ask me to start one."}
        run = await self._client.get_run(run_id)
        if self.tracker is not None:
            self.tracker.observe(run)
            self.tracker.focus(run.id)
        return {**run_result(run), "speech": describe(run)}

    async def list_runs(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        limit = _int_arg(args, "limit", 5, 1, 20) or 5
        state = str(args.get("state") or "all").lower()
        if state not in (RUNNING, DONE, FAILED, "all"):
            raise CodegenError("state must be running, done, failed or all.")
        page = await self._client.list_runs(limit=20 if state != "all" else limit)
        runs = [r for r in page.items
                if state == "all" or r.category == state or (state == RUNNING and r.category == UNKNOWN)][:limit]
        if self.tracker is not None:
            for run in runs:
                self.tracker.observe(run)
        label = "" if state == "all" else f"{state} "
        if not runs:
            speech = f"You have no {label}runs."
        else:
            parts = [f"{r.id}, {_SAID[r.category].replace('is ', '').replace('still ', '')}: "
                     f"{shorten(r.prompt or r.summary or 'no description', 50)}" for r in runs[:5]]
            speech = f"{len(runs)} {label}run{'s' if len(runs) != 1 else ''}. " + "; ".join(parts) + "."
        return {"runs": [run_result(r) | {"prompt": r.prompt} for r in runs], "speech": speech}

    async def resume_run(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        prompt = str(args.get("prompt") or "").strip()
        if not prompt:
            raise CodegenError("I need the instruction to send to the agent.")
        run_id = _int_arg(args, "run_id", None) or await self._latest_id()
        run = await self._client.resume_run(run_id, prompt)
        if self.tracker is not None:
            self.tracker.track(run.id, prompt, focus=True)
        return {**run_result(run), "speech": f"Sent that to run {run.id}; it is working on it."}

    async def get_run_logs(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        run_id = _int_arg(args, "run_id", None) or await self._latest_id()
        last = _int_arg(args, "last", 5, 1, 20) or 5
        page = await self._client.get_logs(run_id, limit=last, reverse=True)
        steps: list[LogEntry] = list(reversed(page.logs))
        if self.tracker is not None:
            self.tracker.focus(run_id)
        if not steps:
            speech = f"Run {run_id} has no steps yet."
        else:
            speech = f"Run {run_id}, last {len(steps)} step{'s' if len(steps) != 1 else ''}: " + "; ".join(
                shorten(s.text, 60) for s in steps) + "."
        return {"run_id": run_id, "status": page.run.status, "category": classify(page.run.status),
                "steps": [{"type": s.message_type, "text": s.text, "created_at": s.created_at} for s in steps],
                "speech": speech}
