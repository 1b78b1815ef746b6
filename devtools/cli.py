"""The developer tools' commands, added to `gemini-codegen` when this package is installed.

`bench`, `loadtest`, and the per-area benchmarks `audio bench`, `db bench` and `runs bench`.  The app
itself never imports this package; ``desktop.cli`` asks for it and goes on without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from desktop.commands import UserError
from devtools import bench, loadtest


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    bench.register_cli(sub, common, groups)
    loadtest.register_cli(sub, common, groups)

    audio = groups["audio"].add_parser("bench", help="CPU per second of audio for each input stage")
    audio.add_argument("--seconds", type=float, default=20.0, help="seconds of test audio (default 20)")
    audio.add_argument("--json", action="store_true", help="print JSON")
    audio.set_defaults(handler=cmd_audio_bench)

    db = groups["db"].add_parser("bench", parents=[common], help="benchmark the store with many turns")
    db.add_argument("--rows", type=int, default=1_000_000, metavar="N", help="turns in the database (default 1M)")
    db.add_argument("--dir", type=Path, help="where the scratch database goes (default: the temp dir)")
    db.add_argument("--json", action="store_true", help="print JSON")
    db.set_defaults(handler=cmd_db_bench)

    runs = groups["runs"].add_parser("bench", parents=[common],
                                     help="measure the client's cache, coalescing and polling budget (local emulator)")
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=cmd_runs_bench)


def cmd_audio_bench(args: argparse.Namespace) -> int:
    from devtools.bench_audio import audio_pipeline_bench

    if not 1 <= args.seconds <= 600:
        raise UserError("--seconds must be between 1 and 600")
    result = audio_pipeline_bench(args.seconds)
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    print(f"audio input pipeline, {result.audio_seconds:g} s of audio (CPU time / audio time):")
    for stage, rtf in result.rtf.items():
        print(f"  {stage:<18} RTF {rtf:.5f}  = {rtf * 100:6.3f} % of one core")
    for backend, why in result.unavailable.items():
        print(f"  denoise.{backend:<10} not measured: {why}")
    total = result.rtf.get("chain.webrtc")
    if total is not None:
        verdict = "meets" if total < 0.01 else "misses"
        print(f"whole pipeline with webrtc: {total * 100:.3f} % of one core ({verdict} the < 1 % goal)")
    return 0


def cmd_db_bench(args: argparse.Namespace) -> int:
    from devtools.bench_store import run_store_bench

    if args.rows < 1000:
        raise UserError("--rows must be at least 1000")
    if args.dir is not None and not args.dir.is_dir():
        raise UserError(f"--dir {args.dir} is not a directory")
    if not args.json:
        print(f"filling a database with {args.rows:,} turns...", flush=True)
    report = run_store_bench(args.rows, directory=args.dir)
    if args.json:
        print(json.dumps(report.as_dict()))
        return 0 if report.passed else 1
    print(f"filled in {report.fill_s:.1f} s, {report.db_mb:.0f} MB")
    for label, s, goal, value in (("indexed read", report.read, "p99", report.read.p99_ms),
                                  ("batched write, per item", report.write, "p99", report.write.p99_ms),
                                  ("pruning chunk", report.prune_chunk, "longest", report.prune_chunk.max_ms)):
        verdict = "ok" if value < (s.target_ms or 0.0) else "over target"
        print(f"  {label:<24} n={s.count:<6} p50={s.p50_ms:.3f} ms  p99={s.p99_ms:.3f} ms  max={s.max_ms:.3f} ms"
              f"  (target {goal} < {s.target_ms:g} ms: {verdict})")
    m = report.fts_merge
    print(f"  {'search-index merge step':<24} n={m.count:<6} p50={m.p50_ms:.3f} ms  p99={m.p99_ms:.3f} ms  "
          f"max={m.max_ms:.3f} ms  (idle maintenance after pruning; no target)")
    print(f"  pruned: {', '.join(f'{t} {n:,}' for t, n in report.pruned.items() if n)}; "
          f"active runs and their steps kept: {'yes' if report.active_runs_kept else 'NO'}")
    return 0 if report.passed else 1


def cmd_runs_bench(args: argparse.Namespace) -> int:
    from devtools.bench_codegen import run_all

    results = asyncio.run(run_all())
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        c, co, b = results["cache"], results["coalescing"], results["budget"]
        print(f"cache: {c['reads']} reads of a finished run -> {c['requests']} requests, "
              f"p50 {c['p50_ms'] * 1e3:.1f} us, p99 {c['p99_ms'] * 1e3:.1f} us  [{'pass' if c['pass'] else 'FAIL'}]")
        print(f"coalescing: {co['concurrent_gets']} concurrent gets -> {co['requests']} request  "
              f"[{'pass' if co['pass'] else 'FAIL'}]")
        print(f"budget: {b['runs']} active runs, {b['simulated_minutes']:g} simulated minutes -> {b['requests']} "
              f"requests ({b['per_minute']:.1f}/min, limit 6), {b['rate_limited']} rate limited, "
              f"{b['real_seconds']:.2f} s real  [{'pass' if b['pass'] else 'FAIL'}]")
    return 0 if all(r["pass"] for r in results.values()) else 1
