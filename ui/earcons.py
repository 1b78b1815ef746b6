"""Short start/stop sounds when listening starts and stops (``assets/earcons/*.wav``).

The sounds are decoded once; playing one hands the samples to PortAudio's own non-blocking player, so the
Qt thread never waits.  Without an output device the app stays silent (no error for a missing sound).
"""

from __future__ import annotations

import logging
import wave
from collections.abc import Callable

import numpy as np

from desktop.assets import asset

log = logging.getLogger(__name__)
Sink = Callable[[np.ndarray, int], None]


def load(name: str) -> tuple[np.ndarray, int]:
    with wave.open(str(asset("earcons", f"{name}.wav")), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy(), w.getframerate()


def sounddevice_sink(device: str | None = None) -> Sink | None:
    try:
        from audio.devices import load_sounddevice

        sd = load_sounddevice()
    except Exception:  # noqa: BLE001 - no audio system: silent earcons
        return None

    def play(samples: np.ndarray, rate: int) -> None:
        try:
            sd.play(samples, rate, device=device, blocking=False)
        except Exception as exc:  # noqa: BLE001 - a busy or missing device must not disturb the user
            log.debug("earcon not played: %s", type(exc).__name__)

    return play


class Earcons:
    def __init__(self, sink: Sink | None, enabled: bool = True):
        self.sink = sink
        self.enabled = enabled and sink is not None
        self.sounds = {name: load(name) for name in ("start", "stop")}
        self.played: list[str] = []

    def play(self, name: str) -> None:
        if not self.enabled or self.sink is None:
            return
        samples, rate = self.sounds[name]
        self.played.append(name)
        self.sink(samples, rate)
