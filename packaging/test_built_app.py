"""The built app on a real X server, with a real (virtual) PulseAudio microphone, and read by a screen reader
over AT-SPI (a bundle that drops QtDBus starts fine but is silent to screen readers).

Run by packaging/smoke-test.sh after `make package`, with GEMINI_CODEGEN_APP pointing at the built executable
(``make test`` does not collect this file: it lives outside tests/).  The app runs from its folder in a clean
environment, with the system's X, ALSA and PulseAudio libraries, as on a user's desktop.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from desktop import APP_NAME
from tests.audio.conftest import running_pulse
from tests.e2e.conftest import FIXTURES, XServer, wait_for, x_server
from tests.e2e.screen_reader import assert_every_control_is_named, read_tree, skip_without_reader

APP = os.environ.get("GEMINI_CODEGEN_APP", "")
pytestmark = pytest.mark.skipif(not APP, reason="GEMINI_CODEGEN_APP names the built app (packaging/smoke-test.sh)")


def clean_env(**extra: str) -> dict[str, str]:
    home = tempfile.mkdtemp(prefix="gemini-codegen-smoke-")
    return {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra}


def main_window_shown(x: XServer) -> bool:
    """The real window is up: one visible "Gemini CodeGen" window, with the main window's minimum size (the
    launch frame it replaces has none)."""
    ids = x.run("xdotool", "search", "--onlyvisible", "--name", "Gemini CodeGen", check=False).split()
    return len(ids) == 1 and "minimum size: 700 by 620" in x.run("xprop", "-id", ids[0], "WM_NORMAL_HINTS",
                                                                  check=False)


def test_the_window_opens_on_x11_in_place_of_its_launch_frame():
    with x_server() as x:
        env = clean_env(DISPLAY=x.display, QT_DEBUG_PLUGINS="1")
        proc = subprocess.Popen([APP, "--offline", "--exit-after-ms", "6000"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=env["HOME"])
        try:
            wait_for(lambda: main_window_shown(x), 30, "the main window on the X server")
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    assert proc.returncode == 0, err[-2000:]
    assert out.startswith("window shown ")
    assert "libqxcb.so" in err and "Traceback" not in err


def test_the_microphone_records_speech_through_the_built_app():
    with running_pulse() as pulse:
        env = clean_env(PULSE_SERVER=pulse.env["PULSE_SERVER"], PULSE_RUNTIME_PATH=pulse.env["PULSE_RUNTIME_PATH"])
        check = subprocess.Popen([APP, "audio", "check", "--seconds", "2", "--json"], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=env["HOME"])
        assert check.stderr is not None
        opened = check.stderr.readline()  # "recording 2 s from ...": the microphone is open, speak now
        assert opened.startswith("recording"), opened
        player = pulse.play(Path(FIXTURES / "status.wav"))
        try:
            out, rest = check.communicate(timeout=60)
            err = opened + rest
        finally:
            player.kill()
            player.wait(5)
            if player.stderr:
                player.stderr.close()
    assert check.returncode == 0, err
    report = json.loads(out)
    assert report["speech_dbfs"] > -45, report


def test_a_screen_reader_finds_every_control_of_the_built_app(tmp_path):
    skip_without_reader()
    with x_server() as x:
        env = clean_env(DISPLAY=x.display, GEMINI_CODEGEN_CONFIG_DIR=str(tmp_path / "config"),
                        GEMINI_CODEGEN_DATA_DIR=str(tmp_path / "data"))
        tree = read_tree([APP, "--offline"], APP_NAME, env, tmp_path / "tree.json", Path(env["HOME"]))
    assert_every_control_is_named(tree)
