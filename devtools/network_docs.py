"""The network parts of the generated documents, from the bench's ``network`` section (never typed by hand):
the optimisation guide's "Network and compression" section and the block of docs/scalability.md between
``<!-- bench:network -->`` and ``<!-- /bench:network -->``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from desktop.live.client import LiveConfig
from desktop.live.protocol import audio_prefix
from desktop.live.wire import COMPRESSION_CHOICES, PRESETS, Deflate

MB = 1e6
TLS13_RECORD = 22
KEEPALIVE_S = LiveConfig(url="", api_key=None).keepalive_s  # the client's ping period (its default)
PING_FRAME_UP = 2 + 4 + 4  # header, mask, websockets' 4-byte ping payload
PONG_FRAME_DOWN = 2 + 4  # header, the echoed payload
KINDS = ("audio", "transcripts", "tools", "text", "session", "control")
_BLOCK = re.compile(r"<!-- bench:network -->\n.*?<!-- /bench:network -->\n?", re.S)


def _mb(v: float) -> str:
    return f"{v / MB:.2f}"


def _ms(v: float) -> str:
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def _curve_row(name: str, profiles: dict[str, Any]) -> str:
    cells = []
    for entry in profiles.values():
        noisy = next(r for r in entry["curve"]["noisy"] if r["setting"] == name)
        clean = next(r for r in entry["curve"]["clean"] if r["setting"] == name)
        cells.append(f"{noisy['ratio']:.3f} ({clean['ratio']:.3f}) · {noisy['cpu_us_per_message']:.1f} us")
    describe = next(iter(profiles.values()))["curve"]["noisy"]
    text = next(r["describe"] for r in describe if r["setting"] == name)
    return f"| {name} | {text} | " + " | ".join(cells) + " |"


def guide_section(section: dict[str, Any]) -> list[str]:
    """Markdown lines of the optimisation guide's network section."""
    profiles: dict[str, Any] = section["profiles"]
    seed = section["seed"]
    pcm = seed["pcm_only"]
    links = list(section["links_mbps"])
    lines = ["## Network and compression", "",
             "What a conversation costs on the network, measured by the client's own byte meter "
             "(`desktop/live/wire.py`: every WebSocket frame both ways, before and after compression, filed by what "
             "it carries) while the four spoken fixtures go through each quality profile's real input chain and "
             "chunk size, with tool calls, over TLS to the Live stand-in (`gemini-codegen bench --only network`). "
             "Bytes are TLS records (frames + 22 B per record; the kernel's count of the socket's bytes, read on "
             "Linux, differs from that estimate only by the TLS handshake: "
             + _tcp_check(profiles) + "). Audio: the fixtures with office noise at 15-18 dB SNR, what a laptop "
             "microphone hears (`noisy`); the clean fixtures, synthetic speech padded with digital silence, are the "
             "best case (in parentheses).", "",
             "### What a minute costs (the seed's \"10 MB+ of audio per minute\")", "",
             f"Raw PCM is {pcm['up_mb_per_min']} MB per minute up (16 kHz) and {pcm['down_mb_per_min']} MB down "
             f"(24 kHz); the Live API carries it base64 in JSON, {pcm['base64_up_mb_per_min']} and "
             f"{pcm['base64_down_mb_per_min']} MB. Push-to-talk sends only while the key is held (plus the pre-roll) "
             "and Gemini only sends while it speaks, so a conversation never carries both at full rate at once.", "",
             "| profile (message size) | up per minute you talk | down per minute Gemini talks | both ways per "
             "minute of conversation |", "|---|---|---|---|"]
    for name, entry in profiles.items():
        off = entry["conversation_off"]["noisy"]["bytes_per_minute"]
        on = entry.get("conversation_on", {}).get("bytes_per_minute")

        def cell(key: str, off: dict[str, Any] = off, on: dict[str, Any] | None = on) -> str:
            return f"{_mb(off[key])} MB" + (f" -> **{_mb(on[key])} MB**" if on else "")

        lines.append(f"| {name} ({entry['chunk_ms']} ms) | {cell('up_per_minute_of_user_speech')} | "
                     f"{cell('down_per_minute_of_reply_speech')} | {cell('both_per_minute_of_conversation')} |")
    lines += ["", "Left of the arrow: no compression; right: the profile's permessage-deflate offer, accepted by the "
              "stand-in (which then also compresses its replies). The downlink is the stand-in's: 24 kHz audio in "
              "40 ms messages; Google picks its own message sizes."]
    both = [(e["conversation_off"]["noisy"]["bytes_per_minute"]["both_per_minute_of_conversation"],
             e.get("conversation_on", {}).get("bytes_per_minute", {}).get("both_per_minute_of_conversation"))
            for e in profiles.values()]
    worst = max(b[0] for b in both)
    with_offer = [b[1] for b in both if b[1]]
    lines[-1] += (f" At most {_mb(worst)} MB per minute of conversation without compression"
                  + (f" and {_mb(max(with_offer))} MB with it" if with_offer else "")
                  + f": {worst / (10 * MB):.0%} of the seed's 10 MB.")
    lines.append("")
    lines += _by_kind(profiles)
    lines += ["### The CPU/bytes curve", "",
              "Each setting on the exact uplink messages of the recorded conversations, compressed as websockets' "
              "permessage-deflate does it (one compressor per connection, `Z_SYNC_FLUSH` per message): size after / "
              "before (noisy room, clean in parentheses) and CPU per message (median, process time). The window and "
              "context takeover are negotiated; level, memLevel and strategy are ours.", "",
              "| setting | what it does | " + " | ".join(f"{n} ({e['chunk_ms']} ms)" for n, e in profiles.items())
              + " |", "|---|---|" + "---|" * len(profiles),
              _curve_row("off", profiles).replace("0.0 us", "—")]
    first = next(iter(profiles.values()))
    lines += [_curve_row(r["setting"], profiles) for r in first["curve"]["noisy"][1:]]
    lines += ["", "What the curve says (noisy room): " + _curve_findings(profiles), ""]
    lines += ["### Does it pay? CPU time spent against radio time saved", "",
              "The CPU side is measured end to end: the send path over wss with each offer and without, fed the same "
              "recorded audio (more CPU per message than the curve above, which times zlib alone in a tight loop: "
              "end to end it shares the CPU's caches with TLS and the event loop). The radio side is the bytes saved divided by the "
              "uplink rate. Break-even: the uplink rate below which the radio time saved is larger than the CPU "
              "time spent. Per minute of talking (the profile's own offer in bold):", "",
              "| profile | offer | saves | CPU spent | break-even | radio time saved at " + ", ".join(links)
              + " |", "|---|---|---|---|---|---|"]
    for name, entry in profiles.items():
        d = entry["decision"]
        for offer, u in d["presets"].items():
            mark = "**" if offer == d["configured"] else ""
            radio = ", ".join(f"{_ms(v)} ms" for v in u["radio_ms_saved_per_min"].values())
            lines.append(f"| {name} | {mark}{offer}{mark} | {_mb(u['saved_bytes_per_min'])} MB | "
                         f"{_ms(u['cpu_ms_per_min'])} ms ({u['extra_cpu_us_per_audio_message']:.1f} us per message) | "
                         f"{u['break_even_mbps'] or 0:.0f} Mbit/s | {radio} |")
    down = [(n, e["decision"]["downlink"]) for n, e in profiles.items() if "downlink" in e["decision"]]
    if down:
        name, d = down[0]
        lines += ["", f"Downlink ({name}): when the offer is accepted the server may compress its replies too; "
                  f"inflating costs {_ms(d['cpu_ms_per_min'])} ms of CPU per minute of reply and saved "
                  f"{_mb(d['saved_bytes_per_min'])} MB there: it pays on any link slower than "
                  f"{d['break_even_mbps'] or 0:.0f} Mbit/s."]
    lines += ["", "**Chosen default per profile** (`desktop/quality.py`; the `live_compression` setting — "
              + ", ".join(COMPRESSION_CHOICES) + " — overrides it; a profile change applies from the next "
              "connection):", ""]
    for name, entry in profiles.items():
        d = entry["decision"]
        lines.append(f"- **{name}**: {d['configured']} — {d['reason']}.")
    lines += ["", "Which side wins, per profile and uplink rate:", ""]
    for name, entry in profiles.items():
        d = entry["decision"]
        wins = d["presets"].get(d["configured"], {}).get("wins")
        if wins:
            lines.append(f"- {name} ({d['configured']}): " + "; ".join(f"{link}: {who}" for link, who in wins.items())
                         + ".")
    lines += ["", "Both sides are small next to what the profiles already do: the saver profile's 100 ms messages cut "
              "the number of packets (radio wake-ups) five-fold, which compression does not change. On battery on a "
              "link you know is fast, set `live_compression = \"off\"`.",
              "", "A server that declines the offer answers without the extension and the connection carries plain "
              "frames, exactly as if nothing had been offered (tested against the stand-in configured to decline). "
              "Whether Google's endpoint accepts it is not known here: the app detects it on every connection and "
              "shows it in the run summary (`gemini-codegen run`) and in the performance panel.", ""]
    lines += _layers(profiles)
    lines += ["### What cannot be done", "",
              "- **No audio codec on the uplink.** The Live API takes raw 16-bit PCM (`audio/pcm;rate=...`), "
              "base64 in JSON text frames; it documents no Opus, AAC or FLAC input and no binary audio frames. A "
              "speech codec such as Opus at 24 kbit/s would need about a tenth of PCM's 256 kbit/s; that choice is "
              "Google's, not ours. What is ours: permessage-deflate (above), message size (the profiles) and sending "
              "only while the key is held.",
              "- **The downlink format is the server's**: 24 kHz PCM, base64 in JSON, in chunks the server picks, "
              "compressed only if the server accepts the offer and chooses to.",
              "- **A lower sample rate** would halve the uplink (the API resamples other rates), at a cost to "
              "recognition the stand-in cannot measure; 16 kHz stays.",
              "- **Compression and secrets**: the API key travels in the HTTP upgrade header, which "
              "permessage-deflate never compresses; the only other credential, the resumption handle, is in the "
              "setup message at the start of a connection and leaves the 4 KB window long before any tool output "
              "(the only text not ours or the user's) is compressed.", ""]
    return lines


def _curve_findings(profiles: dict[str, Any]) -> str:
    """The curve's lessons, in numbers from this run (first and last profile: smallest and biggest messages)."""
    def row(entry: dict[str, Any], name: str) -> dict[str, Any]:
        return next(r for r in entry["curve"]["noisy"] if r["setting"] == name)

    names = list(profiles)
    small, big = profiles[names[0]], profiles[names[-1]]
    out = []
    h, d = row(small, "huffman"), row(small, "deflate")
    out.append(f"Huffman coding alone takes {small['chunk_ms']} ms messages to {h['ratio']:.2f} of their size — "
               "base64's 64-letter alphabet coded in about six bits is most of the gain on noise-like audio; string "
               f"matching (deflate) reaches {d['ratio']:.2f} by also finding the repeated JSON prefix, for "
               f"{d['cpu_us_per_message'] / max(h['cpu_us_per_message'], 1e-9):.1f}x the CPU.")
    hb, db = row(big, "huffman"), row(big, "deflate")
    out.append(f"At {big['chunk_ms']} ms the prefix is rare and both reach {hb['ratio']:.2f}/{db['ratio']:.2f}: "
               f"string matching then costs {db['cpu_us_per_message'] / max(hb['cpu_us_per_message'], 1e-9):.1f}x "
               "the CPU for nothing.")
    l6 = row(small, "zlib level 6, 32 KB window")
    out.append(f"zlib level 6 with a 32 KB window gains {(d['ratio'] - l6['ratio']) * 100:.1f} points over level 1 "
               f"for {l6['cpu_us_per_message'] / max(d['cpu_us_per_message'], 1e-9):.1f}x the CPU.")
    w9, reset = row(small, "deflate, 512 B window"), row(small, "deflate, no context takeover")
    out.append(f"A 512 B window, smaller than one message, loses the prefix ({w9['ratio']:.2f}) and is not cheaper "
               f"({w9['cpu_us_per_message']:.0f} us); without context takeover every message starts cold "
               f"({reset['ratio']:.2f}).")
    return " ".join(out)


def _span(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo} to {hi}"


def _tcp_check(profiles: dict[str, Any]) -> str:
    diffs = []
    for entry in profiles.values():
        convs = [*entry["conversation_off"].values(), *([entry["conversation_on"]] if "conversation_on" in entry else [])]
        diffs += [(c["tcp_measured"]["minus_estimate_up"], c["tcp_measured"]["minus_estimate_down"])
                  for c in convs if "tcp_measured" in c]
    if not diffs:
        return "not measured on this system"
    return (f"{_span([d[0] for d in diffs])} B up and {_span([d[1] for d in diffs])} B down in each of "
            f"{len(diffs)} conversations, with or without compression")


def _by_kind(profiles: dict[str, Any]) -> list[str]:
    name, entry = next(iter(profiles.items()))
    conv = entry["conversation_off"]["noisy"]
    on = entry.get("conversation_on")
    lines = [f"Where the bytes go ({name} profile, one conversation of {conv['turns']} turns with tool calls; "
             "WebSocket frame bytes, no compression"
             + (" -> with the offer accepted" if on else "") + "):", "",
             "| carries | up: messages | up: bytes | down: messages | down: bytes |", "|---|---|---|---|---|"]
    for kind in KINDS:
        cells = []
        for side in ("up", "down"):
            t = conv[side]["by_kind"].get(kind)
            t_on = on[side]["by_kind"].get(kind) if on else None
            if t is None:
                cells += ["—", "—"]
                continue
            cells += [str(t["messages"]), f"{t['wire_bytes']:,}" + (f" -> {t_on['wire_bytes']:,}" if t_on else "")]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append(f"| HTTP upgrade | 1 | {conv['up']['handshake_bytes']:,} | 1 | {conv['down']['handshake_bytes']:,} |")
    ping = _ping_bytes_per_minute()
    lines += ["", f"Pings: the client pings every {KEEPALIVE_S:g} s ({PING_FRAME_UP}-byte frame, "
              f"{PONG_FRAME_DOWN}-byte pong): {ping} bytes a minute with TLS, whether or not anyone talks.", ""]
    return lines


def _layers(profiles: dict[str, Any]) -> list[str]:
    lines = ["### Per-message overhead, layer by layer (uplink per minute of talking, no compression)", "",
             "| profile (message size) | audio messages per minute | JSON payload | WebSocket frames | TLS records "
             "| IP packets (estimated) |", "|---|---|---|---|---|---|"]
    for name, entry in profiles.items():
        pm = entry["curve"]["noisy"][0]["per_minute"]
        lines.append(f"| {name} ({entry['chunk_ms']} ms) | {entry['messages_per_minute_of_talking']:.0f} | "
                     f"{_mb(pm['payload'])} MB | {_mb(pm['frames'])} MB | {_mb(pm['tls'])} MB | {_mb(pm['ip'])} MB |")
    wrapper = len(audio_prefix()) + len('"}}}')
    lines += ["", f"Every message pays its JSON wrapper ({wrapper} B), a WebSocket header with the client's mask "
              "(8 B), a TLS record (22 B) and at least one TCP/IP header (52 B, estimated for IPv4 with TCP "
              "timestamps on a 1500-byte MTU): bigger messages pay it less often.", ""]
    return lines


def scalability_block(section: dict[str, Any]) -> str:
    """The generated network block of docs/scalability.md."""
    profiles: dict[str, Any] = section["profiles"]
    lines = ["<!-- bench:network -->", "## Network: per user and for N users", "",
             "<!-- generated by `gemini-codegen bench --write-docs docs` from the bench's network section -->", "",
             "Measured per quality profile (how: docs/optimization-guide.md, \"Network and compression\"). One "
             "user needs, while talking or listening:", "",
             "| profile | compression | up while talking | down while Gemini talks | per minute of conversation "
             "| CPU for compression |", "|---|---|---|---|---|---|"]
    for name, entry in profiles.items():
        for label, conv in (("off", entry["conversation_off"]["noisy"]), (entry["decision"]["configured"],
                                                                          entry.get("conversation_on"))):
            if conv is None:
                continue
            r = conv["bytes_per_minute"]
            u = entry["decision"]["presets"].get(label)
            cpu = f"{_ms(u['cpu_ms_per_min'])} ms per minute of talking" if u else "—"
            kbps = r["up_per_minute_of_user_speech"] * 8 / 60 / 1e3
            lines.append(f"| {name} | {label} | {_mb(r['up_per_minute_of_user_speech'])} MB/min ({kbps:.0f} kbit/s) | "
                         f"{_mb(r['down_per_minute_of_reply_speech'])} MB/min | "
                         f"{_mb(r['both_per_minute_of_conversation'])} MB | {cpu} |")
    perf = profiles.get("performance", {}).get("conversation_off", {}).get("noisy")
    if perf:
        up_kbps = perf["bytes_per_minute"]["up_per_minute_of_user_speech"] * 8 / 60 / 1e3
        down_kbps = perf["bytes_per_minute"]["down_per_minute_of_reply_speech"] * 8 / 60 / 1e3
        lines += ["", f"- Nothing here is shared between users: N people talking at once need N times this on "
                  f"their own links. On one office uplink, 50 people talking at the same moment need about "
                  f"{50 * up_kbps / 1e3:.0f} Mbit/s up and 50 listening about {50 * down_kbps / 1e3:.0f} Mbit/s "
                  "down without compression (push-to-talk: people rarely talk at the same moment, and an idle "
                  f"session only pings, {_ping_bytes_per_minute()} bytes a minute).",
                  "- Compression is per connection: each session keeps one zlib compressor and one inflater "
                  "(zlib's own formula: (1 << (windowBits + 2)) + (1 << (memLevel + 9)) bytes to compress, "
                  "1 << windowBits to inflate): "
                  + ", ".join(f"{_zlib_kb(d)} to compress with {name}" for name, d in PRESETS.items())
                  + ", and up to 32 KB to inflate (the server picks its window; the stand-in 4 KB) per session; "
                  "its CPU is in the table above.",
                  "- Gemini's quotas are per project and count sessions and tokens, not bytes: compression changes "
                  "nothing there."]
    lines.append("<!-- /bench:network -->")
    return "\n".join(lines) + "\n"


def _ping_bytes_per_minute() -> int:
    return round(60 / KEEPALIVE_S * (PING_FRAME_UP + PONG_FRAME_DOWN + 2 * TLS13_RECORD))


def _zlib_kb(d: Deflate) -> str:
    return f"{((1 << (d.window_bits + 2)) + (1 << (d.mem_level + 9))) // 1024} KB"


def update_scalability(path: Path, section: dict[str, Any]) -> Path | None:
    """Replace the network block of ``path`` (appended when it has none); None when there is no such file."""
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    block = scalability_block(section)
    if _BLOCK.search(text):
        text = _BLOCK.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
    return path
