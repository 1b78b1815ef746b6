"""`gemini-codegen bench --only idle`: what the window costs while nobody talks, against the always-on chain.

Each measurement is a child process of its own (``python -m devtools.bench_idle --child ...``): the real window
(Qt offscreen) with its bridge, the offline demo session, the microphone and the speaker through PortAudio on a
private PulseAudio server (``vmic`` null sink as the microphone, fed with quiet room noise, ``vspk`` as the
speaker; the server runs in the parent, so its CPU is not charged to the window).  The child waits until the
session is ready and the microphone delivers, settles, then stays idle ``seconds``: its CPU (all threads,
``os.times``), its wake-ups (voluntary + involuntary context switches summed over ``/proc/PID/task/*``), its RSS
and the input chain's invocations per second (``InputPipeline.runs``).  The baseline is the same window with
``EngineOptions.chain_between_turns`` (the chain on every frame), in the same run,
interleaved with the optimized one; each figure is the median of the repeats.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from audio.wavfile import write_wav

MODES = {"push-to-talk": "hold", "hands-free": "hands-free"}
PROFILES = ("performance", "saver")
GOALS = {"push-to-talk": {"cpu_percent": 0.5, "wakeups_per_s": 100.0}, "hands-free": {"cpu_percent": 1.5}}
NOISE_RMS = 30.0  # a quiet room through a laptop microphone (about -61 dBFS)


def wakeups(pid: int | None = None) -> int:
    """Voluntary + involuntary context switches of every thread of ``pid`` (default: this process)."""
    total = 0
    for status in Path(f"/proc/{pid or os.getpid()}/task").glob("*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


def thread_ticks() -> dict[str, int]:
    """CPU clock ticks (user + system) per thread name of this process."""
    import threading

    named = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, int] = {}
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            name = named.get(int(task.name)) or (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def rss_by_mapping(top: int = 10) -> dict[str, float]:
    """This process's resident memory by what it maps (a library, or [anon] / [heap]), the largest first."""
    sizes: dict[str, int] = {}
    name = "?"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            path = parts[5] if len(parts) >= 6 else "[anon]"
            name = path.rsplit("/", 1)[-1] if path.startswith("/") else path
            if "site-packages/" in path:
                name = path.split("site-packages/", 1)[1].split("/", 1)[0] + ": " + name
        elif parts and parts[0] == "Rss:":
            sizes[name] = sizes.get(name, 0) + int(parts[1])
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])
    return {k: round(v / 1024, 1) for k, v in ranked[:top]}


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------------------------------------- child
def _child(mode: str, profile: str, baseline: bool, seconds: float, settle_s: float,
           presses: int = 3) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.app import application

    app = application([sys.argv[0]])  # first, as a launch does: what is imported after it pays PySide's hook
    from PySide6.QtCore import QEventLoop, QTimer

    import desktop.session
    from desktop.config import Settings
    from desktop.engine import EngineOptions, SessionEngine
    from desktop.events import EngineState
    from ui import theme
    from ui.bridge import EngineBridge
    from ui.main_window import MainWindow

    if baseline:  # the chain on every frame between turns too, as before it rested
        class AlwaysOn(SessionEngine):
            def __init__(self, *args: Any, options: EngineOptions | None = None, **kwargs: Any) -> None:
                from dataclasses import replace

                super().__init__(*args, options=replace(options or EngineOptions(), chain_between_turns=True),
                                 **kwargs)

        setattr(desktop.session, "SessionEngine", AlwaysOn)  # noqa: B010 - the baseline: the engine of before
    theme.apply(app)
    data = tempfile.TemporaryDirectory(prefix="gcd-idle-")
    settings = Settings(offline=True, ptt_mode=MODES[mode], quality_profile=profile, data_dir=data.name)
    bridge = EngineBridge(use_audio_devices=True)
    win = MainWindow(settings, bridge)
    win.show()
    bridge.start(settings)

    def pump(cond: Any, limit_s: float) -> bool:
        end = time.monotonic() + limit_s
        while not cond():
            if time.monotonic() > end:
                return False
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        return True

    try:
        if not pump(lambda: bridge.engine is not None and win.state is EngineState.READY, 30):
            raise RuntimeError("the offline session did not become ready")
        if not pump(lambda: bridge.mic is not None and bridge.mic.frames > 50, 15):
            raise RuntimeError("the microphone delivered no audio (is the PulseAudio server up?)")
        def wait_for(cond: Any, limit_s: float) -> bool:
            """The window's event loop runs until ``cond()`` (checked 10 times a second: no busy loop)."""
            end = time.monotonic() + limit_s
            waiting = QEventLoop()
            check = QTimer()
            check.setInterval(100)
            check.timeout.connect(lambda: waiting.quit() if cond() or time.monotonic() > end else None)
            check.start()
            if not cond():
                waiting.exec()
            check.stop()
            return bool(cond())

        def stay(s: float) -> None:  # the window's own event loop runs (app.quit would close the window)
            waiting = QEventLoop()
            QTimer.singleShot(int(s * 1000), waiting.quit)
            waiting.exec()

        stay(settle_s)  # settle: the first snapshots
        engine = bridge.engine
        assert engine is not None and engine.pipeline is not None
        pipeline = engine.pipeline

        def sample() -> tuple[float, float, int, dict[str, int], dict[str, int], int]:
            return (time.perf_counter(), cpu_seconds(), wakeups(), thread_ticks(), dict(pipeline.runs),
                    bridge.mic.frames if bridge.mic is not None else 0)

        def delta(a: tuple[Any, ...], b: tuple[Any, ...]) -> dict[str, Any]:
            wall = b[0] - a[0]
            tck = os.sysconf("SC_CLK_TCK")
            return {"seconds": round(wall, 1), "cpu_percent": round(100 * (b[1] - a[1]) / wall, 3),
                    "wakeups_per_s": round((b[2] - a[2]) / wall, 1),
                    "cpu_percent_by_thread": {name: round(100 * (t - a[3].get(name, 0)) / tck / wall, 2)
                                              for name, t in b[3].items() if t > a[3].get(name, 0)},
                    "chain_runs_per_s": {k: round((b[4].get(k, 0) - a[4].get(k, 0)) / wall, 1)
                                         for k in ("echo", "vad", "denoise", "meter")},
                    "frames_per_s": round((b[5] - a[5]) / wall, 1)}

        before = sample()
        stay(seconds)  # idle: nobody talks, nothing plays
        idle = delta(before, sample())
        memory = rss_by_mapping()
        block = bridge.mic.block_ms if bridge.mic is not None else None
        # a reply plays: a typed request, measured until the speaker has stopped again (the offline stand-ins
        # run in this process: their share is in the figure too)
        player = bridge.player
        before = sample()
        bridge.send_text("What is the status of my last run?")
        spoke = wait_for(lambda: win.state is EngineState.SPEAKING, 30)
        wait_for(lambda: win.state is EngineState.READY and not (player is not None and (player.busy or player.running)),
                 90)
        reply = {**delta(before, sample()), "spoke": spoke, "echo_cancellation": pipeline.echo is not None}
        key_to_wire: list[float] = []
        held: list[bool] = []
        for _ in range(presses if mode == "push-to-talk" else 0):
            # from idle (the reply played out, the chain resting), the key: its first audio on the wire
            stay(1.0)
            mic = bridge.mic
            held.append(bool(mic is not None and mic.held))
            turns = engine.turns
            bridge.press()
            wait_for(lambda t=turns: engine.turns > t and engine.turn is not None
                     and engine.turn.timings.first_wire_at is not None, 5)
            stay(0.3)
            bridge.release()
            turn = engine.turn
            if turn is not None and "key_to_wire" in turn.timings_ms:
                key_to_wire.append(round(turn.timings_ms["key_to_wire"], 2))
            wait_for(lambda: win.state is EngineState.READY and engine.reply_pending is False
                     and not (player is not None and (player.busy or player.running)), 60)
        return {"mode": mode, "profile": profile, "baseline": baseline, **idle, "rss_mb": round(rss_mb(), 1),
                "rss_by_mapping_mb": memory, "capture_block_ms": block,
                "profile_in_force": engine.profile.name if engine.profile is not None else None,
                "echo_cancellation": pipeline.echo is not None, "reply": reply,
                "key_to_wire_ms": key_to_wire, "capture_held_at_press": held}
    finally:
        win.close()
        bridge.stop()
        data.cleanup()


# ------------------------------------------------------------------------------------------ parent
def _noise_wav(path: Path, seconds: float) -> Path:
    x = np.random.default_rng(0).standard_normal(int(seconds * 16000)) * NOISE_RMS
    return write_wav(path, x.astype("<i2").tobytes())


@contextlib.contextmanager
def pulse_server() -> Iterator[Any]:
    """The tests' private PulseAudio server (microphone and speaker null sinks), stopped by its pid."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.audio.conftest import start_pulse, stop_process

    started = start_pulse(speaker=True)
    if isinstance(started, str):
        raise RuntimeError(f"no PulseAudio virtual microphone: {started}")
    proc, server = started
    try:
        yield server
    finally:
        stop_process(proc)
        if proc.stderr:
            proc.stderr.close()
        import shutil

        shutil.rmtree(server.runtime, ignore_errors=True)


def run_one(server: Any, mode: str, profile: str, baseline: bool, seconds: float, settle_s: float,
            presses: int = 3) -> dict[str, Any]:
    env = {**os.environ, "PULSE_SERVER": server.env["PULSE_SERVER"],
           "PULSE_RUNTIME_PATH": server.env["PULSE_RUNTIME_PATH"], "QT_QPA_PLATFORM": "offscreen",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
           "GEMINI_CODEGEN_CONFIG_DIR": tempfile.mkdtemp(prefix="gcd-idle-config-")}
    for key in ("GEMINI_API_KEY", "CODEGEN_API_TOKEN", "CODEGEN_ORG_ID"):
        env.pop(key, None)
    with tempfile.TemporaryDirectory() as tmp:
        noise = server.play(_noise_wav(Path(tmp) / "room.wav", seconds + settle_s + 40 + 20 * presses))  # the room, all along
        try:
            out = subprocess.run([sys.executable, "-m", "devtools.bench_idle", "--child", "--mode", mode,
                                  "--profile", profile, "--seconds", str(seconds), "--settle", str(settle_s),
                                  "--presses", str(presses),
                                  *(["--baseline"] if baseline else [])],
                                 env=env, capture_output=True, text=True, timeout=seconds + settle_s + 90 + 20 * presses,
                                 cwd=Path(__file__).resolve().parent.parent)
        finally:
            noise.terminate()
            noise.wait(5)
    if out.returncode != 0:
        raise RuntimeError(f"idle child failed: {out.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def idle_section(quick: bool) -> tuple[dict[str, Any], list[tuple[str, str, float, float, str]]]:
    """The section (every run, medians per mode/profile/variant) and (name, unit, baseline, optimized, note)
    rows for the bench's comparison table."""
    seconds, repeats, settle, presses = (8.0, 1, 3.0, 2) if quick else (30.0, 3, 4.0, 3)
    runs: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
    with pulse_server() as server:
        for _ in range(repeats):
            for mode in MODES:
                for profile in PROFILES:
                    for baseline in (True, False):  # side by side, interleaved
                        runs.setdefault((mode, profile, baseline), []).append(
                            run_one(server, mode, profile, baseline, seconds, settle, presses))
    table: dict[str, Any] = {}
    rows: list[tuple[str, str, float, float, str]] = []
    for mode in MODES:
        for profile in PROFILES:
            cell: dict[str, Any] = {}
            for baseline in (True, False):
                rs = runs[(mode, profile, baseline)]
                cell["always_on" if baseline else "resting"] = {
                    "cpu_percent": round(statistics.median(r["cpu_percent"] for r in rs), 3),
                    "wakeups_per_s": round(statistics.median(r["wakeups_per_s"] for r in rs), 1),
                    "rss_mb": round(statistics.median(r["rss_mb"] for r in rs), 1),
                    "chain_runs_per_s": rs[-1]["chain_runs_per_s"], "capture_block_ms": rs[-1]["capture_block_ms"],
                    "runs": len(rs),
                    "reply": {"cpu_percent": round(statistics.median(r["reply"]["cpu_percent"] for r in rs), 3),
                              "wakeups_per_s": round(statistics.median(r["reply"]["wakeups_per_s"] for r in rs), 1),
                              "seconds": round(statistics.median(r["reply"]["seconds"] for r in rs), 1),
                              "chain_runs_per_s": rs[-1]["reply"]["chain_runs_per_s"],
                              "echo_cancellation": rs[-1]["reply"]["echo_cancellation"]},
                    "rss_by_mapping_mb": rs[-1]["rss_by_mapping_mb"],
                    "cpu_percent_by_thread": rs[-1]["cpu_percent_by_thread"],
                    "key_to_wire_ms": [ms for r in rs for ms in r["key_to_wire_ms"]],
                    "capture_held_at_press": [h for r in rs for h in r["capture_held_at_press"]]}
            table[f"{mode}/{profile}"] = cell
            goal = GOALS[mode]
            before, after = cell["always_on"], cell["resting"]
            rows.append((f"Idle CPU, {mode}, {profile} profile (the window, {seconds:g} s idle)",
                         "% of one core", before["cpu_percent"], after["cpu_percent"],
                         f"goal <= {goal['cpu_percent']:g} %"))
            if "wakeups_per_s" in goal:
                rows.append((f"Idle wake-ups, {mode}, {profile} profile", "switches/s", before["wakeups_per_s"],
                             after["wakeups_per_s"], f"goal <= {goal['wakeups_per_s']:g}/s"))
            if mode == "push-to-talk" and before["key_to_wire_ms"] and after["key_to_wire_ms"]:
                rows.append((f"Key press from idle -> first audio on the wire, {profile} profile (median of "
                             f"{len(after['key_to_wire_ms'])} presses, pre-roll included)", "ms",
                             statistics.median(before["key_to_wire_ms"]), statistics.median(after["key_to_wire_ms"]),
                             "unchanged by resting (goal < 30 ms)"))
            if mode == "push-to-talk":
                rows.append((f"CPU while a reply plays, {profile} profile (typed request until the speaker stops; "
                             "AEC and the in-process stand-ins included)", "% of one core",
                             before["reply"]["cpu_percent"], after["reply"]["cpu_percent"], "the chain runs in both"))
    section = {"seconds_per_run": seconds, "repeats": repeats, "goals": GOALS, "table": table,
               "what": "the window (offscreen) in the offline demo, microphone and speaker through PortAudio on a "
                       "private PulseAudio server, quiet room noise at the microphone, nobody talking, nothing "
                       "playing; CPU and context switches of all the window's threads",
               "memory": "rss_by_mapping_mb: resident memory of the window by mapping at the end of the idle "
                         "period (anonymous memory holds the Python heap, the Silero model's weights and the "
                         "threads' malloc arenas)",
               "runs": [r for rs in runs.values() for r in rs]}
    return section, rows


def _median_text(values: list[float] | None) -> str:
    return f"{statistics.median(values):.1f}" if values else "—"


def idle_markdown(section: dict[str, Any]) -> str:
    """The section as a table for docs/performance.md (every number is in bench.json too)."""
    lines = [f"The window left open, nobody talking: {section.get('what', '')}. Medians of {section['repeats']} "
             f"runs of {section['seconds_per_run']:g} s per cell, baseline and resting interleaved in one run; the "
             "reply columns: a typed request until the speaker stopped.", "",
             "| mode / profile | input chain | CPU % of one core | wake-ups/s | chain runs/s (AEC, VAD, NS, meter) "
             "| capture block | reply: CPU % | reply: wake-ups/s | key -> wire ms | RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for cell_name, cell in section["table"].items():
        for variant, label in (("always_on", "always on (baseline)"), ("resting", "rests between turns")):
            v = cell[variant]
            runs = v["chain_runs_per_s"]
            lines.append(f"| {cell_name} | {label} | {v['cpu_percent']:.2f} | {v['wakeups_per_s']:.0f} | "
                         f"{runs['echo']:.0f}, {runs['vad']:.0f}, {runs['denoise']:.0f}, {runs['meter']:.0f} | "
                         f"{v['capture_block_ms']} ms | {v['reply']['cpu_percent']:.1f} | "
                         f"{v['reply']['wakeups_per_s']:.0f} | {_median_text(v.get('key_to_wire_ms'))} | "
                         f"{v['rss_mb']:.0f} |")
    if section.get("measured"):
        lines[0] += f" Measured {section['measured']}."
    threads = section["table"].get("push-to-talk/performance", {}).get("resting", {}).get("cpu_percent_by_thread")
    if threads:
        lines += ["", "Where the resting push-to-talk window's idle CPU goes, by thread (% of one core): "
                  + ", ".join(f"{k} {v:g}" for k, v in sorted(threads.items(), key=lambda kv: -kv[1])) + ". "
                  "`python` is PortAudio's callback thread and `threaded-ml` the sound server's client thread: "
                  "the microphone's 10 ms blocks (one stream for the session) wake both about 100 times a second "
                  "even though the held microphone hands no frame to the engine."]
    memory = section["table"].get("push-to-talk/performance", {}).get("resting", {}).get("rss_by_mapping_mb")
    if memory:
        lines += ["", "Resident memory by mapping (push-to-talk, performance, resting): "
                  + ", ".join(f"{k} {v:g} MB" for k, v in memory.items()) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_idle", description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help="measure this process (one window)")
    parser.add_argument("--mode", choices=tuple(MODES), default="push-to-talk")
    parser.add_argument("--profile", choices=PROFILES, default="performance")
    parser.add_argument("--baseline", action="store_true", help="the input chain on every frame (always on)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=4.0)
    parser.add_argument("--presses", type=int, default=3, help="key presses from idle, for key -> wire")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.mode, args.profile, args.baseline, args.seconds, args.settle, args.presses)),
              flush=True)
        return 0
    section, rows = idle_section(args.quick)
    for name, unit, base, opt, note in rows:
        print(f"{name}: {base:.2f} -> {opt:.2f} {unit} ({note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
