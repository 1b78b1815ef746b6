"""ALSA's messages (an underrun, PortAudio's probing) are counted, never printed into the terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA is Linux's")

OPEN_UNKNOWN_PCM = """
import ctypes, ctypes.util, sys
from audio import alsa_messages
if sys.argv[1] == "routed":
    assert alsa_messages.route_away_from_terminal()
lib = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
pcm = ctypes.c_void_p()
assert lib.snd_pcm_open(ctypes.byref(pcm), b"no-such-device-here", 0, 0) < 0  # ALSA complains about it
print(sorted(alsa_messages.messages.items()))
"""


def run(mode: str) -> subprocess.CompletedProcess[str]:
    try:
        import ctypes.util

        if not ctypes.util.find_library("asound"):
            pytest.skip("no libasound")
    except OSError:
        pytest.skip("no libasound")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-c", OPEN_UNKNOWN_PCM, mode], capture_output=True, text=True,
                          env=env, timeout=60)


def test_alsa_messages_are_counted_not_printed():
    plain = run("plain")
    assert plain.returncode == 0, plain.stderr
    assert "ALSA lib" in plain.stderr and "no-such-device-here" in plain.stderr  # what a user saw
    routed = run("routed")
    assert routed.returncode == 0, routed.stderr
    assert "ALSA lib" not in routed.stderr
    assert "snd_pcm_open_noupdate" in routed.stdout  # counted by the function that raised it


def test_loading_portaudio_routes_them_first():
    from audio import alsa_messages
    from audio.devices import load_sounddevice

    load_sounddevice()
    assert alsa_messages._handler is not None
