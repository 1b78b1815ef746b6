"""`gemini-codegen bench`: every optimisation measured against its baseline in the same run.

Servers (the Live emulator, the CodeGen emulator) run in separate processes so their CPU is not charged
to the client; CPU is process time of this process only.  Each comparison is repeated and reported as
the median with its spread, because this is a small, noisy machine.  ``--quick`` keeps the whole run
under a minute; the full run writes docs/performance.md and the PNG plots from the numbers it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import ssl
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.bench_core import Report, Row, emulator_process, fixture_turns, med


# ------------------------------------------------------------------------------ metrics recording
def bench_metric_record(report: Report) -> None:
    from desktop.metrics import Histogram

    h = Histogram()
    number = 200_000
    runs = [timeit.timeit(lambda: h.record_us(12345), number=number) / number * 1e9 for _ in range(5)]
    report.sections["metrics"] = {"record_ns_median": round(med(runs)), "record_ns_runs": [round(r) for r in runs],
                                  "goal_ns": 2000}


# ------------------------------------------------------------------------- Live client send path
def bench_encode(report: Report) -> None:
    from desktop.live import protocol as p

    pcm = os.urandom(640)
    number = 20_000
    naive = [timeit.timeit(lambda: p.audio_message_naive(pcm), number=number) / number * 1e6 for _ in range(5)]
    fast = [timeit.timeit(lambda: p.audio_message(pcm), number=number) / number * 1e6 for _ in range(5)]
    report.rows.append(Row("encode one 20 ms audio message", "us CPU", med(naive), med(fast),
                           "dict + json.dumps", "pre-encoded prefix + base64 + suffix"))


async def _send_cpu_ours(url: str, tls: ssl.SSLContext, chunks: int, naive: bool = False, pcm: list[bytes] | None = None,
                         deflate: Any = None) -> float:
    """CPU (us) per audio chunk through the whole send path; ``pcm``: the chunks to send in turn (default one
    random 20 ms chunk, which no compressor can shrink), ``deflate``: the permessage-deflate offer."""
    from desktop.live import protocol as p
    from desktop.live.client import LiveClient, LiveConfig
    from desktop.live.session import ActivityStart, SendAudio

    client = LiveClient(LiveConfig(url=p.live_url(url), api_key="bench", ssl_context=tls,
                                   deflate=deflate))
    if naive:
        client.session.encode_audio = p.audio_message_naive
    await client.connect()
    await client.send(ActivityStart())
    commands = [SendAudio(c) for c in (pcm or [os.urandom(640)])]
    t0 = time.process_time()
    for i in range(chunks):
        await client.send(commands[i % len(commands)])
    cpu = time.process_time() - t0
    await client.close()
    return cpu / chunks * 1e6


async def _send_cpu_sdk(url: str, tls: ssl.SSLContext, chunks: int) -> float:
    from google import genai
    from google.genai import types

    port = int(url.rsplit(":", 1)[1])
    client = genai.Client(api_key="bench", http_options=types.HttpOptions(
        base_url=f"https://127.0.0.1:{port}", api_version="v1beta", async_client_args={"ssl": tls}))
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO], realtime_input_config=types.RealtimeInputConfig(
        automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)))
    pcm = os.urandom(640)
    async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        t0 = time.process_time()
        for _ in range(chunks):
            await session.send_realtime_input(audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000"))
        cpu = time.process_time() - t0
    return cpu / chunks * 1e6


def bench_send_path(report: Report) -> None:
    """CPU per 20 ms chunk sent, over TLS to the emulator in another process: ours vs naive vs the SDK."""
    chunks = 1000 if report.quick else 5000
    repeats = 3 if report.quick else 7
    have_sdk = True
    try:
        import google.genai  # noqa: F401
    except ImportError:
        have_sdk = False
    with emulator_process("live", "--port", "0") as (url, tls):
        ours, naive, sdk = [], [], []
        for _ in range(repeats):  # interleaved, so drift on the machine hits all three alike
            ours.append(asyncio.run(_send_cpu_ours(url, tls, chunks, naive=False)))
            naive.append(asyncio.run(_send_cpu_ours(url, tls, chunks, naive=True)))
            if have_sdk:
                sdk.append(asyncio.run(_send_cpu_sdk(url, tls, chunks)))
    report.sections["send_path"] = {"chunks_per_run": chunks, "runs": repeats,
                                    "ours_us": [round(v, 1) for v in ours], "naive_us": [round(v, 1) for v in naive],
                                    "sdk_us": [round(v, 1) for v in sdk]}
    report.rows.append(Row("Live client CPU per 20 ms chunk sent (wss, loopback)", "us CPU", med(naive), med(ours),
                           "same client, dict + json.dumps per chunk", "pre-encoded"))
    if sdk:
        report.rows.append(Row("Live client CPU per 20 ms chunk vs official SDK", "us CPU", med(sdk), med(ours),
                               "google-genai send_realtime_input", "desktop.live.client",
                               note="goal: ours <= 1/3 of the SDK (ratio >= 3)"))


# ------------------------------------------------------------------------------ end-to-end turns
async def _e2e_turns(url: str, tls: ssl.SSLContext, turns: int, chunk_ms: int, realtime: bool) -> dict[str, Any]:
    from desktop.config import Settings
    from desktop.metrics import Metrics
    from desktop.session import open_session
    from desktop.simulated_user import speak_frames
    from devtools.bench_core import bench_endpoints, chain_profile, client_added_ms, server_replies

    fixtures = fixture_turns()
    metrics = Metrics()
    settings = Settings(offline=True)
    key = f"bench-e2e-{os.getpid()}-{time.monotonic_ns()}"  # this run's replies in the stand-in's timings
    windows: list[tuple[Any, float, float]] = []  # each turn and when it ran (time.monotonic())
    async with open_session(settings, metrics=metrics, record=False, endpoints=bench_endpoints(url, tls, key),
                            tools="off", profile=chain_profile(settings.denoise_level, chunk_ms)) as session:
        engine = session.engine  # the app's chain: its VAD dates the end of speech
        cpu0, wall0 = time.process_time(), time.perf_counter()
        audio_s = 0.0
        done = 0
        for i in range(turns):
            f, release_at = fixtures[i % len(fixtures)]
            audio_s += len(f) / 100
            began = time.monotonic()
            await speak_frames(engine, f, realtime=realtime, release_at=release_at)
            turn = await engine.wait_turn(30)
            if turn is None:
                continue
            done += 1
            windows.append((turn, began, time.monotonic()))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    msgs = metrics.counters.get("messages_sent", 0)
    # from activityEnd to the first reply audio, less the stand-in's measured share of that reply (and the
    # tool calls' own time); the user's release and the gate's tail come before activityEnd
    replies = await server_replies(url, tls, key)
    client_added = [ms for turn, began, ended in windows
                    if (ms := client_added_ms(turn, replies, began, ended)) is not None]
    from desktop.metrics import Histogram

    h = Histogram()
    for v in client_added:
        h.record_s(v / 1e3)
    snap = metrics.snapshot()
    return {"turns": done, "audio_seconds": round(audio_s, 2), "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 3), "cpu_per_audio_second_ms": round(cpu / audio_s * 1e3, 2) if audio_s else 0,
            "messages_per_audio_second": round(msgs / audio_s, 1) if audio_s else 0,
            "stages": {k: {"count": s.count, "p50_ms": round(s.p50_ms, 2), "p95_ms": round(s.p95_ms, 2),
                           "p99_ms": round(s.p99_ms, 2), "max_ms": round(s.max_ms, 2)} for k, s in snap.stages.items()},
            "client_added_ms": {"p50": round(h.percentile_us(50) / 1e3, 2), "p95": round(h.percentile_us(95) / 1e3, 2),
                                "p99": round(h.percentile_us(99) / 1e3, 2), "samples": client_added}}


def bench_e2e(report: Report) -> None:
    delay = 0.4
    turns = 6 if report.quick else 24
    with emulator_process("live", "--port", "0", "--model-delay", str(delay)) as (url, tls):
        report.sections["e2e"] = asyncio.run(_e2e_turns(url, tls, turns, 20, realtime=not report.quick))
        report.sections["e2e"]["model_delay_ms"] = delay * 1e3
        report.sections["e2e"]["realtime"] = not report.quick
        from devtools.voice_bench import release_baseline

        report.sections["release_baseline"] = asyncio.run(release_baseline(url, tls, 2 if report.quick else 8))
        chunk_rows = {}
        for chunk_ms in (20, 40, 100):
            chunk_rows[chunk_ms] = asyncio.run(_e2e_turns(url, tls, 4, chunk_ms, realtime=False))
    report.sections["chunk_sizes"] = {str(k): {"cpu_per_audio_second_ms": v["cpu_per_audio_second_ms"],
                                               "messages_per_audio_second": v["messages_per_audio_second"]}
                                      for k, v in chunk_rows.items()}
    from devtools.voice_bench import voice_rows

    voice_rows(report)
    report.rows.append(Row("Live messages per second of speech", "msg/s",
                           chunk_rows[20]["messages_per_audio_second"], chunk_rows[100]["messages_per_audio_second"],
                           "20 ms chunks", "100 ms chunks (saver profile)"))


# ------------------------------------------------------------------------------ audio pipeline
def bench_audio(report: Report) -> None:
    from devtools.bench_audio import audio_pipeline_bench

    runs = [audio_pipeline_bench(10.0 if report.quick else 60.0) for _ in range(3)]
    stages = runs[0].rtf.keys()
    rtf = {k: med([r.rtf[k] for r in runs if k in r.rtf]) for k in stages}
    report.sections["audio"] = {"percent_of_one_core": {k: round(v * 100, 3) for k, v in rtf.items()},
                                "unavailable": runs[0].unavailable, "runs": len(runs),
                                "goal": "whole input pipeline with webrtc < 1 % of one core"}
    if "denoise.webrtc" in rtf and "denoise.webrtc_no_agc" in rtf:
        report.rows.append(Row("noise suppression CPU", "% of a core", rtf["denoise.webrtc"] * 100,
                               rtf["denoise.webrtc_no_agc"] * 100, "webrtc NS + AGC", "webrtc NS only (saver)"))


# ------------------------------------------------------------------------------ state store
def bench_store(report: Report) -> None:
    from devtools.bench_store import run_store_bench

    rows = 100_000 if report.quick else 1_000_000
    result = run_store_bench(rows, reads=2000 if report.quick else 5000, turns=500 if report.quick else 2000)
    report.sections["store"] = result.as_dict()
    report.rows.append(_write_behind_row(2000 if report.quick else 5000))


def _write_behind_row(n: int) -> Row:
    """What the engine's loop waits for per recorded turn: a direct INSERT + COMMIT vs the write-behind queue."""
    import sqlite3

    from desktop.state.store import DB_NAME, Store
    from desktop.state.turns import INSERT_TURN
    from devtools.bench_store import TIMINGS

    def params(i: int) -> list[Any]:
        now = time.time()
        return ["bench", i, now, now, "what is the status of my runs", "two runs are still going", TIMINGS, 0]

    with tempfile.TemporaryDirectory(prefix="bench-writes-") as tmp:
        store = Store.open(Path(tmp) / DB_NAME, idle_prune_after_s=1e9)
        try:
            store.enqueue("INSERT OR IGNORE INTO sessions (id, started_at) VALUES ('bench', 0)")
            store.flush()
            queued = []
            for i in range(n):
                t0 = time.perf_counter()
                store.enqueue(INSERT_TURN, params(i))
                queued.append(time.perf_counter() - t0)
            store.flush()
        finally:
            store.close()
        conn = sqlite3.connect(Path(tmp) / DB_NAME, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        direct = []
        for i in range(n):
            t0 = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute(INSERT_TURN, params(n + i))
            conn.execute("COMMIT")
            direct.append(time.perf_counter() - t0)
        conn.close()
    q = sorted(queued)
    d = sorted(direct)
    p99 = lambda v: v[int(len(v) * 0.99)] * 1e3  # noqa: E731
    return Row("engine loop blocked per recorded turn (p99)", "ms", p99(d), p99(q),
               "direct INSERT + COMMIT", "write-behind queue")


# ------------------------------------------------------------------------------ CodeGen client
async def _codegen_rows(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    from desktop.codegen.client import CodegenClient
    from desktop.codegen.emulator import CodegenEmulator
    from desktop.codegen.tracker import SimulatedTime
    from devtools import bench_codegen as cb

    rows: list[Row] = []
    n = 2000 if quick else 10_000
    cached = await cb.cache_reads(n)
    async with CodegenEmulator(step_s=0) as emu:  # the same finished run, read with the cache off
        run = emu.seed("finished run")
        async with CodegenClient(emu.url, "bench", 1) as client:
            times = []
            for _ in range(200 if quick else 1000):
                t0 = time.perf_counter()
                await client.http.get(f"{client._org()}/agent/run/{run.id}")
                times.append(time.perf_counter() - t0)
    times.sort()
    rows.append(Row("read a finished run (p50)", "ms", times[len(times) // 2] * 1e3, cached["p50_ms"],
                    "HTTP every time", "cache (finished runs kept for good)"))
    coalesced = await cb.coalescing(50)
    async with CodegenEmulator(step_s=10_000) as emu:
        run = emu.seed("active run")
        async with CodegenClient(emu.url, "bench", 1) as client:
            await asyncio.gather(*(client.http.get(f"{client._org()}/agent/run/{run.id}") for _ in range(50)))
        plain = emu.stats.requests
    rows.append(Row("HTTP requests for 50 concurrent reads of one run", "requests", plain, coalesced["requests"],
                    "no coalescing", "single flight"))
    budget = await cb.polling_budget(20, 5.0)
    # per-run polling at the batched tracker's own schedule: one GET per active run per cycle
    sim = SimulatedTime()
    async with CodegenEmulator(step_s=60.0, clock=sim) as emu:
        ids = [emu.seed(f"task {i}").id for i in range(20)]
        async with CodegenClient(emu.url, "bench", 1, clock=sim, sleep=sim.sleep, wall=sim, active_ttl_s=0) as client:
            polls = max(1, int(budget["requests"]))  # the batched tracker's cycles (one list request each)
            interval = 300.0 / polls
            start = sim.now
            while sim.now < start + 300.0:
                await asyncio.gather(*(client.http.get(f"{client._org()}/agent/run/{i}") for i in ids))
                await sim.sleep(interval)
        per_run = emu.stats.requests
    rows.append(Row("CodeGen requests per minute following 20 active runs", "req/min", per_run / 5.0,
                    budget["per_minute"], "one GET per run per poll", "one list request per poll (tracker)"))
    return rows, {"cache": cached, "coalescing": coalesced, "budget": budget}


def bench_codegen(report: Report) -> None:
    rows, section = asyncio.run(_codegen_rows(report.quick))
    report.rows.extend(rows)
    report.sections["codegen"] = section


# ------------------------------------------------------------------------------ run updates
def bench_run_updates(report: Report) -> None:
    """Status change -> card painted, and -> update spoken (p50/p95), for the run in focus and the others, with
    the requests per minute: the tracker's focus cadence against its earlier schedule, in the same run."""
    from desktop.codegen.tracker import Intervals
    from devtools import bench_run_updates as ru
    from devtools.bench_ui import run_update_to_paint

    reps = 10 if report.quick else 40
    baseline = asyncio.run(ru.detection(Intervals(focus_s=None), reps))
    optimized = asyncio.run(ru.detection(Intervals(), reps))
    unfocused = asyncio.run(ru.detection(Intervals(), reps, focus=False))  # the same 20 runs, none in focus
    paint = run_update_to_paint(50 if report.quick else 200)
    with emulator_process("live", "--port", "0", "--model-delay", "0.4", "--speedup", "20") as (url, tls):
        speech = asyncio.run(ru.news_to_speech(url, tls, 6 if report.quick else 20))
    new, old = ru.freshness_section(optimized, paint, speech), ru.freshness_section(baseline, paint, speech)
    report.sections["run_updates"] = {
        "optimized": new, "baseline": old, "none_in_focus": ru.freshness_section(unfocused, paint, speech),
        "legs": ru.legs_summary(paint, speech), "repetitions": reps,
        "goals": {"focused_card_p95_s": ru.CARD_GOAL_S, "focused_spoken_p95_s": ru.SPOKEN_GOAL_S,
                  "requests_per_minute_none_in_focus": ru.BUDGET_PER_MIN},
        "intervals": {"optimized": dataclasses.asdict(Intervals()),
                      "baseline": dataclasses.asdict(Intervals(focus_s=None))}}
    before, after = "list + logs, fast only after a change", "its logs every 3 s while in focus"
    for who, label in (("focused", "run in focus"), ("others", "other runs")):
        note = {"focused": f"goal <= {ru.CARD_GOAL_S:g} s"}.get(who, "")
        report.rows.append(Row(f"Status change -> run card painted, {label} (p95)", "s",
                               old[who]["card"]["p95_s"], new[who]["card"]["p95_s"], before, after, note=note))
    report.rows.append(Row("Status change -> update spoken, run in focus, user idle (p95)", "s",
                           old["focused"]["spoken"]["p95_s"], new["focused"]["spoken"]["p95_s"], before, after,
                           note=f"goal <= {ru.SPOKEN_GOAL_S:g} s"))
    report.rows.append(Row("CodeGen requests per minute, 20 runs followed, one in focus", "req/min",
                           old["requests_per_minute"], new["requests_per_minute"], before, after,
                           note="the run in focus costs 20/min: 3.5 s p95 needs >= 16/min"))



# ------------------------------------------------------------------------------ window feedback
def bench_ui(report: Report) -> None:
    """Key press -> "listening" painted, in the real window (offscreen when there is no display)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from devtools.bench_ui import key_to_paint

    s = key_to_paint(presses=50 if report.quick else 200)
    report.sections["ui"] = {"key_to_paint_ms": {"count": s.count, "p50": round(s.p50_ms, 2),
                                                 "p95": round(s.p95_ms, 2), "p99": round(s.p99_ms, 2),
                                                 "max": round(s.max_ms, 2)},
                             "goal_p99_ms": 16.0, "spike_target_ms": 100.0,
                             "platform": os.environ["QT_QPA_PLATFORM"]}


# ------------------------------------------------------------------------------------------- idle
def bench_idle(report: Report) -> None:
    """The window left open with nobody talking: CPU and wake-ups per mode and profile, the input chain resting
    between turns against the always-on chain (devtools.bench_idle)."""
    from devtools.bench_idle import idle_section

    section, rows = idle_section(report.quick)
    report.sections["idle"] = section
    report.rows.extend(Row(name, unit, base, opt, "always-on chain", "chain rests between turns", note=note)
                       for name, unit, base, opt, note in rows)


# ------------------------------------------------------------------------------ quality profiles
async def _profile_run(url: str, tls: ssl.SSLContext, profile: Any, seconds: float, realtime: bool) -> dict[str, Any]:
    """CPU, Live messages and wake-ups of one session with ``profile`` (its compression offer included, the
    stand-in accepting it), fed the fixtures for ``seconds``."""
    import psutil

    from desktop.config import Settings
    from desktop.metrics import Metrics
    from desktop.session import open_session
    from desktop.simulated_user import speak_frames
    from devtools.bench_core import bench_endpoints

    fixtures = fixture_turns()
    metrics = Metrics()
    # the profile pinned: its chain (no neural VAD stage, as the profiles have always been compared), its
    # chunk size and its compression offer, as the app applies them
    async with open_session(Settings(offline=True, vad_neural=False), metrics=metrics, record=False,
                            endpoints=bench_endpoints(url, tls), tools="off", profile=profile) as session:
        engine = session.engine
        proc = psutil.Process()
        ctx0, cpu0, msgs0 = sum(proc.num_ctx_switches()), time.process_time(), metrics.counters["messages_sent"]
        wall0 = time.perf_counter()
        audio_s, i = 0.0, 0
        while audio_s < seconds:
            f, release_at = fixtures[i % len(fixtures)]
            await speak_frames(engine, f, realtime=realtime, release_at=release_at)
            await engine.wait_turn(30)
            audio_s += len(f) / 100
            i += 1
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        ctx = sum(proc.num_ctx_switches()) - ctx0
        msgs = metrics.counters["messages_sent"] - msgs0
    return {"audio_seconds": round(audio_s, 1), "cpu_s_per_min": round(cpu / audio_s * 60, 3),
            "live_messages_per_s": round(msgs / audio_s, 1), "wakeups_per_s": round(ctx / wall, 1),
            "chunk_ms": profile.chunk_ms, "denoise": f"{profile.denoise}/{profile.denoise_level}"
                                                     f"{'+agc' if profile.auto_gain else ''}"}


def bench_profiles(report: Report) -> None:
    """Each quality profile's CPU seconds per minute of conversation, messages and wake-ups per second."""
    from desktop.quality import PROFILES

    seconds = 6.0 if report.quick else 45.0
    realtime = True  # wake-ups and timer costs only show at real-time pace
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in PROFILES}
    with emulator_process("live", "--port", "0", "--model-delay", "0.4") as (url, tls):
        for _ in range(1 if report.quick else 2):
            for name, profile in PROFILES.items():  # interleaved repeats
                results[name].append(asyncio.run(_profile_run(url, tls, profile, seconds, realtime)))
    table = {}
    for name, runs in results.items():
        row = dict(runs[-1])
        for key in ("cpu_s_per_min", "live_messages_per_s", "wakeups_per_s"):
            row[key] = round(med([r[key] for r in runs]), 3)
        table[name] = row
    report.sections["profiles"] = {"realtime": realtime, "seconds_per_run": seconds, "profiles": table,
                                   "note": "the rnnoise backend falls back to webrtc where pyrnnoise is not installed"}
    perf, saver = table["performance"], table["saver"]
    report.rows.append(Row("CPU per minute of conversation (profile)", "CPU s/min", perf["cpu_s_per_min"],
                           saver["cpu_s_per_min"], "performance", "saver", note="goal: saver <= 1/2 (ratio >= 2)"))
    report.rows.append(Row("Live messages per second (profile)", "msg/s", perf["live_messages_per_s"],
                           saver["live_messages_per_s"], "performance", "saver", note="goal: saver <= 1/5 (ratio >= 5)"))


# ------------------------------------------------------------------------------------------ network
def bench_network(report: Report) -> None:
    """Bytes each way per profile, the permessage-deflate CPU/bytes curve and the profiles' choices."""
    from devtools.bench_network import network_section

    section, rows = network_section(report.quick, emulator_process, _send_cpu_ours)
    report.sections["network"] = section
    report.rows.extend(rows)


# ----------------------------------------------------------------------------------------- driver
def _voice_sections() -> list[tuple[str, Callable[[Report], None]]]:
    from devtools import voice_bench as vb

    return [("echo", vb.bench_echo), ("vad", vb.bench_vad), ("input_chain", vb.bench_input_chain),
            ("barge_in", vb.bench_barge_in)]


SECTIONS: list[tuple[str, Callable[[Report], None]]] = [
    ("metrics", bench_metric_record),
    ("encode", bench_encode),
    ("send_path", bench_send_path),
    ("e2e", bench_e2e),
    ("profiles", bench_profiles),
    ("network", bench_network),
    ("audio", bench_audio),
    ("store", bench_store),
    ("codegen", bench_codegen),
    ("run_updates", bench_run_updates),
    ("ui", bench_ui),
    ("idle", bench_idle),
    *_voice_sections(),
]


def run_bench(quick: bool, only: list[str] | None = None, progress: Callable[[str], None] = print) -> Report:
    report = Report(quick)
    for name, fn in SECTIONS:
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        progress(f"bench: {name} ...")
        try:
            fn(report)
        except Exception as exc:  # one broken section must not hide the others
            report.sections[name] = {"error": f"{type(exc).__name__}: {exc}"}
        progress(f"bench: {name} done in {time.perf_counter() - t0:.1f} s")
    return report


def format_rows(rows: list[Row]) -> str:
    lines = ["| what | unit | baseline | optimized | ratio |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.unit} | {r.baseline:.2f} ({r.baseline_label}) | "
                     f"{r.optimized:.2f} ({r.optimized_label}) | {r.ratio:.2f}x |")
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    progress = (lambda s: print(s, file=sys.stderr, flush=True)) if args.json else print
    report = run_bench(args.quick, args.only, progress)
    data = report.as_dict()
    if args.write_docs:
        from devtools.perfdocs import write_performance_docs

        paths = write_performance_docs(data, Path(args.write_docs))
        progress("wrote " + ", ".join(str(p) for p in paths))
    if args.json:
        print(json.dumps(data))
    else:
        print(format_rows(report.rows))
        for name, section in report.sections.items():
            if "error" in section:
                print(f"section {name} failed: {section['error']}")
    failed = [n for n, s in report.sections.items() if "error" in s]
    for name in failed:
        if args.json:  # the human report above already names them
            print(f"section {name} failed: {report.sections[name]['error']}", file=sys.stderr)
    return 1 if failed else 0


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    b = sub.add_parser("bench", parents=[common], help="measure every optimisation against its baseline")
    b.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    b.add_argument("--json", action="store_true", help="machine-readable results on stdout")
    b.add_argument("--only", action="append", help="run only this section (repeatable)")
    b.add_argument("--write-docs", metavar="DIR", help="write performance.md and plots into DIR (e.g. docs)")
    b.set_defaults(handler=cmd_bench)
