"""The state store benchmark: a database with many turns, then indexed reads, batched writes and pruning.

``run_store_bench`` fills a fresh database with ``rows`` turns (bulk insert, search index built once at the
end), then measures through the real ``Store`` with a ``Metrics`` registry: ``store.read`` (history pages at
random positions and response-cache look-ups), ``store.write`` (per item, turns written the way the
recorder writes them: one turn row and one tool-call row per batch), ``store.prune_chunk`` (a pruning
pass that removes about 5 % of the turns by count and age: delete and vacuum chunks) and, reported apart,
``store.fts_merge`` (the search-index merge steps that follow).  Percentiles come from the metrics histograms.
"""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from desktop.events import StageSummary
from desktop.metrics import STAGES, Metrics
from desktop.state.pruning import PruneRules
from desktop.state.store import DB_NAME, Store
from desktop.state.turns import INSERT_TOOL_CALL, INSERT_TURN

SPAN_S = 30.5 * 86400  # turns spread over this much time: the oldest ~2 % are past the 30-day age limit
WORDS = ("fix the flaky login test in repo api open a pull request status of my runs resume the build "
         "with retries and add a changelog entry for the release").split()
TIMINGS = json.dumps({"key_to_wire": 12.3, "speech_end_to_first_audio": 640.1, "turn_total": 1800.2})
CACHE_KEYS = 10_000
RUNS = 200


@dataclass(frozen=True)
class StoreBenchReport:
    rows: int
    fill_s: float
    db_mb: float
    read: StageSummary
    write: StageSummary
    prune_chunk: StageSummary
    fts_merge: StageSummary
    pruned: dict[str, int]
    active_runs_kept: bool

    @property
    def passed(self) -> bool:
        """Read and write p99 within their targets, the longest pruning chunk too, active runs kept."""
        limit = self.prune_chunk.target_ms or 0.0
        return (not self.read.over_target and not self.write.over_target
                and self.prune_chunk.max_ms < limit and self.active_runs_kept)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["passed"] = self.passed
        return out


def fill(path: Path, rows: int, *, now: float | None = None, seed: int = 1) -> None:
    """Bulk-insert ``rows`` turns (plus cache entries and runs) into a fresh store at ``path``."""
    Store.open(path, start=False).close()
    now = time.time() if now is None else now
    rnd = random.Random(seed)
    pool = [(" ".join(rnd.choices(WORDS, k=8)), " ".join(rnd.choices(WORDS, k=14))) for _ in range(997)]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                "AND tbl_name = 'turns'").fetchall()
        conn.execute("BEGIN")
        for name, _ in triggers:  # index once at the end instead of row by row
            conn.execute(f"DROP TRIGGER [{name}]")
        conn.execute("INSERT INTO sessions (id, started_at, ended_at, model, offline) VALUES ('bench', ?, ?, '', 1)",
                     [now - SPAN_S, now])
        conn.executemany(INSERT_TURN, (("bench", i, now - SPAN_S + SPAN_S * i / rows - 2.0,
                                        now - SPAN_S + SPAN_S * i / rows, *pool[i % len(pool)], TIMINGS, 0)
                                       for i in range(rows)))
        conn.execute("INSERT INTO turns_fts (turns_fts) VALUES ('rebuild')")
        conn.execute("INSERT INTO turns_fts (turns_fts) VALUES ('optimize')")  # one segment, as after long use
        for _, sql in triggers:
            conn.execute(sql)
        conn.executemany("INSERT INTO api_cache (key, body, etag, fetched_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                         ((f"GET /v1/organizations/1/agent/run/{k}", b'{"status":"completed"}' * 20, f'"{k}"',
                           now - 3600, now + 60) for k in range(CACHE_KEYS)))
        old = now - 60 * 86400
        conn.executemany("INSERT INTO runs (id, status, category, prompt, summary, web_url, pull_requests, "
                         "created_at, updated_at, first_seen) VALUES (?, ?, ?, 'p', '', '', '[]', '', ?, ?)",
                         ((r, "RUNNING" if r % 2 else "COMPLETE", "running" if r % 2 else "done", old, old)
                          for r in range(1, RUNS + 1)))
        conn.executemany("INSERT INTO run_steps (run_id, idx, message_type, text, created_at) VALUES (?, ?, ?, ?, '')",
                         ((r, i, "ACTION", f"step {i}") for r in range(1, RUNS + 1) for i in range(10)))
        conn.execute("COMMIT")
    finally:
        conn.close()


def run_store_bench(rows: int = 1_000_000, *, directory: Path | None = None, reads: int = 5000,
                    turns: int = 2000, metrics: Metrics | None = None, seed: int = 1) -> StoreBenchReport:
    """Fill, read, write, prune; ``metrics`` (if given) also receives the samples."""
    own = Metrics()
    with tempfile.TemporaryDirectory(prefix="store-bench-", dir=directory) as tmp:
        path = Path(tmp) / DB_NAME
        t0 = time.perf_counter()
        fill(path, rows, seed=seed)
        fill_s = time.perf_counter() - t0
        db_mb = path.stat().st_size / 1e6
        rules = PruneRules(max_age_days=30, max_mb=1e9, max_turns=rows - rows // 20)
        store = Store.open(path, metrics=own, rules=rules, idle_prune_after_s=1e9)
        try:
            rnd = random.Random(seed)
            for i in range(reads):
                if i % 2:
                    store.turns.history(before_id=rnd.randint(2, rows + 1), limit=50)
                else:
                    store.api_cache.load(f"GET /v1/organizations/1/agent/run/{rnd.randrange(CACHE_KEYS)}")
            now = time.time()
            for i in range(turns):
                store.enqueue(INSERT_TURN, ["bench", rows + i, now, now, "what is the status of my runs",
                                            "two runs are still going", TIMINGS, 0])
                store.enqueue(INSERT_TOOL_CALL, ["bench", rows + i, f"call-{i}", "list_runs", "{}",
                                                 '{"runs":[]}', 3.2, None, now])
                store.flush()
            report = store.prune()
            kept = len(store.runs.active()) == RUNS // 2 and all(
                len(store.runs.steps(r.run_id)) == 10 for r in store.runs.active())
        finally:
            store.close()
    if metrics is not None:
        metrics.merge(own)

    def summary(name: str) -> StageSummary:
        return own.stage(name).summary(STAGES[name][1])

    return StoreBenchReport(rows, round(fill_s, 2), round(db_mb, 1), summary("store.read"),
                            summary("store.write"), summary("store.prune_chunk"),
                            own.stage("store.fts_merge").summary(), report.deleted, kept)
