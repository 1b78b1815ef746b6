"""`gemini-codegen audio ...`: devices, VAD on a file and a microphone check.

* ``audio devices [--json]``: input and output devices, the defaults marked with ``*``.
* ``audio vad FILE.wav [--mode N] [--denoise BACKEND] [--json]``: the detected speech segments.
* ``audio check [--seconds 3] [--device D] [--json]``: records from the microphone and reports the speech
  level, noise floor, estimated SNR and advice.

* ``audio aec --mic MIC.wav --ref REF.wav --out OUT.wav [--backend B | --compare] [--json]``: the live
  chain's echo canceller on files: echo removed (ERLE, dB) on echo-only stretches, the estimated delay and
  the CPU it took.  ``--simulate`` makes MIC.wav from REF.wav through a laptop echo path first.

A missing PortAudio library or device is one line on stderr (exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from audio.devices import AudioUnavailable, Device, DeviceLost


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    audio = sub.add_parser("audio", help="audio devices, VAD, microphone check")
    audio_sub = audio.add_subparsers(dest="audio_command", metavar="ACTION", required=True)

    devices = audio_sub.add_parser("devices", help="list input and output devices (default marked *)")
    devices.add_argument("--json", action="store_true", help="print JSON")
    devices.set_defaults(handler=cmd_devices)

    vad = audio_sub.add_parser("vad", help="print the speech segments the VAD finds in a WAV file")
    vad.add_argument("wav", metavar="FILE.wav", help="16-bit PCM WAV (any rate/channels)")
    vad.add_argument("--mode", type=int, default=3, choices=range(4), metavar="{0-3}",
                     help="webrtcvad aggressiveness (default 3)")
    vad.add_argument("--no-neural", action="store_true", help="without the Silero second stage")
    vad.add_argument("--denoise", default="webrtc", choices=["webrtc", "rnnoise", "off"],
                     help="noise suppression before the VAD (default webrtc)")
    vad.add_argument("--json", action="store_true", help="print JSON")
    vad.set_defaults(handler=cmd_vad)

    check = audio_sub.add_parser("check", help="record from the microphone and report level, noise and SNR")
    check.add_argument("--seconds", type=float, default=3.0, help="how long to record (default 3)")
    check.add_argument("--device", help="input device name or index (default: the system default)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=cmd_check)

    aec = audio_sub.add_parser("aec", help="cancel the echo of REF.wav in MIC.wav; report echo removed and CPU")
    aec.add_argument("--mic", required=True, metavar="MIC.wav", help="what the microphone heard")
    aec.add_argument("--ref", required=True, metavar="REF.wav", help="what the speaker played (the far end)")
    aec.add_argument("--out", metavar="OUT.wav", help="write the cancelled microphone signal here")
    aec.add_argument("--backend", default="webrtc", choices=["webrtc", "livekit", "speex"],
                     help="echo canceller (default webrtc: the one the app uses)")
    aec.add_argument("--compare", action="store_true", help="measure every installed canceller on the same files")
    aec.add_argument("--near", action="append", default=[], metavar="S-E",
                     help="a stretch (seconds) where the person talks: left out of the echo measurement")
    aec.add_argument("--simulate", action="store_true",
                     help="write MIC.wav first: REF.wav through a laptop echo path (40 ms, 150 ms reverb, -6 dB)")
    aec.add_argument("--json", action="store_true", help="print JSON")
    aec.set_defaults(handler=cmd_aec)
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
        _print_devices(devices, title)
    return 0


def _print_devices(devices: list[Device], title: str) -> None:
    """The ``title`` ("input" or "output") devices, the default one marked with a star."""
    print(f"{title} devices:")
    rows = [(d, d.inputs if title == "input" else d.outputs) for d in devices]
    rows = [(d, channels) for d, channels in rows if channels]
    for d, channels in rows:
        default = d.default_input if title == "input" else d.default_output
        mark = "*" if default else " "
        print(f" {mark} {d.index:>3}  {d.name}  ({d.hostapi}, {channels} ch, {d.default_rate:g} Hz)")
    if not rows:
        print("     (none)")


def cmd_vad(args: argparse.Namespace) -> int:
    from audio.denoise import make_denoiser
    from audio.neural_vad import make_scorer
    from audio.pipeline import InputPipeline
    from audio.sources import WavSource
    from audio.vad import VadOptions, segments

    source = WavSource(args.wav)
    denoiser, note = make_denoiser(args.denoise)
    if note:
        print(f"gemini-codegen: {note.message}", file=sys.stderr)
    scorer, why = (None, "") if args.no_neural else make_scorer()
    if why:
        print(f"gemini-codegen: {why}: the VAD runs on webrtcvad alone", file=sys.stderr)
    pipe = InputPipeline(denoiser, vad=VadOptions(mode=args.mode), scorer=scorer)
    events = []
    for i, frame in enumerate(source.frames):
        ev = pipe.process(frame, (i + 1) / 100).vad
        if ev is not None:
            events.append(ev)
    events += pipe.finish()
    segs = [(round(a, 2), round(b, 2)) for a, b in segments(events)]
    if args.json:
        print(json.dumps({"file": args.wav, "seconds": source.seconds, "mode": args.mode,
                          "neural": scorer.name if scorer else None,
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


def _spans(texts: list[str]) -> list[tuple[float, float]] | str:
    """--near START-END values, or the one-line error for a bad one."""
    out = []
    for text in texts:
        try:
            a, b = (float(v) for v in text.split("-", 1))
        except ValueError:
            return f"--near {text!r}: expected START-END in seconds, e.g. 2.5-4"
        out.append((a, b))
    return out


def cmd_aec(args: argparse.Namespace) -> int:
    import time

    from audio.denoise import BackendUnavailable
    from audio.echo import build_canceller, cancel_all, erle_db, estimate_delay
    from audio.frames import RATE
    from audio.sources import read_wav

    near = _spans(args.near)
    if isinstance(near, str):
        return _usage(near)
    ref = read_wav(args.ref)
    if args.simulate:
        try:  # the simulations are test and bench material: a source checkout has them, the packaged app not
            from audio.echo_path import laptop_microphone
        except ImportError:
            return _usage("--simulate needs a source checkout (the packaged app has no simulated echo path): "
                          "record MIC.wav while REF.wav plays instead")
        _write_wav(args.mic, laptop_microphone(ref))
    mic = read_wav(args.mic)
    n = min(len(mic), len(ref))
    mic, ref = mic[:n], ref[:n]
    seconds = n / 2 / RATE
    results = []
    for backend in (("webrtc", "livekit", "speex") if args.compare else (args.backend,)):
        try:
            canceller = build_canceller(backend)
        except BackendUnavailable as exc:
            results.append({"backend": backend, "unavailable": str(exc)})
            continue
        t0 = time.process_time()
        out = cancel_all(canceller, mic, ref)
        cpu = time.process_time() - t0
        try:
            erle = erle_db(mic, out, ref, near=near)
        except ValueError as exc:
            return _usage(str(exc))
        results.append({"backend": backend, "erle_db": round(erle.db, 1), "echo_only_frames": erle.frames,
                        "cpu_percent_of_core": round(cpu / seconds * 100, 3)})
        if args.out and backend == (args.backend if not args.compare else "webrtc"):
            _write_wav(args.out, out)
    report = {"mic": args.mic, "ref": args.ref, "seconds": round(seconds, 2),
              "delay_ms_estimated": round(estimate_delay(mic, ref), 1), "results": results}
    if args.json:
        print(json.dumps(report))
    else:
        _print_aec(seconds, report["delay_ms_estimated"], results)
    return 0


def _print_aec(seconds: float, delay_ms: float, results: list[dict[str, Any]]) -> None:
    print(f"{seconds:.1f} s, playback -> microphone delay {delay_ms:.0f} ms (estimated)")
    for r in results:
        if "unavailable" in r:
            print(f"  {r['backend']:<8} not measured: {r['unavailable']}")
        else:
            print(f"  {r['backend']:<8} echo removed {r['erle_db']:5.1f} dB over {r['echo_only_frames']} echo-only "
                  f"frames, CPU {r['cpu_percent_of_core']:.2f} % of one core")


def _write_wav(path: str, pcm: bytes) -> None:
    from audio.wavfile import write_wav

    write_wav(path, pcm)
