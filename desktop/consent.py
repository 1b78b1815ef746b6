"""Consent belongs to the user: whatever starts or steers a CodeGen agent needs the user's own clear yes to
exactly what was read back, from a turn the user began — judged here, never on the model's word alone.

Three parts:

* ``judge(text)``: yes / no / unclear from the user's own words (typed text as typed, speech as transcribed).
  Strict: a yes is a short answer made only of words of agreement ("yes", "yes please, start it", "go
  ahead"); any negation ("no", "not", "don't", "stop", "cancel", "not yet", "yeah no"), any hesitation
  ("wait", "hold on", "hmm", "maybe", "actually"), a question, a trailing "…" or any other word is not a yes.
* ``Ledger``: who began each turn (``TurnStarted``: voice, typed, or the app's own run news), what the user
  said in it, the one request read back and waiting (``ReadBack``, announced with ``ConfirmationAsked`` /
  ``ConfirmationClosed``), and the per-turn budget: at most one state change per user turn, none in a turn
  the user did not begin, and at most ``MAX_CALLS_PER_TURN`` tool calls of any kind per turn.
* ``Refused``: a tool call turned down, with what the model needs to stop retrying (``retryable``, ``hint``).

A spoken yes is judged on the transcript's words (no local recogniser checks the audio yet: the one tried,
pocketsphinx with a yes/no grammar, heard too many non-yes answers as yes on unseen voices to be trusted).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop.codegen.client import CodegenError
from desktop.events import (
    ConfirmationAsked,
    ConfirmationClosed,
    EventBus,
    TranscriptDelta,
    TurnFinished,
    TurnStarted,
)

VOICE, TYPED, APP = "voice", "typed", "app"
USER_ORIGINS = (VOICE, TYPED)
MAX_CALLS_PER_TURN = 8  # tool calls of one turn; the rest are answered "too many calls" at once
TRANSCRIPT_WAIT_S = 1.5  # how long a confirm waits for the rest of a spoken answer's transcript
KEPT_TURNS = 16


class Verdict(enum.StrEnum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


# ------------------------------------------------------------------------------------------ the judge
_NEGATIONS = frozenset("""
    no nope nah naw not never don't dont cancel cancelled canceled cancelling stop stopped abort halt
    negative nevermind neither nor none nothing refuse decline declined forget scratch quit kill reject veto
    won't wont can't cant cannot shouldn't shouldnt mustn't isn't wasn't didn't doesn't wouldn't couldn't
    aren't ain't hasn't haven't shan't needn't
""".split())
_HESITATIONS = frozenset("""
    wait waiting hold hang hmm hm hmmm mm mmm um umm uh uhh er erm ah eh oh maybe perhaps possibly probably
    think thinking thought unsure actually but though although however later second sec moment minute let
    if unless before first instead rather what why how which who when where huh pause again repeat sorry
    pardon confused dunno guess suppose kinda kind sort sorta should could would might can may change
    different other else except hesitate careful check tomorrow soon yet
""".split())
# words that are an answer of agreement by themselves
_AGREE = frozenset("""
    yes yeah yea yep yup ya yah yess yesss sure ok okay okey alright confirm confirmed affirmative absolutely
    definitely certainly correct approved approve indeed
""".split())
_AFFIRM = _AGREE | {"start", "go", "proceed"}  # ...and the verbs of the question ("Should I start ...?")
# ...and phrases that are
_AFFIRM_PHRASES = (("do", "it"), ("run", "it"), ("do", "that"), ("please", "do"), ("sounds", "good"),
                   ("of", "course"), ("that's", "right"), ("all", "right"), ("make", "it", "so"),
                   ("kick", "it", "off"), ("launch", "it"))
# words allowed around them (a yes is made only of these and the above)
_FILLER = frozenset("""
    please thanks thank you that that's thats it it's its is right fine good great perfect the a an run
    agent start starting go ahead do for sounds let's lets now exactly and so just course of all kick off
    launch i i'm im agree we cool awesome nice lovely brilliant excellent sir ma'am yes this
""".split())
_ELLIPSIS = re.compile(r"\.\.|…")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
MAX_ANSWER_WORDS = 12


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, apostrophes unified ("Don’t" -> "don't")."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'").casefold()
    return _WORD.findall(text)


def _has_phrase(ws: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(ws[i:i + n]) == phrase for i in range(len(ws) - n + 1))


def judge(text: str) -> Verdict:
    """The user's answer to a read-back: YES only for a short, clear answer of agreement and nothing else;
    NO for a refusal; UNCLEAR for everything else (mixed, hesitant, a question, another request, empty)."""
    ws = words(text)
    if not ws:
        return Verdict.UNCLEAR
    negated = any(w in _NEGATIONS or w.endswith("n't") for w in ws)
    if negated:  # "yes... wait, no" / "yeah no": mixed, not a yes; "no, do not start it": a no
        return Verdict.UNCLEAR if any(w in _AGREE for w in ws) else Verdict.NO
    affirmed = any(w in _AFFIRM for w in ws) or any(_has_phrase(ws, p) for p in _AFFIRM_PHRASES)
    if any(w in _HESITATIONS for w in ws) or "?" in text or _ELLIPSIS.search(text):
        return Verdict.UNCLEAR
    if len(ws) > MAX_ANSWER_WORDS or not affirmed:
        return Verdict.UNCLEAR
    if all(w in _AFFIRM or w in _FILLER for w in ws):
        return Verdict.YES
    return Verdict.UNCLEAR


# ------------------------------------------------------------------------------------------ refusals
class Refused(CodegenError):
    """A tool call turned down by the app (not by CodeGen): ``str`` is speakable; ``retryable`` says whether
    calling again can help, ``hint`` what the model should do instead."""

    outcome = "refused"

    def __init__(self, message: str, *, hint: str, retryable: bool = False):
        super().__init__(message, kind="consent")
        self.hint, self.retryable = hint, retryable


# ------------------------------------------------------------------------------------------ the ledger
@dataclass
class TurnRecord:
    id: int
    origin: str
    text: str = ""
    heard_all: asyncio.Event | None = None  # set when the user's words of this turn are complete

    @property
    def by_user(self) -> bool:
        return self.origin in USER_ORIGINS

    def complete(self) -> None:
        if self.heard_all is not None:
            self.heard_all.set()

    @property
    def is_complete(self) -> bool:
        return self.heard_all is not None and self.heard_all.is_set()


@dataclass(frozen=True, slots=True)
class ReadBack:
    """One request read back, waiting for the user's yes: exactly what a yes starts."""

    ask_id: int
    kind: str  # create | resume
    prompt: str
    repo: str = ""  # create
    run_id: int | None = None  # resume
    turn: int = 0  # the turn in which it was read back: the answer must come in a later user turn
    speech: str = ""


def same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass
class Ledger:
    """The user's turns and the request waiting for their yes (fed from the bus: ``attach``)."""

    bus: EventBus | None = None
    turns: dict[int, TurnRecord] = field(default_factory=dict)
    current: TurnRecord | None = None  # the latest turn (None: none yet this session)
    read_back: ReadBack | None = None
    changed_in: int | None = None  # the last turn in which something was started or steered
    calls: dict[int, int] = field(default_factory=dict)  # tool calls per turn
    refused_calls: int = 0
    _asks: int = 0

    def attach(self, bus: EventBus) -> Callable[[], None]:
        self.bus = bus
        offs = [bus.on(TurnStarted, self.observe), bus.on(TranscriptDelta, self.observe),
                bus.on(TurnFinished, self.observe)]

        def detach() -> None:
            for off in offs:
                off()

        return detach

    # ---------------------------------------------------------------- events
    def observe(self, ev: Any) -> None:
        rec: TurnRecord | None
        if isinstance(ev, TurnStarted):
            rec = TurnRecord(ev.turn_id, ev.origin, heard_all=asyncio.Event())
            self.turns[ev.turn_id] = rec
            self.current = rec
            for old in [t for t in self.turns if t <= ev.turn_id - KEPT_TURNS]:
                self.turns.pop(old, None)
                self.calls.pop(old, None)
        elif isinstance(ev, TranscriptDelta):
            rec = self.turns.get(ev.turn_id)
            if ev.role != "user" or rec is None or not rec.by_user:
                return  # a "user" transcript inside the app's own turn is never the user's
            rec.text += ev.text
            if ev.finished:
                rec.complete()
                self._heard(rec)
        elif isinstance(ev, TurnFinished):
            rec = self.turns.get(ev.turn_id)
            if rec is not None and rec.by_user:
                if not rec.text and ev.user_text:
                    rec.text = ev.user_text
                rec.complete()
                self._heard(rec)

    def _heard(self, rec: TurnRecord) -> None:
        """A user's complete answer: a clear no withdraws the request at once (the card closes)."""
        rb = self.read_back
        if rb is not None and rec.id > rb.turn and judge(rec.text) is Verdict.NO:
            self.close("cancelled")

    # ---------------------------------------------------------------- budget
    @property
    def turn_id(self) -> int:
        return self.current.id if self.current is not None else 0

    def count_call(self, name: str) -> None:
        """Every tool call: at most ``MAX_CALLS_PER_TURN`` per turn, the rest refused at once."""
        turn = self.turn_id
        n = self.calls.get(turn, 0) + 1
        self.calls[turn] = n
        if n > MAX_CALLS_PER_TURN:
            self.refused_calls += 1
            raise Refused(f"Too many tool calls in one turn ({MAX_CALLS_PER_TURN} at most); {name} was not run.",
                          hint="Answer the user with what you already have; do not call more tools this turn.")

    def claim_change(self) -> TurnRecord:
        """A state-changing call: only in a turn the user began, and one per such turn (claimed before any
        await, so calls made together cannot all pass)."""
        rec = self.current
        if rec is None or not rec.by_user:
            raise Refused("Nothing is started or changed without the user asking: no request of theirs is "
                          "waiting.", hint="Wait for the user to ask; then read the request back.")
        if self.changed_in == rec.id:
            raise Refused("Only one run can be started or steered per request of the user; this call did nothing.",
                          hint="Tell the user what was done; ask them before the next change.")
        self.changed_in = rec.id
        return rec

    # ---------------------------------------------------------------- read-backs
    def ask(self, kind: str, prompt: str, *, repo: str = "", run_id: int | None = None, speech: str = "") -> ReadBack:
        """Read a request back: it replaces any other one waiting."""
        if self.read_back is not None:
            self.close("replaced")
        self._asks += 1
        rb = ReadBack(self._asks, kind, prompt, repo, run_id, self.turn_id, speech)
        self.read_back = rb
        self._emit(ConfirmationAsked(rb.ask_id, kind, prompt, repo, run_id, speech, rb.turn))
        return rb

    def close(self, outcome: str, run_id: int | None = None) -> None:
        """The request waiting (if any) is no longer waiting: ``outcome`` says why."""
        rb, self.read_back = self.read_back, None
        if rb is not None:
            self.closed(rb, outcome, run_id)

    def closed(self, rb: ReadBack, outcome: str, run_id: int | None = None) -> None:
        self._emit(ConfirmationClosed(rb.ask_id, outcome, run_id))

    def answers(self, rb: ReadBack) -> bool:
        """The current turn can answer ``rb``: a turn the user began, after the one it was read back in."""
        rec = self.current
        return rec is not None and rec.by_user and rec.id > rb.turn

    async def answer(self, rec: TurnRecord) -> Verdict:
        """The user's answer in ``rec`` (a spoken one waits briefly for the rest of its transcript)."""
        if rec.origin == VOICE and not rec.is_complete and rec.heard_all is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rec.heard_all.wait(), TRANSCRIPT_WAIT_S)
        return judge(rec.text)

    def _emit(self, ev: Any) -> None:
        if self.bus is not None:
            self.bus.emit(ev)
