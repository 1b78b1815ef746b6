"""PortAudio access through sounddevice: a clear message when it is missing, and device lookup.

``load_sounddevice()`` imports sounddevice or raises ``AudioUnavailable`` with one line saying what to
install (``import sounddevice`` raises ``OSError: PortAudio library not found`` on Linux without the
system library).  ``list_devices()`` returns input and output devices with the defaults marked;
``find_device(spec, kind)`` resolves a device given by index or by (part of) its name.

Names a person recognises: ``device_label(device)`` is the sound server's description of a device
(PulseAudio/PipeWire, through ``pactl``), e.g. "System default (Built-in Audio Analog Stereo)" for ALSA's
``default`` and "USB Headset Mono" for "USB Headset: Audio (hw:2,0)"; without a sound server the ALSA name
without its "(hw:2,0)".  The library's own error text (``PaErrorCode -9985`` and the like) stays in
``AudioUnavailable.detail`` for the log; ``plain_reason`` says it in a sentence for the window.

PortAudio lists the devices once, when it is initialised: ``refresh()`` initialises it again, so a device
plugged in since shows up.  That closes every open PortAudio stream, so it is for when none is running.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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
    """No usable audio system or device; the message says what to do (for the person), ``detail`` what the
    library said (for the log)."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


# PortAudio's words (its error text, e.g. "Device unavailable [PaErrorCode -9985]") -> what they mean
PLAIN_REASONS = (
    (("device unavailable", "device busy", "-9985"), "another application is using it, or it was just unplugged"),
    (("invalid device", "-9996"), "it is not connected any more"),
    (("invalid sample rate", "-9997", "sample format", "-9994"), "it does not offer the sound format the app needs"),
    (("invalid number of channels", "-9998"), "it is not a microphone (it has no input channels)"),
    (("unanticipated host error", "-9999", "host api"), "the sound system (PulseAudio, PipeWire or ALSA) refused "
                                                           "to open it"),
    (("insufficient memory", "-9992"), "the system is out of memory"),
)


def plain_reason(library_text: str) -> str:
    """The sound library's error text in a plain sentence (without its codes)."""
    low = library_text.lower()
    for needles, words in PLAIN_REASONS:
        if any(n in low for n in needles):
            return words
    return "the sound system refused to open it"


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
        raise AudioUnavailable(f"cannot list audio devices: {plain_reason(str(exc))}", str(exc)) from None
    out = []
    for i, d in enumerate(raw):
        out.append(Device(i, d["name"], hostapis[d["hostapi"]]["name"], d["max_input_channels"],
                          d["max_output_channels"], float(d["default_samplerate"]),
                          i == default_in, i == default_out))
    return out


def find_device(spec: str | int | None, kind: str, sd: Any = None) -> Device:
    """The input (``kind="input"``) or output device for ``spec``: None = the default, an index, or a name."""
    usable = _usable(list_devices(sd), kind)
    if spec is None or spec == "":
        return next((d for d in usable if _is_default(d, kind)), usable[0])
    text = str(spec)
    match = _matching(usable, text)
    if not match:
        names = ", ".join(f"{d.index}: {d.name}" for d in usable)
        raise AudioUnavailable(f"no {kind} device matches {text!r}; available: {names}")
    return match[0]


def _usable(devices: list[Device], kind: str) -> list[Device]:
    """The devices with channels of ``kind``; none is an error that says what to connect."""
    usable = [d for d in devices if (d.inputs if kind == "input" else d.outputs) > 0]
    if not usable:
        hint = "connect a microphone" if kind == "input" else "connect speakers or headphones"
        raise AudioUnavailable(f"no audio {kind} device found: {hint} (on Linux, check that PulseAudio or "
                               "PipeWire is running; PortAudio itself comes from: sudo apt-get install libportaudio2)")
    return usable


def _is_default(device: Device, kind: str) -> bool:
    return device.default_input if kind == "input" else device.default_output


def _matching(devices: list[Device], text: str) -> list[Device]:
    """The devices ``text`` names: by index when it is a number, else by the exact name, else by part of the
    name (any case)."""
    if text.isdigit():
        return [d for d in devices if d.index == int(text)]
    return [d for d in devices if d.name == text] or [d for d in devices if text.lower() in d.name.lower()]


def refresh(sd: Any = None) -> None:
    """Initialise PortAudio again so that its device list is today's (a microphone plugged in since, a sound
    server started since).  Every open PortAudio stream is closed by it: call only with none running."""
    sd = sd or load_sounddevice()
    sd._terminate()
    sd._initialize()


def input_listed(spec: str | int | None, sd: Any = None) -> bool:
    """PortAudio's current list has an input device for ``spec`` (None: any input device)."""
    try:
        find_device(spec, "input", sd)
    except AudioUnavailable:
        return False
    return True


# ------------------------------------------------------------------ names a person recognises
SERVER_DEFAULTS = ("default", "pulse", "pipewire", "sysdefault")
_HW = re.compile(r"\s*\((?:plug)?hw:(\d+),(\d+)\)\s*$")


@dataclass(frozen=True, slots=True)
class ServerSource:
    """A microphone as the sound server (PulseAudio or PipeWire's pulse server) describes it."""

    name: str
    description: str
    alsa_card: str = ""
    alsa_device: str = ""


def server_sources(timeout_s: float = 2.0) -> tuple[list[ServerSource], str]:
    """The sound server's sources and the name of its default one (empty without ``pactl`` or a server)."""
    if not sys.platform.startswith("linux") or shutil.which("pactl") is None:
        return [], ""
    try:
        listed = subprocess.run(["pactl", "-f", "json", "list", "sources"], capture_output=True, text=True,
                                timeout=timeout_s, check=True).stdout
        default = subprocess.run(["pactl", "get-default-source"], capture_output=True, text=True,
                                 timeout=timeout_s, check=True).stdout.strip()
        raw = json.loads(listed)
    except (OSError, subprocess.SubprocessError, ValueError):
        return [], ""
    out = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        found = item.get("properties")
        props: dict[str, Any] = found if isinstance(found, dict) else {}
        out.append(ServerSource(str(item.get("name", "")), str(item.get("description", "")),
                                str(props.get("alsa.card", "")), str(props.get("alsa.device", ""))))
    return out, default


def device_label(device: Device, sources: tuple[list[ServerSource], str] | None = None) -> str:
    """``device`` as a person knows it: the sound server's description, else the ALSA name without its
    "(hw:0,0)"; the server's default device says which microphone it is now."""
    listed, default = server_sources() if sources is None else sources
    if device.name in SERVER_DEFAULTS:
        return _default_label(listed, default)
    hw = _HW.search(device.name)
    if hw is None:
        return device.name
    return _alsa_label(device.name, hw, listed)


def _default_label(listed: list[ServerSource], default: str) -> str:
    """The sound server's default device, with the microphone it is now."""
    now = next((s.description for s in listed if s.name == default and s.description), "")
    return f"System default ({now})" if now else "System default"


def _alsa_label(name: str, hw: re.Match[str], listed: list[ServerSource]) -> str:
    """An ALSA device ``name`` ending in "(hw:card,device)": the server's description of that card and
    device (not its monitor), else the name without the "(hw:...)"."""
    card, dev = hw.groups()
    known = next((s.description for s in listed if s.alsa_card == card and s.alsa_device == dev
                  and not s.name.endswith(".monitor")), "")
    return known or name[:hw.start()].strip() or name
