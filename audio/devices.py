"""PortAudio access through sounddevice: a clear message when it is missing, and device lookup.

``load_sounddevice()`` imports sounddevice or raises ``AudioUnavailable`` with one line saying what to
install (``import sounddevice`` raises ``OSError: PortAudio library not found`` on Linux without the
system library).  ``list_devices()`` returns input and output devices with the defaults marked;
``find_device(spec, kind)`` resolves a device given by index or by (part of) its name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True, slots=True)
class DeviceLost:
    """An open device stopped working: what happened and what the user can do."""

    message: str
    action: str


class AudioUnavailable(RuntimeError):
    """No usable audio system or device; the message says what to do."""


def install_hint() -> str:
    if sys.platform.startswith("linux"):
        return "install the PortAudio library: sudo apt-get install libportaudio2 (Fedora: sudo dnf install portaudio)"
    return "reinstall the sounddevice package (pip install --force-reinstall sounddevice), which bundles PortAudio"


def load_sounddevice() -> ModuleType:
    from audio.alsa_messages import route_away_from_terminal

    route_away_from_terminal()  # before PortAudio initialises: its probing and underruns print nothing
    try:
        import sounddevice
    except OSError as exc:
        raise AudioUnavailable(f"audio is unavailable ({exc}): {install_hint()}") from None
    except ImportError:
        raise AudioUnavailable("audio is unavailable: the sounddevice package is missing (pip install sounddevice)"
                               ) from None
    module: ModuleType = sounddevice
    return module


@dataclass(frozen=True, slots=True)
class Device:
    index: int
    name: str
    hostapi: str
    inputs: int
    outputs: int
    default_rate: float
    default_input: bool = False
    default_output: bool = False


def list_devices(sd: Any = None) -> list[Device]:
    sd = sd or load_sounddevice()
    try:
        raw = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as exc:
        raise AudioUnavailable(f"cannot list audio devices: {exc}") from None
    out = []
    for i, d in enumerate(raw):
        out.append(Device(i, d["name"], hostapis[d["hostapi"]]["name"], d["max_input_channels"],
                          d["max_output_channels"], float(d["default_samplerate"]),
                          i == default_in, i == default_out))
    return out


def find_device(spec: str | int | None, kind: str, sd: Any = None) -> Device:
    """The input (``kind="input"``) or output device for ``spec``: None = the default, an index, or a name."""
    devices = list_devices(sd)
    usable = [d for d in devices if (d.inputs if kind == "input" else d.outputs) > 0]
    if not usable:
        hint = "connect a microphone" if kind == "input" else "connect speakers or headphones"
        raise AudioUnavailable(f"no audio {kind} device found: {hint} (on Linux, check that PulseAudio or "
                               "PipeWire is running; PortAudio itself comes from: sudo apt-get install libportaudio2)")
    if spec is None or spec == "":
        chosen = next((d for d in usable if (d.default_input if kind == "input" else d.default_output)), None)
        return chosen or usable[0]
    text = str(spec)
    if text.isdigit():
        match = [d for d in usable if d.index == int(text)]
    else:
        match = [d for d in usable if d.name == text] or [d for d in usable if text.lower() in d.name.lower()]
    if not match:
        names = ", ".join(f"{d.index}: {d.name}" for d in usable)
        raise AudioUnavailable(f"no {kind} device matches {text!r}; available: {names}")
    return match[0]
