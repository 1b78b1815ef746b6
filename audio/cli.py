"""`gemini-codegen audio ...`: devices, VAD on a file and a microphone check.

* ``audio devices [--json]``: input and output devices, the defaults marked with ``*``.
* ``audio vad FILE.wav [--mode N] [--denoise BACKEND] [--json]``: the detected speech segments.
* ``audio check [--seconds 3] [--device D] [--json]``: records from the microphone and reports the speech
  level, noise floor, estimated SNR and advice.

A missing PortAudio library or device is one line on stderr (exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from audio.devices import AudioUnavailable, DeviceLost


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    audio = sub.add_parser("audio", help="audio devices, VAD, microphone check")
    audio_sub = audio.add_subparsers(dest="audio_command", metavar="ACTION", required=True)

    devices = audio_sub.add_parser("devices", help="list input and output devices (default marked *)")
    devices.add_argument("--json", action="store_true", help="print JSON")
    devices.set_defaults(handler=cmd_devices)

    vad = audio_sub.add_parser("vad", help="print the speech segments the VAD finds in a WAV file")
    vad.add_argument("wav", metavar="FILE.wav", help="16-bit PCM WAV (any rate/channels)")
    vad.add_argument("--mode", type=int, default=2, choices=range(4), metavar="{0-3}",
                     help="webrtcvad aggressiveness (default 2)")
    vad.add_argument("--denoise", default="webrtc", choices=["webrtc", "rnnoise", "off"],
                     help="noise suppression before the VAD (default webrtc)")
    vad.add_argument("--json", action="store_true", help="print JSON")
    vad.set_defaults(handler=cmd_vad)

    check = audio_sub.add_parser("check", help="record from the microphone and report level, noise and SNR")
    check.add_argument("--seconds", type=float, default=3.0, help="how long to record (default 3)")
    check.add_argument("--device", help="input device name or index (default: the system default)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=cmd_check)

    groups["audio"] = audio_sub


def _unavailable(exc: AudioUnavailable) -> int:
    print(f"gemini-codegen: error: {exc}", file=sys.stderr)
    return 1


def _usage(message: str) -> int:
    print(f"gemini-codegen: error: {message}", file=sys.stderr)
    return 2


def cmd_devices(args: argparse.Namespace) -> int:
    from audio.devices import list_devices

    try:
        devices = list_devices()
    except AudioUnavailable as exc:
        return _unavailable(exc)
    if args.json:
        print(json.dumps([asdict(d) for d in devices]))
        return 0
    for title in ("input", "output"):
        print(f"{title} devices:")
        rows = [(d, d.inputs if title == "input" else d.outputs) for d in devices]
        rows = [(d, channels) for d, channels in rows if channels]
        for d, channels in rows:
            default = d.default_input if title == "input" else d.default_output
            mark = "*" if default else " "
            print(f" {mark} {d.index:>3}  {d.name}  ({d.hostapi}, {channels} ch, {d.default_rate:g} Hz)")
        if not rows:
            print("     (none)")
    return 0


def cmd_vad(args: argparse.Namespace) -> int:
    from audio.denoise import make_denoiser
    from audio.pipeline import InputPipeline
    from audio.sources import WavSource
    from audio.vad import VadOptions, segments

    source = WavSource(args.wav)
    denoiser, note = make_denoiser(args.denoise)
    if note:
        print(f"gemini-codegen: {note.message}", file=sys.stderr)
    pipe = InputPipeline(denoiser, vad=VadOptions(mode=args.mode))
    events = []
    for i, frame in enumerate(source.frames):
        ev = pipe.process(frame, (i + 1) / 100).vad
        if ev is not None:
            events.append(ev)
    events += pipe.finish()
    segs = [(round(a, 2), round(b, 2)) for a, b in segments(events)]
    if args.json:
        print(json.dumps({"file": args.wav, "seconds": source.seconds, "mode": args.mode,
                          "denoise": denoiser.name, "segments": [{"start": a, "end": b} for a, b in segs]}))
    else:
        for a, b in segs:
            print(f"{a:8.2f}  {b:8.2f}  speech")
        if not segs:
            print("no speech found")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from audio.level import assess_recording

    if not 0.5 <= args.seconds <= 60:
        return _usage("--seconds must be between 0.5 and 60")
    try:
        frames, errors = asyncio.run(_record(args.seconds, args.device))
    except AudioUnavailable as exc:
        return _unavailable(exc)
    if errors:
        print(f"gemini-codegen: error: {errors[0].message}; {errors[0].action}", file=sys.stderr)
        return 1
    if not frames:
        print("gemini-codegen: error: the microphone delivered no audio", file=sys.stderr)
        return 1
    report = assess_recording(frames)
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        print(f"recorded {report.seconds:.1f} s")
        print(f"  speech level  {report.speech_dbfs:6.1f} dBFS")
        print(f"  noise floor   {report.noise_floor_dbfs:6.1f} dBFS")
        print(f"  peak          {report.peak_dbfs:6.1f} dBFS")
        print(f"  estimated SNR {report.snr_db:6.1f} dB")
        for line in report.advice:
            print(f"  -> {line}")
    return 0


async def _record(seconds: float, device: str | None) -> tuple[list[bytes], list[DeviceLost]]:
    from audio.capture import MicCapture
    from audio.frames import FRAME_MS

    loop = asyncio.get_running_loop()
    frames: list[bytes] = []
    errors: list[DeviceLost] = []
    done = asyncio.Event()
    want = int(seconds * 1000 / FRAME_MS)

    def on_frame(frame: bytes, _t: float) -> None:
        if len(frames) < want:
            frames.append(frame)
            if len(frames) == want:
                done.set()

    def on_error(ev: DeviceLost) -> None:
        errors.append(ev)
        done.set()

    cap = MicCapture(loop, on_frame, on_error, device=device)
    cap.open()
    print(f"recording {seconds:g} s from {cap.device.name if cap.device else 'the microphone'}: "
          "say a sentence at your normal volume...", file=sys.stderr)
    try:
        await asyncio.wait_for(done.wait(), seconds + cap.start_timeout_s + 2)
    except TimeoutError:
        pass
    finally:
        cap.close()
    return frames, errors
