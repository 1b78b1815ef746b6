"""A screen reader's view of the window from source: the app started with its accessibility bridge on, read
over AT-SPI in a private D-Bus session, and every control found by its name, with a description, focusable
where Tab reaches it (tests/e2e/screen_reader.py; the built app's twin is in packaging/test_built_app.py)."""

from __future__ import annotations

import os
import sys

from desktop import APP_NAME
from tests.e2e.screen_reader import ROOT, assert_every_control_is_named, read_tree, skip_without_reader


def test_every_control_is_found_by_name_over_atspi(xserver, speakers, tmp_path):
    skip_without_reader()
    env = {**xserver.env, **speakers.env, "DISPLAY": xserver.display, "PYTHONPATH": str(ROOT),
           "GEMINI_CODEGEN_CONFIG_DIR": str(tmp_path / "config"), "GEMINI_CODEGEN_DATA_DIR": str(tmp_path / "data")}
    tree = read_tree([sys.executable, "-m", "desktop", "--offline"], APP_NAME, env, tmp_path / "tree.json", ROOT)
    assert_every_control_is_named(tree)
    assert os.environ.get("QT_LINUX_ACCESSIBILITY_ALWAYS_ON") is None  # only the app's own process had it
