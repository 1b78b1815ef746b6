"""The CodeGen run tables — runs and their steps — and every read and write of them.

A run's row keeps the best of what was seen: a later update without a prompt, summary, link or pull
requests does not erase those.  A run keeps at most its newest ``MAX_STEPS_PER_RUN`` steps: a step past
that removes the older ones in the same write, so a service that sends steps without end costs a bounded
number of rows.  ``active()`` is what a restarted app follows again at once; ``unreported()`` the
runs whose outcome the user has not been told yet (``mark_reported``), which a restarted app reports once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.codegen.api import FINAL, RunCategory, sql_list
from desktop.events import PullRequest

if TYPE_CHECKING:
    from desktop.state.access import StoreAccess

# The merge rule of ``RunUpdate.after`` in SQL (tests/state/test_recorder.py checks the two agree): a field the
# update lacks keeps the stored value; a newer run under a reused id (another created_at) replaces the old whole.
_SAME_RUN = "(coalesce(runs.created_at, '') IN ('', excluded.created_at) OR excluded.created_at = '')"


def _kept(column: str) -> str:
    return (f"{column} = CASE WHEN {_SAME_RUN} THEN coalesce(nullif(excluded.{column}, ''), runs.{column}) "
            f"ELSE excluded.{column} END")


UPSERT_RUN = (
    "INSERT INTO runs (id, status, category, prompt, summary, web_url, pull_requests, created_at, updated_at, "
    "first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
    f"category = excluded.category, {_kept('prompt')}, {_kept('summary')}, {_kept('web_url')}, "
    f"pull_requests = CASE WHEN {_SAME_RUN} AND excluded.pull_requests = '[]' THEN runs.pull_requests "
    "ELSE excluded.pull_requests END, created_at = coalesce(nullif(excluded.created_at, ''), runs.created_at), "
    f"updated_at = excluded.updated_at, first_seen = CASE WHEN {_SAME_RUN} THEN runs.first_seen "
    "ELSE excluded.first_seen END, "
    # a run seen going again (resumed) has news to tell once more when it ends; a new run under the id has its own
    f"reported = CASE WHEN {_SAME_RUN} AND excluded.category IN {sql_list(FINAL)} THEN runs.reported ELSE 0 END")
# before UPSERT_RUN, in the same write: the steps of the run a reused id named before (params: id, created_at)
DROP_REPLACED_STEPS = ("DELETE FROM run_steps WHERE run_id = ?1 AND ?2 != '' AND EXISTS (SELECT 1 FROM runs "
                       "WHERE id = ?1 AND coalesce(created_at, '') NOT IN ('', ?2))")
FINISH_RUN = (
    "INSERT INTO runs (id, status, category, summary, web_url, pull_requests, updated_at, first_seen) "
    "VALUES (?, ?, ?, ?, ?, '[]', ?, ?) ON CONFLICT(id) DO UPDATE SET category = excluded.category, "
    "summary = coalesce(nullif(excluded.summary, ''), runs.summary), "
    "web_url = coalesce(nullif(excluded.web_url, ''), runs.web_url), updated_at = excluded.updated_at")
MARK_REPORTED = "UPDATE runs SET reported = 1 WHERE id = ?"
INSERT_STEP = ("INSERT OR IGNORE INTO run_steps (run_id, idx, message_type, text, created_at) "
               "VALUES (?, ?, ?, ?, ?)")
PRUNE_STEPS = "DELETE FROM run_steps WHERE run_id = ? AND idx <= ?"
# a run's first steps can come before its first update (one logs page carries both): its row, to be filled in
ENSURE_RUN = ("INSERT OR IGNORE INTO runs (id, status, category, pull_requests, updated_at, first_seen) "
              "VALUES (?, '', 'unknown', '[]', ?, ?)")
MAX_STEPS_PER_RUN = 500  # steps kept per run (the newest), in the database and in any list shown


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: int
    status: str
    category: RunCategory
    prompt: str = ""
    summary: str = ""
    web_url: str = ""
    pull_requests: tuple[PullRequest, ...] = ()
    created_at: str = ""
    updated_at: float = 0.0
    reported: bool = False  # the user was told its outcome


@dataclass(frozen=True, slots=True)
class StepRecord:
    run_id: int
    index: int
    message_type: str
    text: str
    created_at: str = ""


def _run(row: dict[str, Any]) -> RunRecord:
    prs = tuple(PullRequest(**pr) for pr in json.loads(row["pull_requests"] or "[]"))
    return RunRecord(row["id"], row["status"] or "", RunCategory.parse(row["category"]), row["prompt"] or "",
                     row["summary"] or "", row["web_url"] or "", prs, row["created_at"] or "", row["updated_at"] or 0.0,
                     bool(row.get("reported")))


class Runs:
    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    # ------------------------------------------------------------------ writes (queued)
    def upsert(self, run_id: int, status: str, category: str, *, prompt: str = "", summary: str = "",
               web_url: str = "", pull_requests: tuple[PullRequest, ...] = (), created_at: str = "",
               updated_at: float | None = None) -> None:
        # at most 20 pull requests of bounded fields: the list stays well inside one stored text field
        prs = json.dumps([{"title": p.title[:1000], "url": p.url[:1000], "branch": p.branch[:200]}
                          for p in pull_requests[:20]])
        now = time.time()
        self.store.enqueue(DROP_REPLACED_STEPS, [run_id, created_at],
                           then=[(UPSERT_RUN, [run_id, status, category, prompt, summary, web_url, prs, created_at,
                                               updated_at or now, now])])

    def finish(self, run_id: int, category: str, *, summary: str = "", web_url: str = "") -> None:
        now = time.time()
        self.store.enqueue(FINISH_RUN, [run_id, category, category, summary, web_url, now, now])

    def mark_reported(self, run_ids: Iterable[int]) -> None:
        """The user was told these runs' outcomes (spoken or shown): a restart does not report them again."""
        for run_id in run_ids:
            self.store.enqueue(MARK_REPORTED, [run_id])

    def add_step(self, run_id: int, index: int, message_type: str, text: str, created_at: str = "") -> None:
        """One step; past ``MAX_STEPS_PER_RUN`` the older steps of the run go in the same write."""
        now = time.time()
        prune = [(PRUNE_STEPS, [run_id, index - MAX_STEPS_PER_RUN])] if index >= MAX_STEPS_PER_RUN else []
        self.store.enqueue(ENSURE_RUN, [run_id, now, now],
                           then=[(INSERT_STEP, [run_id, index, message_type, text, created_at]), *prune])

    # ------------------------------------------------------------------ reads
    def active(self) -> list[RunRecord]:
        """Runs not yet done or failed (the ones the tracker was following), newest first; a run the service
        no longer knows ('missing') is not followed again."""
        return [_run(r) for r in self.store.query(
            f"SELECT * FROM runs WHERE category NOT IN {sql_list(FINAL)} ORDER BY updated_at DESC")]

    def unreported(self) -> list[RunRecord]:
        """Runs that ended (done, failed, missing) without the user being told, oldest first."""
        return [_run(r) for r in self.store.query(
            f"SELECT * FROM runs WHERE category IN {sql_list(FINAL)} AND reported = 0 "
            "ORDER BY updated_at")]

    def recent(self, limit: int = 20) -> list[RunRecord]:
        return [_run(r) for r in self.store.query("SELECT * FROM runs ORDER BY updated_at DESC LIMIT ?", [limit])]

    def steps(self, run_id: int, after_index: int = -1, limit: int = 200) -> list[StepRecord]:
        rows = self.store.query("SELECT * FROM run_steps WHERE run_id = ? AND idx > ? ORDER BY idx LIMIT ?",
                                [run_id, after_index, limit])
        return [StepRecord(r["run_id"], r["idx"], r["message_type"] or "", r["text"] or "", r["created_at"] or "")
                for r in rows]
