"""Command line for the local state: `history`, `db stats`, `db prune`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from desktop.terminal_text import plain

if TYPE_CHECKING:
    from desktop.state.store import Store


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    history = sub.add_parser("history", parents=[common], help="past turns, newest first (or a full-text search)")
    history.add_argument("--search", metavar="TEXT", help="full-text search over both transcripts")
    history.add_argument("--limit", type=int, default=20, metavar="N", help="how many turns (default 20)")
    history.add_argument("--before", type=int, metavar="ID", help="page back: turns older than this id")
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    history.set_defaults(handler=cmd_history)

    db = sub.add_parser("db", help="the local history database")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    stats = db_sub.add_parser("stats", parents=[common], help="size, rows per table, oldest item")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=cmd_db_stats)
    prune = db_sub.add_parser("prune", parents=[common], help="remove old items now (by age, size and count)")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.add_argument("--json", action="store_true", help="print JSON")
    prune.set_defaults(handler=cmd_db_prune)
    groups["db"] = db_sub


def _open(args: argparse.Namespace) -> Store:
    from desktop.commands import UserError, settings_from_args
    from desktop.state.store import open_store

    store = open_store(settings_from_args(args), idle_prune_after_s=float("inf"))
    if store.unusable:  # no database can be opened at that place: nothing to show or change
        store.close()
        raise UserError(f"cannot open the history database in {store.path.parent if store.path else '?'}: "
                        f"{store.unusable}. Choose another place with --data-dir or GEMINI_CODEGEN_DATA_DIR.")
    if store.message:
        print(f"gemini-codegen: {plain(store.message)}", file=sys.stderr)
    return store


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-"


def cmd_history(args: argparse.Namespace) -> int:
    from desktop.commands import UserError

    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    with _open(args) as store:
        turns = store.turns.search(args.search, args.limit) if args.search else store.turns.history(args.before, args.limit)
    for t in turns:
        if args.json:
            print(json.dumps(asdict(t)))
        else:
            print(f"#{t.id}  {_when(t.finished_at)}" + ("  FAILED" if t.error else ""))
            print(f"  you:       {plain(t.user_text)}")
            print(f"  assistant: {plain(t.assistant_text)}")
            if t.error:
                print(f"  why:       {plain(t.error)}")
    if not turns and not args.json:
        print("no matching turns" if args.search else "no history yet")
    return 0


def cmd_db_stats(args: argparse.Namespace) -> int:
    with _open(args) as store:
        stats = store.stats()
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"database: {plain(stats['path'] or 'in memory')}  (schema version {stats['schema_version']})")
    print(f"size:     {stats['size_bytes'] / 1e6:.1f} MB")
    for table, n in stats["rows"].items():
        print(f"  {table:<17} {n:>10,}")
    print(f"oldest item: {_when(stats['oldest_item'])}")
    return 0


def cmd_db_prune(args: argparse.Namespace) -> int:
    with _open(args) as store:
        rules = store.rules
        report = store.prune(dry_run=args.dry_run)
    if args.json:
        print(json.dumps(asdict(report)))
        return 0
    verb = "would remove" if args.dry_run else "removed"
    total = sum(report.deleted.values())
    print(f"rules: older than {rules.max_age_days:g} days, over {rules.max_mb:g} MB, over {rules.max_turns:,} turns")
    if total:
        print(f"{verb} {total:,} rows: " + ", ".join(f"{t} {n:,}" for t, n in report.deleted.items() if n))
    else:
        print("nothing to remove")
    if not args.dry_run:
        print(f"{report.chunks} chunks, longest {report.longest_chunk_ms:.2f} ms; "
              f"{report.vacuumed_pages} pages returned to the file system")
    return 0
