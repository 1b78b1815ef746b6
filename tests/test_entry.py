"""`gemini-codegen`'s entry point tells a window launch from everything else with the shared flags alone."""

from __future__ import annotations

import pytest

from desktop.launch import window_launch


@pytest.mark.parametrize("argv", [[], ["--offline"], ["--offline", "--exit-after-ms", "300"], ["--data-dir", "run"],
                                  ["--model", "m", "--codegen-org-id", "7", "--log-level", "INFO"]])
def test_window_launches(argv):
    assert window_launch(argv) is not None


@pytest.mark.parametrize("argv", [["run", "--wav", "x.wav"], ["--offline", "selftest"], ["--version"], ["-h"],
                                  ["--help"], ["--codegen-org-id", "abc"], ["--log-level", "LOUD"], ["--exit-after-ms"],
                                  ["--no-such-flag"]])
def test_everything_else_goes_to_the_full_command_line(argv):
    assert window_launch(argv) is None


def test_the_window_flags_are_read_as_the_full_command_line_reads_them():
    args = window_launch(["--offline", "--exit-after-ms", "250", "--data-dir", "/tmp/x"])
    assert args is not None and args.offline and args.exit_after_ms == 250 and args.data_dir == "/tmp/x"
