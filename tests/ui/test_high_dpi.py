"""High DPI: at 200 % on a 1366x768, 1440x900 or 1920x1080 screen (and at 100-150 % on 1366x768) the window and
every dialog fit the screen's available area, and the window's content fits the window (the talk bar on screen;
below ui.screen_fit.COMPACT_HEIGHT in the compact layout; with a banner and a request read back, the part
between the header and the talk bar scrolls where it must, with the read-back's buttons in view).
Each case runs in a child process: Qt fixes the scale factor once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_child(tmp_path: Path, width: int, height: int, scale: float) -> dict:
    screens = {"screens": [{"name": "laptop", "x": 0, "y": 0, "width": width, "height": height,
                            "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}
    config = tmp_path / "screen.json"
    config.write_text(json.dumps(screens))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}", "QT_SCALE_FACTOR": str(scale),
           "PYTHONPATH": str(ROOT)}
    shots = {(1440, 900, 2): "200pct", (1366, 768, 2): "1366x768-200pct"}  # docs/screenshots (make screenshots)
    if (width, height, scale) in shots:
        env["HIGH_DPI_SHOTS"] = shots[width, height, scale]
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "ui" / "high_dpi_child.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def inside(r: list[int], area: list[int]) -> bool:
    x, y, w, h = r
    ax, ay, aw, ah = area
    return x >= ax and y >= ay and x + w <= ax + aw and y + h <= ay + ah


@pytest.mark.parametrize(("width", "height", "scale"), [(1440, 900, 2), (1920, 1080, 2), (1366, 768, 1),
                                                        (1366, 768, 1.5), (1366, 768, 2)])
def test_window_and_dialogs_fit_the_screen(tmp_path, width, height, scale):
    got = run_child(tmp_path, width, height, scale)
    area = got["available"]
    assert area[2] == round(width / scale) and area[3] == round(height / scale)  # device-independent pixels
    assert inside(got["window"], area), got
    assert got["minimum"][0] <= area[2] and got["minimum"][1] <= area[3]
    inner_w, inner_h = got["window_inner"]
    assert got["content_minimum"][0] <= inner_w and got["content_minimum"][1] <= inner_h, got  # nothing squeezed
    assert got["talk_bar_bottom"][1] < inner_h  # the talk bar is in the window
    assert got["compact"] == (area[3] < 560)  # 1366x768 at 200 % (683x384) is short: the compact layout
    card = got["with_card"]
    assert card["start_in_view"] and card["talk_bar_bottom"][1] < card["window_inner"][1], card
    assert card["scrolls"] == ((width, height, scale) == (1366, 768, 2)), card  # only the smallest case scrolls
    for name, dlg in got["dialogs"].items():
        assert inside(dlg["frame"], area), (name, dlg, area)
        w, h = dlg["geometry"][2:]
        assert dlg["content_minimum"][0] <= w and dlg["content_minimum"][1] <= h, (name, dlg)
