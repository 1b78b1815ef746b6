"""A private PulseAudio server with a null sink whose monitor is the default microphone.

Session-scoped: ``pulse`` starts ``pulseaudio`` as a child process with its own runtime dir (so it never
touches a user's sound server), loads a null sink ``vmic`` and makes ``vmic.monitor`` the default source,
then points this process at it (PULSE_SERVER) so PortAudio's ``pulse``/``default`` devices capture what
``paplay -d vmic`` plays.  With ``speaker=True`` a second null sink ``vspk`` is the default output, so the
app's replies and earcons never leak into its own microphone.  The server is stopped by its own pid at
the end.  Tests that need it skip with the reason when the server cannot start (no pulseaudio binary, or
it refuses to run here).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class PulseServer:
    runtime: Path
    env: dict[str, str]
    sink: str = "vmic"
    speaker: str = "vmic"

    def play(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", "-d", self.sink, str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10,
                              check=True).stdout


def stop_process(proc: subprocess.Popen) -> None:
    """End a server this test session started, by its own pid: politely, then for good."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_pulse(speaker: bool = False) -> tuple[subprocess.Popen, PulseServer] | str:
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install pulseaudio pulseaudio-utils)"
    runtime = Path(tempfile.mkdtemp(prefix="gcd-pulse-"))
    socket = runtime / "native"
    env = {**os.environ, "PULSE_RUNTIME_PATH": str(runtime), "XDG_RUNTIME_DIR": str(runtime),
           "PULSE_STATE_PATH": str(runtime / "state"), "HOME": str(runtime),
           "PULSE_SERVER": f"unix:{socket}"}
    env.pop("PULSE_SINK", None)
    env.pop("PULSE_SOURCE", None)
    proc = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=no",
         "--disallow-exit", "--disallow-module-loading=no", "--log-target=stderr",
         f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
         "--load=module-null-sink sink_name=vmic rate=16000 channels=1",
         *(["--load=module-null-sink sink_name=vspk rate=24000 channels=1"] if speaker else []),
         "--load=module-always-sink"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = PulseServer(runtime, env, speaker="vspk" if speaker else "vmic")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
            return "pulseaudio exited at start: " + (err[-1] if err else f"code {proc.returncode}")
        if socket.exists():
            try:
                server.pactl("set-default-source", "vmic.monitor")
                server.pactl("set-default-sink", server.speaker)
                return proc, server
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pass
        time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    return "pulseaudio did not come up within 10 s"


def _portaudio_sees_the_server() -> None:
    """PortAudio lists devices once, when it starts: if an earlier test (or an import at collection) started it
    before this server was set (or while another one was), it is started again to list this one's."""
    if "sounddevice" in sys.modules:
        from audio.devices import refresh

        refresh()


@contextlib.contextmanager
def running_pulse(speaker: bool = False) -> Iterator[PulseServer]:
    """The private server for as long as the block runs, with this process pointed at it."""
    started = start_pulse(speaker)
    if isinstance(started, str):
        pytest.skip(f"no PulseAudio virtual microphone: {started}")
    proc, server = started
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_RUNTIME_PATH")}
    os.environ["PULSE_SERVER"] = server.env["PULSE_SERVER"]
    os.environ["PULSE_RUNTIME_PATH"] = server.env["PULSE_RUNTIME_PATH"]
    _portaudio_sees_the_server()
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _portaudio_sees_the_server()
        stop_process(proc)
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(server.runtime, ignore_errors=True)


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseServer]:
    with running_pulse() as server:
        yield server
