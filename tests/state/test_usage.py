"""Token usage in the history database: each report added to its turn's, its session's and its day's totals
in one write; a restart reads them back; pruning removes old turns' rows but never a day's total."""

from __future__ import annotations

import sqlite3
import time

from desktop.events import EventBus, UsageReported
from desktop.live.usage import Usage
from desktop.state.pruning import PruneRules
from desktop.state.recorder import Recorder
from desktop.state.store import Store
from desktop.state.turns import INSERT_TURN
from desktop.state.usage import local_day

DAY = 86400.0


def test_reports_are_recorded_per_turn_session_and_day_and_read_back_after_a_restart(db_path) -> None:
    heard, said = Usage({"audio": 136}, {"audio": 92}), Usage({"text": 5}, {"audio": 40, "thoughts": 3})
    with Store.open(db_path) as store:
        bus = EventBus()
        recorder = Recorder(store).attach(bus)
        bus.emit(UsageReported(1, heard, heard, heard))
        bus.emit(UsageReported(2, said, said, heard + said))
        bus.emit(UsageReported(2, said, said + said, heard + said + said))  # a second report in the same turn
        assert recorder.close()
        session = recorder.session_id
    with Store.open(db_path) as store:  # a restart: a new store on the same file
        assert store.usage.turn(session, 1) == heard
        assert store.usage.turn(session, 2) == said + said
        assert store.usage.session(session) == heard + said + said
        assert store.usage.day(local_day()) == heard + said + said
        assert store.usage.day("1999-01-01") == Usage()
    rows = sqlite3.connect(db_path).execute("SELECT sum(tokens) FROM daily_usage").fetchone()[0]
    assert rows == (heard + said + said).total_tokens


def test_pruning_old_turns_keeps_every_day_total_whole(store: Store) -> None:
    now = time.time()
    old, new = now - 40 * DAY, now - DAY
    store.enqueue("INSERT INTO sessions (id, started_at, ended_at) VALUES ('old', ?, ?)", [old, old])
    store.enqueue("INSERT INTO sessions (id, started_at, ended_at) VALUES ('new', ?, ?)", [new, new])
    report = Usage({"audio": 250}, {"audio": 500})
    for session, at in (("old", old), ("new", new)):
        for turn in range(1, 4):
            store.enqueue(INSERT_TURN, [session, turn, at, at, "request", "reply", "{}", 0])
            store.usage.add(session, turn, report, at=at)
    assert store.flush()
    days_before = {r["day"]: r["n"] for r in store.query("SELECT day, sum(tokens) AS n FROM daily_usage GROUP BY day")}
    store.prune(rules=PruneRules(max_age_days=30, max_mb=1e6, max_turns=10**9))
    assert store.query("SELECT DISTINCT session_id FROM turn_usage") == [{"session_id": "new"}]
    assert store.query("SELECT DISTINCT session_id FROM session_usage") == [{"session_id": "new"}]
    days_after = {r["day"]: r["n"] for r in store.query("SELECT day, sum(tokens) AS n FROM daily_usage GROUP BY day")}
    assert days_after == days_before == {local_day(old): 3 * 750, local_day(new): 3 * 750}
    assert store.usage.session("new") == report + report + report
