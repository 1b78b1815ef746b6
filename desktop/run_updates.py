"""Run updates: what to tell the user about their CodeGen runs, and when.  Pure: no I/O, no clock of its own.

``RunUpdates`` is fed with what the run tracker saw (``observe(RunUpdate)``: a run finished, failed, was
cancelled, opened a pull request, or is no longer known), with what tools already told the user
(``seed``/``told``), with the runs a previous session left unreported (``restore``), and with what the
conversation is doing (an ``Activity`` snapshot and ``busy`` moments).  ``take`` hands out at most one
``Report`` at a time: every waiting piece of news merged into one sentence, spoken when the conversation is
quiet, or shown only (not spoken) when speaking is off or the news is older than ``Policy.max_age_s``.
A run's outcome is reported once (``told``); a pull request once.

How the report reaches Gemini (desktop.run_reporter, gemini-live-protocol.md section 2): as a client turn
(``clientContent``, role user, ``turnComplete``) built by ``Report.prompt`` and sent only when the app itself
sees the user idle -- the reference's "dependable fallback" -- rather than as a late NON_BLOCKING function
response with a ``scheduling`` hint.  The late-response path needs the id of the call that started the run,
which no longer exists after a session renewal, a fresh session or an app restart, and never existed for a
run followed from ``list_runs`` or the store; it would make every tool NON_BLOCKING; and WHEN_IDLE has been
reported never to fire in voice mode (livekit/agents PR #4644).  The app knows exactly when the user is idle
(key, VAD, playback, tool calls), so the client turn it sends then is spoken like any reply, barge-in included.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from desktop.codegen.api import RunCategory
from desktop.events import PullRequest, RunUpdate
from desktop.words import shorten

MAX_AGE_S = 600.0  # news older than this is shown, not spoken (the `run_update_max_age_s` setting)
SETTLE_S = 1.0  # the conversation must have been quiet this long (not right at the end of a reply)
HOLD_S = 20.0  # a pull request opened while its run goes on waits this long for the run's outcome: one sentence
SUMMARY_CHARS = 90
TITLE_CHARS = 70
MARKER = "[Run update"  # how the client turn starts (the system instruction and the stand-in know it)


class Outcome(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSING = "missing"  # the service no longer knows the run
    PULL_REQUEST = "pull request"  # opened while the run goes on


_CANCELLED = frozenset({"CANCELLED", "CANCELED", "STOPPED"})


def outcome_of(update: RunUpdate) -> Outcome | None:
    """The outcome a run's update says it reached (None: still going)."""
    if update.category == RunCategory.DONE:
        return Outcome.DONE
    if update.category == RunCategory.MISSING:
        return Outcome.MISSING
    if update.category == RunCategory.FAILED:
        return Outcome.CANCELLED if update.status.strip().upper() in _CANCELLED else Outcome.FAILED
    return None


@dataclass(frozen=True, slots=True)
class RunNews:
    run_id: int
    outcome: Outcome
    summary: str = ""
    pull_requests: tuple[PullRequest, ...] = ()  # the ones just opened; with an outcome, the ones not told yet
    seen_at: float = 0.0  # the caller's clock
    earlier: bool = False  # from before this session (ended while the app was closed, or never told): spoken
    #                        once the user has talked in this session, or shown

    @property
    def final(self) -> bool:
        return self.outcome is not Outcome.PULL_REQUEST


@dataclass(frozen=True, slots=True)
class Activity:
    """What the conversation is doing right now; news is spoken only when all of it is quiet."""

    key_held: bool = False  # the push-to-talk gate is open (or in its tail)
    user_speaking: bool = False  # the local VAD hears speech
    assistant_audible: bool = False  # Gemini is speaking, or its audio is still playing
    turn_in_flight: bool = False  # a request is on the wire and its reply not complete
    tool_running: bool = False  # a tool call is being answered
    session_ready: bool = True  # the Live session can take a turn (not connecting, not failed)

    @property
    def quiet(self) -> bool:
        return self.session_ready and not (self.key_held or self.user_speaking or self.assistant_audible
                                           or self.turn_in_flight or self.tool_running)


@dataclass(frozen=True, slots=True)
class Policy:
    speak: bool = True  # the `speak_run_updates` setting: off = shown only
    max_age_s: float = MAX_AGE_S
    settle_s: float = SETTLE_S
    hold_s: float = HOLD_S


_PR_NUMBER = re.compile(r"/pull/(\d+)(?:[/?#]|$)")


def pull_request_words(pr: PullRequest) -> str:
    """'pull request #42, “Fix the login test”' (the number when the link is a code host's /pull/N)."""
    m = _PR_NUMBER.search(pr.url)
    name = f"pull request #{m.group(1)}" if m else "a pull request"
    return f"{name}, “{shorten(pr.title, TITLE_CHARS)}”" if pr.title.strip() else name


def _opened(prs: Sequence[PullRequest]) -> str:
    if len(prs) == 1:
        return f"opened {pull_request_words(prs[0])}"
    return f"opened {len(prs)} pull requests, the latest {pull_request_words(prs[-1])}"


def clause(news: RunNews) -> str:
    """One run's news, e.g. 'run 1001 is done and opened pull request #42, “Fix login”'."""
    run = f"run {news.run_id}"
    why = f": {shorten(news.summary, SUMMARY_CHARS).rstrip(' .')}" if news.summary.strip() else ""
    if news.outcome is Outcome.PULL_REQUEST:
        return f"{run} {_opened(news.pull_requests)}"
    if news.outcome is Outcome.DONE:
        if news.pull_requests:
            return f"{run} is done and {_opened(news.pull_requests)}"
        return f"{run} is done{why}"
    if news.outcome is Outcome.FAILED:
        return f"{run} failed{why}"
    if news.outcome is Outcome.CANCELLED:
        return f"{run} was cancelled"
    return f"{run} is no longer known to CodeGen"


def merge(news: Iterable[RunNews]) -> tuple[RunNews, ...]:
    """One piece of news per run, oldest run first: an outcome absorbs the same run's pull-request news."""
    by_run: dict[int, RunNews] = {}
    for n in news:
        have = by_run.get(n.run_id)
        if have is None:
            by_run[n.run_id] = n
        elif n.final and not have.final:
            by_run[n.run_id] = replace(n, pull_requests=_union(have.pull_requests, n.pull_requests),
                                       seen_at=min(n.seen_at, have.seen_at))
        elif not n.final and not have.final:
            by_run[n.run_id] = replace(have, pull_requests=_union(have.pull_requests, n.pull_requests))
    return tuple(by_run[k] for k in sorted(by_run))


def _union(first: Sequence[PullRequest], then: Sequence[PullRequest]) -> tuple[PullRequest, ...]:
    return (*first, *(p for p in then if p not in first))


def sentence(news: Sequence[RunNews]) -> str:
    """Every piece of news in one sentence."""
    merged = merge(news)
    clauses = [clause(n) for n in merged]
    if len(clauses) > 1:
        clauses[-1] = "and " + clauses[-1]
    text = "; ".join(clauses)
    if merged and all(n.earlier for n in merged):
        text = "since your last session, " + text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "…")) else text + "."


def kind_of(news: Sequence[RunNews]) -> str:
    """The report's kind: the one outcome all of it shares, else 'several'."""
    kinds = {n.outcome for n in merge(news)}
    return next(iter(kinds)).value if len(kinds) == 1 else "several"


@dataclass(frozen=True, slots=True)
class Report:
    news: tuple[RunNews, ...]
    spoken: bool
    why_not_spoken: str = ""  # off | expired

    @property
    def run_ids(self) -> tuple[int, ...]:
        return tuple(n.run_id for n in merge(self.news))

    @property
    def final_run_ids(self) -> tuple[int, ...]:
        """The runs whose outcome this reports (remembered as reported across restarts)."""
        return tuple(n.run_id for n in merge(self.news) if n.final)

    @property
    def text(self) -> str:
        return sentence(self.news)

    @property
    def prompt(self) -> str:
        """The client turn that asks Gemini to tell the user (it is not the user speaking)."""
        return (f"{MARKER}: {kind_of(self.news)}] From the app, not from the user: a CodeGen run they follow "
                "changed. Tell the user in one short sentence, in the language of this conversation, and do not "
                f"call a tool for it:\n{self.text}")


class RunUpdates:
    def __init__(self, policy: Policy = Policy()) -> None:
        self.policy = policy
        self.pending: list[RunNews] = []
        self._told: set[int] = set()  # runs whose outcome the user was told (or is being told)
        self._known_prs: dict[int, set[str]] = {}  # pull requests the user knows of, per run
        self._restored: set[int] = set()  # followed again after a restart, not yet seen in this session
        self._busy_at = -math.inf  # the last moment the conversation was seen busy
        self._user_talked = False

    # ------------------------------------------------------------------ what is already known
    def seed(self, run_id: int, pr_urls: Iterable[str] = ()) -> None:
        """The user knows of these pull requests (a tool result showed them; the store had them)."""
        self._known_prs.setdefault(run_id, set()).update(pr_urls)

    def told(self, run_id: int, pr_urls: Iterable[str] = ()) -> None:
        """The user was told this run's outcome (a tool result said it, or a report did): never again."""
        self._told.add(run_id)
        self.seed(run_id, pr_urls)
        self.pending = [n for n in self.pending if not (n.run_id == run_id and n.final)]

    def restore(self, run_id: int, pr_urls: Iterable[str] = ()) -> None:
        """A run a previous session followed and did not see end: if its first update here says it ended, it
        ended while the app was closed."""
        self._restored.add(run_id)
        self.seed(run_id, pr_urls)

    def user_talked(self) -> None:
        """The user had a turn: news from while the app was closed may be spoken now."""
        self._user_talked = True

    def busy(self, now: float) -> None:
        """The conversation was busy at ``now`` (a turn or tool call just ended): wait ``settle_s`` after it."""
        self._busy_at = max(self._busy_at, now)

    # ------------------------------------------------------------------ news in
    def observe(self, update: RunUpdate, now: float, *, last_seen: float | None = None) -> RunNews | None:
        """A run update from the tracker: the news it makes, queued (None: nothing to tell).  ``last_seen``:
        when a previous session last saw the run going (the caller's clock), for a run that ended meanwhile."""
        run_id = update.run_id
        urls = [p.url for p in update.pull_requests]
        restored = run_id in self._restored
        self._restored.discard(run_id)
        first_sight = run_id not in self._known_prs
        known = self._known_prs.setdefault(run_id, set())
        outcome = outcome_of(update)
        if outcome is None:
            self._told.discard(run_id)  # going (again, after a resume): its next outcome is news
            new = [p for p in update.pull_requests if p.url not in known]
            known.update(urls)
            if not new or first_sight:  # pull requests a run had when first seen here are not news
                return None
            news = RunNews(run_id, Outcome.PULL_REQUEST, pull_requests=tuple(new), seen_at=now)
        else:  # the outcome names the pull requests the user does not know of yet (none told twice)
            new = [p for p in update.pull_requests if p.url not in known]
            known.update(urls)
            earlier = restored
            seen = last_seen if earlier and last_seen is not None else now
            news = RunNews(run_id, outcome, update.summary, tuple(new), seen, earlier)
        return news if self.add(news) else None

    def add(self, news: RunNews) -> bool:
        """Queue ``news`` unless it was told already; True when queued."""
        if news.final and news.run_id in self._told:
            return False
        if news.final:
            self._told.add(news.run_id)
        self.pending.append(news)
        return True

    # ------------------------------------------------------------------ reports out
    def take(self, activity: Activity, now: float) -> Report | None:
        """What to tell now, if anything: shown-only news first (speaking off, or too old), else everything
        that may be spoken, once the conversation has been quiet for ``settle_s``.  A pull request opened while
        its run goes on waits up to ``hold_s`` for the run's outcome, so a run that ends soon after is told in
        one sentence, not two."""
        if not activity.quiet:
            self._busy_at = now
        ended = {n.run_id for n in self.pending if n.final}
        waiting = [n for n in self.pending
                   if n.final or n.run_id in ended or now - n.seen_at >= self.policy.hold_s]
        if not waiting:
            return None
        if not self.policy.speak:
            return self._report(waiting, spoken=False, why="off")
        stale = [n for n in waiting if now - n.seen_at > self.policy.max_age_s]
        if stale:
            return self._report(stale, spoken=False, why="expired")
        ready = [n for n in waiting if self._user_talked or not n.earlier]
        if ready and activity.quiet and now - self._busy_at >= self.policy.settle_s:
            return self._report(ready, spoken=True)
        return None

    def _report(self, news: list[RunNews], *, spoken: bool, why: str = "") -> Report:
        taken = {id(n) for n in news}
        self.pending = [n for n in self.pending if id(n) not in taken]
        return Report(tuple(news), spoken, why)
