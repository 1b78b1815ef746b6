"""The CodeGen tools Gemini gets, and their dispatch (``desktop.engine.ToolHandler``).

Every result is informative (Gemini 3.8 retries bare ones): a ``status`` (``ok``, ``needs_confirmation``,
``started``, ``sent``, ``cancelled``, ``nothing_pending``), a short ``speech`` (what Gemini reads aloud) and
the ids and links the UI needs; a refusal (``desktop.consent.Refused``) carries ``retryable`` and a ``hint``.

Consent (``desktop.consent``, DESIGN rule 9): with "Ask me before starting a run" on (the default), the two
tools that change something — ``create_agent_run`` and ``resume_run`` — first only read the request back
(``needs_confirmation``, and the window shows the whole request on its confirmation card).  ``confirmed:
true`` then acts only when all of this holds:

* exactly what was read back is confirmed: the prompt and the repository (or run) as a pair; a confirm call
  that differs is read back as a new request;
* the call comes in a turn the user began (key, hands-free speech, typed text, the card's buttons), after
  the one the request was read back in — never in the app's own run-news turn;
* the user's own words in that turn are a clear yes (``judge``; a spoken yes also heard as a yes locally when
  a recogniser is set).  A no withdraws the request; anything unclear reads it back again.

Whatever the setting: a state change happens only in a turn the user began, at most one per such turn, and
a turn gets at most ``MAX_CALLS_PER_TURN`` tool calls (the rest are refused at once).  Ids from the model are
whole numbers from 1 to 2**53 - 1, or refused: never clamped.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop.codegen.api import DONE, FAILED, RUNNING, UNKNOWN, LogEntry, Run, classify
from desktop.codegen.client import CodegenClient, CodegenError
from desktop.codegen.tracker import RunTracker
from desktop.consent import Ledger, ReadBack, Refused, Verdict, same_text
from desktop.events import EventBus
from desktop.live.protocol import FunctionDeclaration
from desktop.words import shorten

NOT_CONFIGURED = "CodeGen is not configured: set CODEGEN_API_TOKEN and CODEGEN_ORG_ID"
NOTHING_PENDING = "There is nothing waiting for a yes. Tell me what the agent should do first."
MAX_ID = 2**53 - 1  # ids are whole numbers below 2**53 (what every JSON reader keeps exactly)
SPOKEN_MAX = 200  # a longer request is summarised in the spoken read-back (the whole of it is on screen)
SPOKEN_SUMMARY = 120
_REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")

_INT = {"type": "INTEGER"}
_STR = {"type": "STRING"}
_CONFIRMED = {"type": "BOOLEAN", "description": "true only in the turn in which the user answered yes to the "
              "read-back; prompt and repo/run_id must be exactly the ones read back"}
# Every tool is BLOCKING: Gemini waits for its result before it speaks (a read-back must say exactly what
# the tool returned; a status is the answer).  On 3.8 that also means new user input cancels a call under way
# (toolCallCancellation): the engine then drops its result (see ``SessionEngine._on_tool_cancellation``).
BLOCKING = "BLOCKING"
DECLARATIONS: tuple[FunctionDeclaration, ...] = (
    FunctionDeclaration(
        "create_agent_run",
        "Start a CodeGen coding-agent run. Call first without confirmed: the result gives the request to "
        "read back; call again with confirmed=true only after the user says yes.",
        {"type": "OBJECT", "properties": {
            "prompt": {**_STR, "description": "what the agent should do, in the user's words"},
            "repo": {**_STR, "description": "repository name or numeric repo id, if the user named one"},
            "confirmed": _CONFIRMED},
         "required": ["prompt"]}, BLOCKING),
    FunctionDeclaration(
        "get_run_status", "Status of a CodeGen run (default: the latest run).",
        {"type": "OBJECT", "properties": {"run_id": {**_INT, "description": "run id; omit for the latest"}}}, BLOCKING),
    FunctionDeclaration(
        "list_runs", "Recent CodeGen runs, newest first.",
        {"type": "OBJECT", "properties": {
            "limit": {**_INT, "description": "how many (1-20, default 5)"},
            "state": {**_STR, "enum": ["running", "done", "failed", "all"],
                      "description": "only runs in this state (default all)"}}}, BLOCKING),
    FunctionDeclaration(
        "resume_run",
        "Send a follow-up instruction to a CodeGen run (default: the latest run). Call first without "
        "confirmed: the result gives the instruction to read back; call again with confirmed=true only after "
        "the user says yes.",
        {"type": "OBJECT", "properties": {
            "run_id": {**_INT, "description": "run id; omit for the latest"},
            "prompt": {**_STR, "description": "the follow-up instruction"},
            "confirmed": _CONFIRMED},
         "required": ["prompt"]}, BLOCKING),
    FunctionDeclaration(
        "get_run_logs", "The last steps a CodeGen run took (default: the latest run).",
        {"type": "OBJECT", "properties": {
            "run_id": {**_INT, "description": "run id; omit for the latest"},
            "last": {**_INT, "description": "how many recent steps (1-20, default 5)"}}}, BLOCKING),
)
STATE_CHANGING = frozenset({"create_agent_run", "resume_run"})  # a call that may already have acted: never abandoned


def _whole(value: Any) -> int | None:
    """``value`` as a whole number, or None when it is not one (true, 1.9, "12a", a huge string...)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= 2.0**63 else None
    if isinstance(value, str):
        s = value.strip()
        return int(s) if s.isascii() and s.isdigit() and len(s) <= 20 else None
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _id_arg(args: Mapping[str, Any], name: str, what: str = "run id") -> int | None:
    """An id from the model: a whole number from 1 to 2**53 - 1; absent is None; anything else is refused."""
    value = args.get(name)
    if value is None or value == "":
        return None
    n = _whole(value)
    if n is None or not 1 <= n <= MAX_ID:
        raise Refused(f"{name} must be a number from 1 to 2**53 - 1 (a {what}), not {_shown(value)}.",
                      retryable=True, hint=f"Use a {what} from list_runs, or leave {name} out for the latest.")
    return n


def _count_arg(args: Mapping[str, Any], name: str, default: int, hi: int = 20) -> int:
    """A count (how many runs or steps): a whole number, kept within 1..``hi``."""
    value = args.get(name)
    if value is None or value == "":
        return default
    n = _whole(value)
    if n is None:
        raise Refused(f"{name} must be a number, not {_shown(value)}.", retryable=True,
                      hint=f"Give {name} as a whole number from 1 to {hi}, or leave it out.")
    return max(1, min(hi, n))


def _repo_arg(args: Mapping[str, Any]) -> str:
    """A repository name, or a numeric repo id (validated like any id), or ""."""
    value = args.get("repo")
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or isinstance(value, int | float):
        return str(_id_arg(args, "repo", "repo id"))
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        return str(_id_arg({"repo": text}, "repo", "repo id"))
    if not _REPO_NAME.fullmatch(text):
        raise Refused(f"repo must be a repository name (letters, digits, . _ / -) or a repo id, not {_shown(value)}.",
                      retryable=True, hint="Ask the user which repository they mean.")
    return text


_SAID = {RUNNING: "is still running", DONE: "is complete", FAILED: "failed", UNKNOWN: "is"}


def run_result(run: Run) -> dict[str, Any]:
    """The ids, links and status the UI needs for one run."""
    return {"run_id": run.id, "run_status": run.status, "category": run.category, "web_url": run.web_url,
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


def read_back_speech(kind: str, prompt: str, *, repo: str = "", run_id: int | None = None) -> str:
    """The question Gemini reads back: the whole request, or for a long one its start and where the rest is."""
    long = len(prompt) > SPOKEN_MAX
    said = shorten(prompt, SPOKEN_SUMMARY) if long else " ".join(prompt.split())
    if kind == "resume":
        question = f"Should I tell run {run_id} to: {said}?"
    else:
        question = f"Should I start an agent run{f' in {repo}' if repo else ''} to: {said}?"
    if long:
        question += " That is the start of a longer request: the whole request is on screen. Read it first."
    return question + " Say yes to start it, or no."


MAX_PROMPT_CHARS = 8_000  # a request the user can read on the card before saying yes (as long as a typed one)

ASK_HINT = ("Read the speech to the user and wait for their answer. Call again with confirmed=true only after "
            "they say yes, with exactly this prompt and repo.")


@dataclass
class CodegenTools:
    """``client``/``tracker`` None: CodeGen is not configured and every tool says so."""

    client: CodegenClient | None
    tracker: RunTracker | None = None
    confirm_before_create: bool = True  # "Ask me before starting a run" (applies to resume_run too)
    consent: Ledger = field(default_factory=Ledger)
    # the window shows the whole request on its confirmation card: a request too long to speak may be read
    # back in part (without a screen it is refused: nothing is sent that the user could not see or hear)
    shows_whole_request: bool = False

    def attach(self, bus: EventBus) -> Callable[[], None]:
        """Learn of the user's turns from the engine's events (and announce read-backs on ``bus``)."""
        return self.consent.attach(bus)

    def observe(self, ev: Any) -> None:
        """A bus event (``TurnStarted``, ``TranscriptDelta``, ``TurnFinished``) for the consent ledger."""
        self.consent.observe(ev)

    @property
    def read_back(self) -> ReadBack | None:
        return self.consent.read_back

    def set_confirm(self, on: bool) -> None:
        """Settings' "Ask me before starting a run", applied to the running session at once."""
        self.confirm_before_create = on
        if not on:
            self.consent.close("withdrawn")

    @property
    def declarations(self) -> Sequence[FunctionDeclaration]:
        return DECLARATIONS

    @property
    def state_changing(self) -> frozenset[str]:
        return STATE_CHANGING

    async def call(self, name: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        handler = {"create_agent_run": self.create_agent_run, "get_run_status": self.get_run_status,
                   "list_runs": self.list_runs, "resume_run": self.resume_run,
                   "get_run_logs": self.get_run_logs}.get(name)
        if handler is None:
            raise Refused(f"There is no tool named {name}.", hint="Use only the tools you were given.")
        self.consent.count_call(name)
        if self.client is None:
            raise CodegenError(NOT_CONFIGURED, kind="auth")
        if not isinstance(args, Mapping):
            raise Refused(f"The arguments of {name} must be an object.", retryable=True, hint="Send named arguments.")
        return await handler(args)

    @property
    def _client(self) -> CodegenClient:
        assert self.client is not None
        return self.client

    # ---------------------------------------------------------------- consent
    def _ask(self, kind: str, prompt: str, *, repo: str = "", run_id: int | None = None,
             again: str = "") -> dict[str, Any]:
        """Read ``prompt`` back (it replaces any request waiting) and start nothing."""
        if len(prompt) > MAX_PROMPT_CHARS:
            raise Refused(f"That request is too long to confirm ({len(prompt):,} characters; {MAX_PROMPT_CHARS:,} at "
                          "most), so it was not started.", retryable=True,
                          hint=f"Ask the user for a shorter request (at most {MAX_PROMPT_CHARS:,} characters).")
        if len(prompt) > SPOKEN_MAX and not self.shows_whole_request:
            raise Refused(f"That request is too long to read back aloud ({len(prompt)} characters; {SPOKEN_MAX} at "
                          "most here), so it was not started.", retryable=True,
                          hint=f"Ask the user for a shorter request (at most {SPOKEN_MAX} characters).")
        speech = read_back_speech(kind, prompt, repo=repo, run_id=run_id)
        self.consent.ask(kind, prompt, repo=repo, run_id=run_id, speech=speech)
        out: dict[str, Any] = {"status": "needs_confirmation", "needs_confirmation": True, "prompt": prompt,
                               "speech": again + speech, "hint": ASK_HINT}
        if kind == "resume":
            out["run_id"] = run_id
        else:
            out["repo"] = repo
        return out

    def _asked(self, rb: ReadBack) -> dict[str, Any]:
        """The request already waiting, read back again as it was."""
        out: dict[str, Any] = {"status": "needs_confirmation", "needs_confirmation": True, "prompt": rb.prompt,
                               "speech": rb.speech, "hint": ASK_HINT + " The user has not answered yet."}
        if rb.kind == "resume":
            out["run_id"] = rb.run_id
        else:
            out["repo"] = rb.repo
        return out

    @staticmethod
    def _nothing_pending() -> dict[str, Any]:
        return {"status": "nothing_pending", "needs_confirmation": False, "nothing_pending": True,
                "retryable": False, "speech": NOTHING_PENDING,
                "hint": "Nothing was read back, so nothing can be confirmed: call without confirmed to read the "
                        "request back first."}

    async def _confirm(self, rb: ReadBack, act: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """``confirmed: true`` for the request waiting: act only on the user's own clear yes."""
        ledger = self.consent
        rec = ledger.current
        if not ledger.answers(rb):
            if rec is not None and rec.by_user and rec.id == rb.turn:  # the model confirms its own read-back
                return self._asked(rb)
            ledger.claim_change()  # not the user's turn: refused with the reason
        rec = ledger.claim_change()
        verdict = await ledger.answer(rec)
        if ledger.read_back is not rb:  # withdrawn (a "no", Cancel) or replaced while the answer was judged
            return self._nothing_pending()
        if verdict is Verdict.NO:
            ledger.close("cancelled")
            return {"status": "cancelled", "needs_confirmation": False, "cancelled": True,
                    "speech": "Okay, I have not started it.",
                    "hint": "The user said no: nothing was started. Ask what they want instead."}
        if verdict is not Verdict.YES:
            return self._ask(rb.kind, rb.prompt, repo=rb.repo, run_id=rb.run_id,
                             again="I did not hear a clear yes, so nothing started. ")
        ledger.read_back = None  # used up before anything is sent: a second confirm finds nothing
        try:
            out = await act()
        except BaseException:
            ledger.closed(rb, "failed")
            raise
        ledger.closed(rb, "started", out.get("run_id"))
        return out

    # ---------------------------------------------------------------- tools
    async def create_agent_run(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        prompt = str(args.get("prompt") or "").strip()
        repo = _repo_arg(args)
        confirmed = args.get("confirmed") is True
        if not self.confirm_before_create:
            if not prompt:
                raise Refused("I need to know what the agent should do.", retryable=True, hint="Ask the user.")
            self.consent.claim_change()
            return await self._create(prompt, repo)
        rb = self.consent.read_back
        if confirmed and rb is None:
            return self._nothing_pending()
        if confirmed and rb is not None and rb.kind == "create" and (not prompt or same_text(rb.prompt, prompt)) \
                and (not repo or repo == rb.repo):
            return await self._confirm(rb, lambda: self._create(rb.prompt, rb.repo))
        if not prompt:
            raise Refused("I need to know what the agent should do.", retryable=True, hint="Ask the user.")
        return self._ask("create", prompt, repo=repo)  # (again: another request than the one read back)

    async def _create(self, prompt: str, repo: str) -> dict[str, Any]:
        repo_id = int(repo) if repo.isascii() and repo.isdigit() else None
        text = prompt if repo_id is not None or not repo else f"In the {repo} repository: {prompt}"
        run = await self._client.create_run(text, repo_id=repo_id, metadata={
            "source": "gemini-codegen-desktop", **({"repo": repo} if repo else {})})
        if self.tracker is not None:
            self.tracker.track(run.id, prompt, focus=True)
        return {**run_result(run), "status": "started", "prompt": prompt, "repo": repo,
                "speech": f"Started run {run.id}. I will tell you when it finishes."}

    async def _latest_id(self) -> int:
        run_id = await self._latest_or_none()
        if run_id is None:
            raise Refused("You have no CodeGen runs yet.", hint="Offer to start one.")
        return run_id

    async def _latest_or_none(self) -> int | None:
        if self.tracker is not None and self.tracker.latest_id is not None:
            return self.tracker.latest_id
        page = await self._client.list_runs(limit=1)
        return page.items[0].id if page.items else None

    async def get_run_status(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        run_id = _id_arg(args, "run_id") or await self._latest_or_none()
        if run_id is None:  # a question, not a failure
            return {"status": "ok", "run_id": None, "speech": "You have no CodeGen runs yet. Ask me to start one."}
        run = await self._client.get_run(run_id)
        if self.tracker is not None:
            self.tracker.observe(run)
            self.tracker.focus(run.id)
        return {**run_result(run), "status": "ok", "speech": describe(run)}

    async def list_runs(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        limit = _count_arg(args, "limit", 5)
        state = str(args.get("state") or "all").lower()
        if state not in (RUNNING, DONE, FAILED, "all"):
            raise Refused("state must be running, done, failed or all.", retryable=True,
                          hint="Use one of running, done, failed, all.")
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
        return {"status": "ok", "runs": [run_result(r) | {"prompt": r.prompt} for r in runs], "speech": speech}

    async def resume_run(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        prompt = str(args.get("prompt") or "").strip()
        run_id = _id_arg(args, "run_id")
        if not prompt:
            raise Refused("I need the instruction to send to the agent.", retryable=True, hint="Ask the user.")
        if not self.confirm_before_create:
            self.consent.claim_change()
            return await self._resume(run_id or await self._latest_id(), prompt)
        rb = self.consent.read_back
        if args.get("confirmed") is True:
            if rb is None:
                return self._nothing_pending()
            if rb.kind == "resume" and rb.run_id is not None and same_text(rb.prompt, prompt) \
                    and run_id in (None, rb.run_id):
                target = rb.run_id
                return await self._confirm(rb, lambda: self._resume(target, rb.prompt))
        return self._ask("resume", prompt, run_id=run_id or await self._latest_id())

    async def _resume(self, run_id: int, prompt: str) -> dict[str, Any]:
        run = await self._client.resume_run(run_id, prompt)
        if self.tracker is not None:
            self.tracker.track(run.id, prompt, focus=True)
        return {**run_result(run), "status": "sent", "prompt": prompt,
                "speech": f"Sent that to run {run.id}; it is working on it."}

    async def get_run_logs(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        run_id = _id_arg(args, "run_id") or await self._latest_id()
        last = _count_arg(args, "last", 5)
        page = await self._client.get_logs(run_id, limit=last, reverse=True)
        steps: list[LogEntry] = list(reversed(page.logs))
        if self.tracker is not None:
            self.tracker.focus(run_id)
        if not steps:
            speech = f"Run {run_id} has no steps yet."
        else:
            speech = f"Run {run_id}, last {len(steps)} step{'s' if len(steps) != 1 else ''}: " + "; ".join(
                shorten(s.text, 60) for s in steps) + "."
        return {"status": "ok", "run_id": run_id, "run_status": page.run.status, "category": classify(page.run.status),
                "steps": [{"type": s.message_type, "text": s.text, "created_at": s.created_at} for s in steps],
                "speech": speech}
