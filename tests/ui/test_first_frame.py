"""First paint comes first: the launch frame is on screen before anything of the engine, the stand-ins or the
audio stack is imported; the window takes its place, and the engine starts only behind the window's first
frame, reading the keyring there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop import secrets
from desktop.config import Settings
from desktop.events import EngineState
from tests.ui.conftest import make_window
from ui import palette
from ui.bridge import EngineBridge
from ui.first_frame import DEFAULT_SIZE, LaunchFrame
from ui.screen_fit import first_size  # the designed size, as far as the screen allows
from ui.state_indicator import StateIndicator

ROOT = Path(__file__).resolve().parents[2]
# Loaded only behind the first frame: the engine, the stand-ins, the audio stack and their libraries.
BEHIND = ("desktop.engine", "desktop.session", "desktop.live.emulator", "desktop.codegen", "desktop.config",
          "desktop.events", "audio", "numpy", "websockets", "httpx", "keyring", "sounddevice", "sqlite_utils",
          "ui.main_window", "ui.bridge", "ui.theme")


def run_python(code: str, tmp_path: Path, timeout: float = 60) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GEMINI_CODEGEN_CONFIG_DIR": str(tmp_path / "config"),
           "GEMINI_CODEGEN_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_launch_frame_is_painted_before_the_engine_the_stand_ins_or_the_audio_stack_is_imported(tmp_path):
    code = ("import sys, json\n"
            "from desktop.launch import window_launch\n"
            "assert window_launch(['--offline']) is not None\n"
            "from ui.first_frame import paint_launch_frame, launch_frame\n"
            "frame = paint_launch_frame()\n"
            "import PySide6.QtCore\n"
            "print(json.dumps({'shown': launch_frame() is frame, 'modules': sorted(sys.modules),\n"
            "                  'qt_namespace': 'Qt' in vars(PySide6.QtCore)}))\n")
    result = run_python(code, tmp_path)
    assert result["shown"]
    assert loaded(result["modules"], BEHIND) == []
    # painted by Qt alone: no Python-side painting, which would first create every enum of the Qt namespace
    assert not result["qt_namespace"]


def test_the_window_opens_before_the_engine_which_starts_behind_its_first_frame(tmp_path):
    code = ("import sys, json\n"
            "from PySide6.QtCore import QTimer\n"
            "from desktop.config import Settings\n"
            "from ui.app import open_window\n"
            "app, win = open_window(Settings(offline=True))\n"
            "result = {'before': sorted(sys.modules), 'label_before': win.indicator.label}\n"
            "def poll():\n"
            "    if win.bridge.engine is not None and win.state == 'ready' or deadline[0] <= 0:\n"
            "        result.update(engine=win.bridge.engine is not None, label_after=win.indicator.label,\n"
            "                      after=sorted(sys.modules))\n"
            "        app.quit(); return\n"
            "    deadline[0] -= 1; QTimer.singleShot(50, poll)\n"
            "deadline = [400]\n"
            "QTimer.singleShot(0, poll)\n"
            "app.exec()\n"
            "win.bridge.stop()\n"
            "print(json.dumps(result))\n")
    result = run_python(code, tmp_path)
    assert loaded(result["before"], ("desktop.engine", "desktop.session", "desktop.live.emulator", "audio.capture",
                                     "numpy", "sounddevice", "keyring")) == []
    assert result["label_before"] == "Starting…"
    assert result["engine"] and result["label_after"] == "Ready"
    assert "desktop.session" in result["after"] and "numpy" in result["after"]


def test_the_launch_frame_has_the_windows_size_title_and_colours(qtbot, qapp):
    frame = LaunchFrame(palette.LIGHT)
    qtbot.addWidget(frame)
    frame.show()
    qtbot.waitExposed(frame)
    image = frame.grab().toImage()
    assert frame.size() == first_size(frame, DEFAULT_SIZE) and frame.windowTitle() == "Gemini CodeGen"
    assert image.pixelColor(5, 5).name() == palette.LIGHT.window  # the margin around the panels
    assert image.pixelColor(frame.width() // 4, frame.height() // 2).name() == palette.LIGHT.surface  # a panel


def test_the_state_pill_says_starting_until_the_engine_reports(qtbot, qapp):
    pill = StateIndicator()
    qtbot.addWidget(pill)
    pill.show_starting("Loading the engine")
    assert pill.label == "Starting…" and pill.toolTip() == "Loading the engine"
    pill.set_state(EngineState.CONNECTING)
    assert pill.label == "Connecting…" and not pill.starting


def test_the_keyring_is_read_on_the_engine_thread_and_its_key_reaches_the_window(qtbot, themed_app, memory_keyring):
    memory_keyring.set_password(secrets.SERVICE, "gemini_api_key", "key-from-the-keyring")
    win = make_window(qtbot, Settings(offline=True), start=False)
    try:
        with qtbot.waitSignal(win.bridge.settings_loaded, timeout=15_000) as loaded_signal:
            win.bridge.start(Settings(offline=True), load_secrets=True)
        assert loaded_signal.args[0].gemini_api_key == "key-from-the-keyring"
        assert win.bridge.settings.gemini_api_key == "key-from-the-keyring"
        qtbot.waitUntil(lambda: win.bridge.engine is not None, timeout=15_000)
    finally:
        win.quit()


def test_without_a_key_the_bridge_starts_the_offline_demo(qtbot, themed_app, memory_keyring):
    bridge = EngineBridge(use_audio_devices=False)
    with qtbot.waitSignal(bridge.session_started, timeout=15_000) as started:
        bridge.start(Settings(), load_secrets=True)
    assert started.args == [True]  # offline
    bridge.stop()
